"""`{% load status_page %}{{ component.state|label }}`: the words for a status page code."""

from django import template

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
