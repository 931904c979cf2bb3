"""`{% load postmortems %}{{ review.summary|markdown }}`: a section rendered and sanitised."""

from django import template

from itsm.markdown import render

register = template.Library()
register.filter("markdown", render)
