"""`{% stakeholder_update incident as due %}`: when the incident's next stakeholder update is
due (its SLA `update` timer, whose target every public update moves to the next cycle, even
after a missed one), or None when no cadence runs.
Reads `incident.sla_timers.all`, so a page that prefetched them pays no query."""

from dataclasses import dataclass
from datetime import datetime

from django import template
from django.utils import timezone

from incidents.choices import SlaKind, SlaTimerState

register = template.Library()
LIVE = (SlaTimerState.RUNNING, SlaTimerState.BREACHED)


@dataclass(frozen=True)
class UpdateDue:
    at: datetime
    overdue: bool


@register.simple_tag
def stakeholder_update(incident) -> UpdateDue | None:
    timer = next((t for t in incident.sla_timers.all() if t.kind == SlaKind.UPDATE), None)
    if timer is None or timer.state not in LIVE or timer.stopped_at is not None:
        return None
    return UpdateDue(at=timer.target_at, overdue=timer.target_at <= timezone.now())
