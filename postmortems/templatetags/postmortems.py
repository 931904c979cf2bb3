"""`{% load postmortems %}{{ review.summary|markdown }}`: a section rendered and sanitised."""

from django import template

from postmortems.markdown import render

register = template.Library()
register.filter("markdown", render)
