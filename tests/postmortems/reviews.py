"""Helpers of the review tests: a fixed clock and incidents resolved at known moments."""

from datetime import UTC, datetime, timedelta

from incidents.choices import ChangeSource
from tests.factories import make_incident

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
CLI = ChangeSource.CLI


def at(**delta) -> datetime:
    return T0 + timedelta(**delta)


def resolved_incident(traveller, drive, actor, *, priority: str, resolve_at: datetime, **kwargs):
    """An incident of `priority` opened at T0 by `actor` and resolved at `resolve_at`."""
    incident = make_incident(actor=actor, priority=priority, assignee=actor, **kwargs)
    drive(incident, actor, "acknowledge", "start")
    traveller.move_to(resolve_at)
    return drive(incident, actor, "resolve")
