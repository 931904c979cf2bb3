"""`{% load markdown %}{{ update.body|markdown }}`: text a person wrote, as safe HTML."""

from django import template

from itsm.markdown import render

register = template.Library()
register.filter("markdown", render)
