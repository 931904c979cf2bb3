"""The clock: finds SLA warnings and breaches, escalation steps, notification retries, outbound
webhook deliveries and outbox items the moment they fall due, and hands each to the django-q2
worker, which fires it. The clock runs inside the worker process (`manage.py qworker`, one
loop by default), so a deployment has two kinds of process, web and worker; more workers mean
more clocks and more capacity to fire.

django-q2 cannot find deadlines on its own: its scheduler wakes about every 30 s and
`async_task` has no ETA. So every deadline lives in an indexed column (`SlaTimer.next_due_at`,
`EscalationStep.due_at`, `Notification.next_attempt_at`, `WebhookDelivery.next_attempt_at`,
`OutboxItem.due_at`) and this small loop queues what is due, then sleeps until the next
deadline, never longer than a second, so a deadline written meanwhile is seen within a
second. Finding what is due is one index range scan, whatever the number of incidents.

Firing is a django-q2 task (`clock_fire`, listed in the admin's Django Q pages), queued in the
transaction that claims the row (`ClockClaim`): the ORM broker's queue is a table of the same
database, so a claim and its task commit together or not at all. The task locks the row with
SKIP LOCKED, checks it is still due, fires it and drops the claim, in one transaction. A
firing that fails is rolled back, recorded as a failed task, and tried again after a pause
that doubles (1 s up to 5 min, `ClockClaim.failures`); a task lost with its worker is queued
again when its claim runs out (CLOCK_CLAIM seconds), unless it still waits in the queue.

Exactly once, with any number of clocks and workers: claiming locks the due rows with SKIP
LOCKED (another clock takes the rows this one holds) and skips claimed ones, the task re-checks
its row under the lock, and `SlaDeadline` is unique per timer and kind. The incident row is
locked with the deadline's, in one statement that waits for nothing, because the incident
services lock the incident first and then its timers: a task that locked a timer and then
waited for its incident could deadlock with them. On SQLite (the embedded default) row locks
do not exist, but its IMMEDIATE transactions let one writer in at a time.

Higher apps add their own deadlines without this package importing them: in their
`AppConfig.ready()` they call `register_tick_work(name, due=..., fire=..., next_due=...)`.
`due(now)` returns the queryset of rows due at `now`, locked like the ones above
(`select_for_update(skip_locked=True)`, an index range scan); `fire(row, now)` acts on one row
and must take it out of `due` (or raise: the row is then held back like a failed timer);
`next_due(after)` gives the earliest moment after `after` that a row falls due, or None. Every
tick queues them like the timers and reports their count under `name`, and the sleep between
ticks takes them into account. The war room's automatic declaration runs this way.
"""

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from incidents.choices import DeadlineKind
from incidents.models import ClockClaim, EscalationStep, SlaTimer
from itsm.choices import NotificationStatus
from itsm.health import CLOCK_HEARTBEAT_KEY, CLOCK_HEARTBEAT_TIMEOUT
from itsm.models import Notification
from itsm.outbox import outbox_next_due, outbox_prune_done, outbox_queue_due
from itsm.task_queue import task_results_prune, urgent_queue, waiting_urgent_task_args
from itsm.webhooks import webhook_next_due, webhooks_send_due

log = logging.getLogger(__name__)

FIRE_TASK = "incidents.clock.clock_fire"
MAX_SLEEP_SECONDS = 1.0
# Deadlines closer together than this are queued in one tick: under a stream of deadlines the
# clock ticks at most four times a second, which bounds its CPU, for at most 0.25 s of delay.
MIN_SLEEP_SECONDS = 0.25
# run_clock's batches: a burst commits (and reaches the worker) in pieces this size, and a
# second clock takes the rows after the ones the first holds.
RUN_BATCH = 10
# How often each clock queues the deletion of finished work (prune_finished_work), and how long
# after running out a claim nobody renewed counts as stale.
PRUNE_TASK = "incidents.clock.prune_finished_work"
PRUNE_EVERY = STALE_CLAIM_AFTER = timedelta(hours=1)
# The pause after a failed firing: the first, doubled after each failure in a row, at most the
# last.
FIRST_PAUSE_SECONDS, MOST_PAUSE_SECONDS = 1.0, 300.0
MOST_DOUBLINGS = 16  # past the longest pause already; 2 ** failures would overflow a float


@dataclass(frozen=True)
class TickWork:
    """Deadlines fired on this clock (see the module's docstring)."""

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


def tick(*, now: datetime | None = None, batch: int = 200) -> dict:
    """Queue everything due at `now` (default: the current time) for the worker; return how
    many rows of each work it queued."""
    now = now or timezone.now()
    queued = {name: _queue_due(name, work, now=now, batch=batch) for name, work in _works().items()}
    queued |= {
        "notifications": _retry_notifications(now),
        "webhooks": webhooks_send_due(now=now),
        "outbox": outbox_queue_due(now=now),
    }
    _beat(now)
    return queued


def run_clock(*, stop: threading.Event) -> None:
    """Tick, then sleep until the next deadline (at most a second; ticks start at least
    MIN_SLEEP_SECONDS apart), until `stop` is set. The first tick catches up whatever fell due
    while no clock ran."""
    log.info("Clock started")
    prune_at = timezone.now()
    while not stop.is_set():
        now = timezone.now()
        try:
            tick(now=now, batch=RUN_BATCH)
            if now >= prune_at:  # not pushed back unless queued: a failure is tried next tick
                async_task(PRUNE_TASK, task_name="clock: prune finished work")
                prune_at = now + PRUNE_EVERY
            since_tick = (timezone.now() - now).total_seconds()
            pause = max(MIN_SLEEP_SECONDS - since_tick, seconds_until_next_due(after=now))
        except Exception:
            log.exception("Clock tick failed; trying again in %.0f s", MAX_SLEEP_SECONDS)
            # Drop a broken connection, so that a database restart does not stop the clock.
            close_old_connections()
            pause = MAX_SLEEP_SECONDS
        stop.wait(pause)
    log.info("Clock stopped")


def prune_finished_work() -> str:
    """The worker's hourly task (each clock queues one; deleting twice is harmless): delete
    what finished work leaves behind once TASK_RESULTS_DAYS old (successful task results, done
    outbox items) and claims no clock renewed for an hour, whose rows are no longer due."""
    now = timezone.now()
    results, items = task_results_prune(now=now), outbox_prune_done(now=now)
    claims, _ = ClockClaim.objects.filter(until__lt=now - STALE_CLAIM_AFTER).delete()
    return f"deleted {results} task results, {items} outbox items, {claims} stale claims"


def seconds_until_next_due(*, after: datetime) -> float:
    """How long to sleep: until the earliest deadline later than `after`, capped at a second.
    Deadlines at or before `after` that are still pending are claimed by a task or held back
    after failing; the claim's end is one of the moments looked at."""
    upcoming = [
        *(work.next_due(after) for work in _works().values()),
        _earliest(ClockClaim.objects.filter(until__gt=after), "until"),
        _earliest(
            Notification.objects.filter(
                status=NotificationStatus.PENDING, next_attempt_at__gt=after
            ),
            "next_attempt_at",
        ),
        webhook_next_due(after=after),
        outbox_next_due(after=after),
    ]
    nearest = min((moment for moment in upcoming if moment is not None), default=None)
    if nearest is None:
        return MAX_SLEEP_SECONDS
    return max(0.0, min(MAX_SLEEP_SECONDS, (nearest - timezone.now()).total_seconds()))


def _earliest(queryset, column: str) -> datetime | None:
    return queryset.order_by(column).values_list(column, flat=True).first()


# --- queueing what is due -----------------------------------------------------------------------


def _queue_due(name: str, work: TickWork, *, now: datetime, batch: int) -> int:
    """Claim and queue `work`'s unclaimed due rows in batches, one short transaction each,
    until none is left to take; return how many were queued."""
    queued = 0
    tasks_waiting = functools.cache(lambda: _tasks_waiting(name))  # read at most once a call
    while True:
        with transaction.atomic():
            claimed = ClockClaim.objects.filter(work=name, until__gt=now).values("row")
            rows = [row.pk for row in work.due(now).exclude(pk__in=claimed)[:batch]]
            waiting = _still_in_queue(name, rows, tasks_waiting)
            _claim(name, rows, until=now + timedelta(seconds=settings.CLOCK_CLAIM))
            queued += sum(_queue_firing(name, pk, now) for pk in rows if pk not in waiting)
        if len(rows) < batch:
            return queued


def _still_in_queue(name: str, rows: list[int], tasks_waiting: Callable[[], set[int]]) -> set[int]:
    """Of `rows`, those whose claim ran out while their task still waits in the worker's queue
    (a backlog): their claim is renewed, their task not queued twice. A task a worker took and
    did not finish is queued again (its worker may have died; django-q2 would hand it out
    again only after Q_CLUSTER's `retry`): should both run, the second finds nothing due.
    Reading the queue costs a scan of its urgent part, so only when a claim ran out."""
    expired = ClockClaim.objects.filter(work=name, row__in=rows)
    if not rows or not expired.exists():
        return set()
    return tasks_waiting() & set(rows)


def _tasks_waiting(name: str) -> set[int]:
    """The rows of `name` whose firing task waits in the queue, not yet taken by a worker."""
    return {args[1] for args in waiting_urgent_task_args(FIRE_TASK) if args[0] == name}


def _claim(name: str, rows: list[int], *, until: datetime) -> None:
    ClockClaim.objects.bulk_create(
        [ClockClaim(work=name, row=pk, until=until) for pk in rows],
        update_conflicts=True,
        unique_fields=["work", "row"],
        update_fields=["until"],
    )


def _queue_firing(name: str, pk: int, now: datetime) -> bool:
    """Queue the task that fires row `pk`, in the claim's transaction; False when that failed
    (and the row is held back like a failed firing). In the tests' synchronous worker the task
    runs here, and its failure is this one."""
    try:
        with transaction.atomic():
            async_task(
                FIRE_TASK, name, pk, now, task_name=f"clock {name} {pk}", cluster=urgent_queue()
            )
    except Exception as error:
        _held_back(name, pk, now, error)
        return False
    return True


# --- firing (the worker's task) -----------------------------------------------------------------


def clock_fire(name: str, pk: int, queued_at: datetime) -> str:
    """Fire row `pk` of work `name` if it is still due, and drop its claim; raise when the
    firing failed (django-q2 lists it among failed tasks), after holding the row back."""
    now = max(timezone.now(), queued_at)
    work = _works()[name]
    try:
        with transaction.atomic():
            row = work.due(now).filter(pk=pk).first()
            if row is not None:
                work.fire(row, now)
            ClockClaim.objects.filter(work=name, row=pk).delete()
    except BaseException as error:  # django-q2's task timeout is a SystemExit
        _held_back(name, pk, now, error)
        raise
    return "fired" if row is not None else "not due, or held by another"


def _held_back(name: str, pk: int, now: datetime, error: BaseException) -> None:
    """Renew the row's claim for a pause that doubles with each failure in a row, and log."""
    with transaction.atomic():
        claim, _ = ClockClaim.objects.select_for_update().get_or_create(
            work=name, row=pk, defaults={"until": now}
        )
        claim.failures += 1
        doublings = min(claim.failures - 1, MOST_DOUBLINGS)
        pause = min(MOST_PAUSE_SECONDS, FIRST_PAUSE_SECONDS * 2**doublings)
        claim.until = now + timedelta(seconds=pause)
        claim.save(update_fields=["failures", "until"])
    what, failures = f"{name} {pk}", claim.failures
    if failures == 1:
        log.error("Could not fire %s; trying again in %.0f s", what, pause, exc_info=error)
    else:
        log.error("Could not fire %s, %d times now; next try in %.0f s", what, failures, pause)


def _works() -> dict[str, TickWork]:
    return {"sla": SLA_WORK, "escalation": ESCALATION_WORK, **_registered}


# --- SLA timers and escalation steps ------------------------------------------------------------


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


SLA_WORK = TickWork(
    due=_due_timers,
    fire=_fire_timer,
    next_due=lambda after: _earliest(SlaTimer.objects.filter(next_due_at__gt=after), "next_due_at"),
)
ESCALATION_WORK = TickWork(
    due=_due_steps,
    fire=_fire_step,
    next_due=lambda after: _earliest(_pending_steps().filter(due_at__gt=after), "due_at"),
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
