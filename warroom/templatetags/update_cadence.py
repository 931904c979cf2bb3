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
    soon: bool  # past the timer's warning point (the SLA policy's warning percent)


@register.simple_tag
def stakeholder_update(incident) -> UpdateDue | None:
    timer = next((t for t in incident.sla_timers.all() if t.kind == SlaKind.UPDATE), None)
    if timer is None or timer.state not in LIVE or timer.stopped_at is not None:
        return None
    now = timezone.now()
    overdue = timer.target_at <= now
    return UpdateDue(at=timer.target_at, overdue=overdue, soon=not overdue and timer.warn_at <= now)
