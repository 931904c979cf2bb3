"""Maintenances start and end on the clock (incidents.clock's `register_tick_work`;
docs/status-page.md, "Maintenances on the clock").

A scheduled maintenance with `auto_transition` moves to in progress when its `scheduled_for`
arrives, and to completed at its `scheduled_until` (one whose whole window passed while no
clock ran goes straight to completed), each with the system's public note, which subscribers
are told of as of any maintenance update. Rows are locked with SKIP LOCKED and the services
check again under the lock, so any number of ticks and clocks move a maintenance once."""

from datetime import datetime

from django.db.models import QuerySet

from warroom.choices import MaintenanceStatus
from warroom.models import Maintenance
from warroom.status import services

START_WORK = "maintenance_starts"
END_WORK = "maintenance_ends"


def _to_start() -> QuerySet[Maintenance]:
    return Maintenance.objects.filter(auto_transition=True, status=MaintenanceStatus.SCHEDULED)


def _to_end() -> QuerySet[Maintenance]:
    return Maintenance.objects.filter(auto_transition=True, status__in=services.UNFINISHED)


def _locked(queryset, column: str) -> QuerySet[Maintenance]:
    return queryset.select_for_update(skip_locked=True).order_by(column, "pk")


def due_starts(now: datetime) -> QuerySet[Maintenance]:
    """Scheduled maintenances whose window is open now, locked for this clock."""
    window_open = _to_start().filter(scheduled_for__lte=now, scheduled_until__gt=now)
    return _locked(window_open, "scheduled_for")


def fire_start(maintenance: Maintenance, now: datetime) -> None:
    services.maintenance_start_on_schedule(maintenance=maintenance, now=now)


def next_start(after: datetime) -> datetime | None:
    return _earliest(_to_start().filter(scheduled_for__gt=after), "scheduled_for")


def due_ends(now: datetime) -> QuerySet[Maintenance]:
    """Unfinished maintenances whose window has closed, locked for this clock."""
    return _locked(_to_end().filter(scheduled_until__lte=now), "scheduled_until")


def fire_end(maintenance: Maintenance, now: datetime) -> None:
    services.maintenance_complete_on_schedule(maintenance=maintenance, now=now)


def next_end(after: datetime) -> datetime | None:
    return _earliest(_to_end().filter(scheduled_until__gt=after), "scheduled_until")


def _earliest(queryset, column: str) -> datetime | None:
    return queryset.order_by(column).values_list(column, flat=True).first()
