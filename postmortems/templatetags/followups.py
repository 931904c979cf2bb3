"""`{% may_tick followup as allowed %}`: whether the reader may tick a follow-up."""

from django import template

from postmortems import followups

register = template.Library()


@register.simple_tag(takes_context=True)
def may_tick(context, followup) -> bool:
    return followups.may_tick(context["request"].user, followup)
