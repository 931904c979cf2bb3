"""`{% load postmortems %}`: `{{ review.summary|markdown }}`, a section rendered and sanitised;
`{% my_action_items %}`, the dashboard's card of the signed-in person's action items."""

from django import template
from django.utils import timezone

from itsm.markdown import render
from postmortems.models.action_items import CHANGE_ACTION_ITEM
from postmortems.selectors import my_pending_action_items

register = template.Library()
register.filter("markdown", render)
DASHBOARD_ITEMS = 10


@register.inclusion_tag("postmortems/_my_action_items.html", takes_context=True)
def my_action_items(context) -> dict:
    """The person's open and in-progress items, overdue (the earliest due) first: one query,
    none for someone who cannot own any (a stakeholder)."""
    user = context["request"].user
    if not user.has_perm(CHANGE_ACTION_ITEM):
        return {"shown": False}
    today = timezone.localdate()
    items = my_pending_action_items(user)[:DASHBOARD_ITEMS]
    rows = [{"item": item, "overdue": item.is_overdue(today)} for item in items]
    return {"shown": True, "rows": rows}
