"""The clock: acts on SLA warnings and breaches, escalation steps, notification retries and
outbound webhook deliveries and outbox items the moment they fall due (`manage.py runclock`).

django-q2 cannot do this on its own: its scheduler wakes about every 30 s and `async_task` has
no ETA. So every deadline lives in an indexed column (`SlaTimer.next_due_at`,
`EscalationStep.due_at`, `Notification.next_attempt_at`,
`WebhookDelivery.next_attempt_at`, `OutboxItem.due_at`) and this small loop fires what is due,
then sleeps until the next deadline, never longer than a second, so a deadline written
meanwhile is seen within a second. Finding what is due is one index range scan, whatever the
number of incidents.

Exactly once, with any number of clocks: each batch runs in a short transaction that locks its
rows with SKIP LOCKED (another clock takes the rows this one holds), the fire functions
re-check the row they are given, and `SlaDeadline` is unique per timer and kind. The incident
row is locked with the deadline's, in one statement that waits for nothing, because the
incident services lock the incident first and then its timers: a clock that locked a timer
and then waited for its incident could deadlock with them. On SQLite (the embedded default)
row locks do not exist, but its IMMEDIATE transactions let one writer in at a time.

Higher apps add their own deadlines without this package importing them: in their
`AppConfig.ready()` they call `register_tick_work(name, due=..., fire=..., next_due=...)`.
`due(now)` returns the queryset of rows due at `now`, locked like the ones above
(`select_for_update(skip_locked=True)`, an index range scan); `fire(row, now)` acts on one row
and must take it out of `due` (or raise: the row is then held back like a failed timer);
`next_due(after)` gives the earliest moment after `after` that a row falls due, or None. Every
tick fires them in batches like the timers and reports their count under `name`, and the sleep
between ticks takes them into account. The war room's automatic declaration runs this way.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import close_old_connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from incidents.choices import DeadlineKind
from incidents.models import EscalationStep, SlaTimer
from itsm.choices import NotificationStatus
from itsm.health import CLOCK_HEARTBEAT_KEY, CLOCK_HEARTBEAT_TIMEOUT
from itsm.models import Notification
from itsm.outbox import outbox_next_due, outbox_queue_due
from itsm.webhooks import webhook_next_due, webhooks_send_due

log = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 1.0
# Deadlines closer together than this are fired in one tick: under a stream of deadlines the
# clock ticks at most four times a second, which bounds its CPU, for at most 0.25 s of delay.
MIN_SLEEP_SECONDS = 0.25
# run_clock's batches: a burst commits (and notifies) in pieces this size, and a second loop
# takes the rows after the ones the first holds.
RUN_BATCH = 10


@dataclass(frozen=True)
class TickWork:
    """Deadlines a higher app fires on this clock (see the module's docstring)."""

    due: Callable[[datetime], QuerySet]
    fire: Callable[[Any, datetime], None]
    next_due: Callable[[datetime], datetime | None]


_registered: dict[str, TickWork] = {}


def register_tick_work(
    name: str,
    *,
    due: Callable[[datetime], QuerySet],
    fire: Callable[[Any, datetime], None],
    next_due: Callable[[datetime], datetime | None],
) -> None:
    """Add work to every tick. Registering a name again replaces it (ready() may run twice)."""
    _registered[name] = TickWork(due=due, fire=fire, next_due=next_due)


class StillDue(Exception):
    """A fire function returned without moving its row past the moment it was due."""


@dataclass
class Backoff:
    """Rows whose firing failed, held back for a pause that doubles with each failure (1 s up
    to 5 min): one broken row must neither flood the log every second nor cost every tick its
    work, while a passing failure (a lock timeout) is retried a second later."""

    first_seconds: float = 1.0
    most_seconds: float = 300.0
    _rows: dict[tuple[type, int], tuple[int, datetime]] = field(default_factory=dict)

    def held(self, model: type, now: datetime) -> list[int]:
        return [
            pk for (kind, pk), (_, until) in self._rows.items() if kind is model and until > now
        ]

    def failed(self, row, now: datetime) -> tuple[int, float]:
        """Note one more failure; return how many in a row and the pause before the next try."""
        key = (type(row), row.pk)
        failures = self._rows.get(key, (0, now))[0] + 1
        pause = min(self.most_seconds, self.first_seconds * 2 ** (failures - 1))
        self._rows[key] = (failures, now + timedelta(seconds=pause))
        return failures, pause

    def fired(self, row) -> None:
        self._rows.pop((type(row), row.pk), None)


def tick(*, now: datetime | None = None, batch: int = 200, backoff: Backoff | None = None) -> dict:
    """Fire everything due at `now` (default: the current time); return how many rows of each
    it fired. `backoff` carries failed rows' pauses from one tick to the next."""
    now = now or timezone.now()
    backoff = backoff or Backoff()
    fired = {
        "sla": _fire_due(_due_timers(now), _fire_timer, now=now, batch=batch, backoff=backoff),
        "escalation": _fire_due(_due_steps(now), _fire_step, now=now, batch=batch, backoff=backoff),
        "notifications": _retry_notifications(now),
        "webhooks": webhooks_send_due(now=now),
        "outbox": outbox_queue_due(now=now),
    }
    for name, work in _registered.items():
        fired[name] = _fire_due(work.due(now), work.fire, now=now, batch=batch, backoff=backoff)
    _beat(now)
    return fired


def run_clock(*, stop: threading.Event) -> None:
    """Tick, then sleep until the next deadline (a quarter second to a second), until `stop` is
    set. The first tick catches up whatever fell due while no clock ran."""
    log.info("Clock started")
    backoff = Backoff()
    while not stop.is_set():
        now = timezone.now()
        try:
            tick(now=now, batch=RUN_BATCH, backoff=backoff)
            pause = max(MIN_SLEEP_SECONDS, seconds_until_next_due(after=now))
        except Exception:
            log.exception("Clock tick failed; trying again in %.0f s", MAX_SLEEP_SECONDS)
            # Drop a broken connection, so that a database restart does not stop the clock.
            close_old_connections()
            pause = MAX_SLEEP_SECONDS
        stop.wait(pause)
    log.info("Clock stopped")


def seconds_until_next_due(*, after: datetime) -> float:
    """How long to sleep: until the earliest deadline later than `after`, capped at a second.
    Deadlines at or before `after` that are still pending are held by another clock or held
    back after failing; they are looked at again within the second."""
    upcoming = [
        _earliest(SlaTimer.objects.filter(next_due_at__gt=after), "next_due_at"),
        _earliest(_pending_steps().filter(due_at__gt=after), "due_at"),
        _earliest(
            Notification.objects.filter(
                status=NotificationStatus.PENDING, next_attempt_at__gt=after
            ),
            "next_attempt_at",
        ),
        webhook_next_due(after=after),
        outbox_next_due(after=after),
        *(work.next_due(after) for work in _registered.values()),
    ]
    nearest = min((moment for moment in upcoming if moment is not None), default=None)
    if nearest is None:
        return MAX_SLEEP_SECONDS
    return max(0.0, min(MAX_SLEEP_SECONDS, (nearest - timezone.now()).total_seconds()))


def _earliest(queryset, column: str) -> datetime | None:
    return queryset.order_by(column).values_list(column, flat=True).first()


# --- what is due --------------------------------------------------------------------------------


def _due_timers(now: datetime):
    return (
        SlaTimer.objects.filter(next_due_at__lte=now)
        .select_related("incident")
        .select_for_update(skip_locked=True, of=("self", "incident"))
        .order_by("next_due_at", "pk")
    )


def _pending_steps():
    return EscalationStep.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True)


def _due_steps(now: datetime):
    return (
        _pending_steps()
        .filter(due_at__lte=now)
        .select_related("incident", "level")
        .select_for_update(skip_locked=True, of=("self", "incident"))
        .order_by("due_at", "pk")
    )


def _fire_due(due, fire: Callable, *, now: datetime, batch: int, backoff: Backoff) -> int:
    """Fire `due` rows in batches, one short transaction each, until none is left to take.

    A row whose firing fails is rolled back alone (a savepoint) and held back by `backoff`, so
    one bad row cannot hold up the other deadlines.
    """
    fired = 0
    while True:
        with transaction.atomic():
            rows = list(due.exclude(pk__in=backoff.held(due.model, now))[:batch])
            fired += sum(_fire_one(fire, row, now, backoff) for row in rows)
        if len(rows) < batch:
            return fired


def _fire_one(fire: Callable, row, now: datetime, backoff: Backoff) -> bool:
    """Run `fire` on `row` in a savepoint; False when it failed."""
    try:
        with transaction.atomic():
            fire(row, now)
    except Exception:
        failures, pause = backoff.failed(row, now)
        name = f"{type(row).__name__} {row.pk}"
        if failures == 1:
            log.exception("Could not fire %s; trying again in %.0f s", name, pause)
        else:
            log.error("Could not fire %s, %d times now; next try in %.0f s", name, failures, pause)
        return False
    backoff.fired(row)
    return True


def _fire_timer(timer: SlaTimer, now: datetime) -> None:
    from incidents.sla import services as sla

    before = {DeadlineKind.WARNING: timer.warned_at, DeadlineKind.BREACH: timer.breached_at}
    sla.sla_fire_deadline(timer=timer, now=now)
    if timer.next_due_at is not None and timer.next_due_at <= now:
        raise StillDue(f"next due at {timer.next_due_at.isoformat()}")
    after = {DeadlineKind.WARNING: timer.warned_at, DeadlineKind.BREACH: timer.breached_at}
    for kind, due_at in after.items():
        if due_at is not None and before[kind] is None:
            log.info(
                "SLA %s: %s %s timer due %s, fired %.3f s after",
                kind,
                timer.incident.number,
                timer.kind,
                due_at.isoformat(),
                (now - due_at).total_seconds(),
            )


def _fire_step(step: EscalationStep, now: datetime) -> None:
    from incidents.oncall import escalation

    paged = escalation.escalation_fire_step(step=step, now=now)
    if step.fired_at is None and step.cancelled_at is None:
        raise StillDue("neither fired nor cancelled")
    if step.fired_at is None:
        return  # cancelled: the incident was acknowledged meanwhile
    log.info(
        "Escalation: %s %s round %s due %s, fired %.3f s after, paged %s",
        step.incident.number,
        step.level.name,
        step.round,
        step.due_at.isoformat(),
        (now - step.due_at).total_seconds(),
        ", ".join(paged) or "nobody",
    )


def _retry_notifications(now: datetime) -> int:
    from itsm.notifications import notifications_retry_due

    return notifications_retry_due(now=now)


def _beat(now: datetime) -> None:
    """Tell /healthz/ready a clock is alive. A cache outage must not stop deadlines firing."""
    try:
        cache.set(CLOCK_HEARTBEAT_KEY, now.isoformat(), CLOCK_HEARTBEAT_TIMEOUT)
    except Exception as exc:
        log.warning("Could not write the clock heartbeat: %s", exc)
