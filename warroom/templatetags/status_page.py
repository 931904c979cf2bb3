"""`{% load status_page %}{{ component.state|label }}`: the words for a status page code; and
`{% uptime_days component.uptime %}`, a component's 90 days of uptime bars."""

from functools import lru_cache

from django import template
from django.utils.dateformat import format as format_date
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from warroom.choices import ComponentStatus, Indicator, MaintenanceStatus, StatusIncidentStatus

register = template.Library()
LABELS = {
    **dict(Indicator.choices),
    **dict(MaintenanceStatus.choices),
    **dict(StatusIncidentStatus.choices),
    **dict(ComponentStatus.choices),
}


@register.filter
def label(code: str) -> str:
    return LABELS.get(code, code)


@register.simple_tag
def uptime_days(uptime):
    """One bar per day, titled with the day and its state: built here rather than in a
    template loop, which took a quarter of a second for a page of 50 components."""
    bars = "".join(_bar(day, state) for day, state in uptime.days)
    return mark_safe(bars)  # noqa: S308  (each bar is format_html's)


@lru_cache(maxsize=1024)
def _bar(day, state: str) -> str:
    title = f"{format_date(day, 'j M Y')}: {label(state)}"
    return format_html('<span class="day state-{}" title="{}"></span>', state, title)
