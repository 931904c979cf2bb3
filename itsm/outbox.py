"""The outbox: steps that must follow a committed write, carried out by the worker until done.

A write that must be followed by something it cannot do itself in its transaction (queue a job,
follow the incident from the war room, draft a status page update) calls `enqueue(kind,
payload)` inside that transaction. It writes an `OutboxItem`, so the step commits or rolls back
with the write and is never lost, and wakes the worker once the transaction commits
(`itsm.tasks.run_outbox_item`). The worker runs the handler registered for `kind` (the apps
call `register(kind, handler)` from their `AppConfig.ready()`; this package knows none of
them) in the transaction that marks the item done, so a handler's own writes commit with it.

A handler that raises is rolled back alone and tried again after a back-off (BACKOFF), then
marked failed after MAX_ATTEMPTS and logged; the admin lists failed items and retries them.
A wake-up the broker refused, or lost with its worker, is late, not lost: the clock calls
`outbox_queue_due` every tick and queues each pending item whose lease or back-off has run out.

Each attempt locks its item (SKIP LOCKED) and is fenced by `attempts`, so two workers or a
duplicate task never run one attempt twice. A handler must still be idempotent: its work may be
done and its item's commit lost (a crash between the two), and the next attempt runs it again.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from itsm.choices import OutboxStatus
from itsm.models import OutboxItem
from itsm.redaction import scrub
from itsm.task_queue import not_queued

logger = logging.getLogger(__name__)

RUN_TASK = "itsm.tasks.run_outbox_item"
# How long a queued or running attempt owns its item before the clock queues it again.
LEASE = timedelta(seconds=30)
# The pause after each failed attempt; the last failure marks the item failed.
BACKOFF = [
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
]
MAX_ATTEMPTS = len(BACKOFF) + 1
SWEEP_BATCH = 200
ERROR_EXCERPT = 500
PENDING = OutboxStatus.PENDING

Handler = Callable[[dict], object]
_handlers: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    """Carry out items of `kind` with `handler(payload)`. Registering again replaces it
    (ready() may run twice)."""
    _handlers[kind] = handler


def enqueue(kind: str, payload: dict) -> OutboxItem:
    """Record a step for the worker in the caller's transaction; the worker is woken once it
    commits. `payload` must be JSON-ready."""
    if kind not in _handlers:
        raise LookupError(f"No outbox handler is registered for {kind!r}.")
    item = OutboxItem.objects.create(kind=kind, payload=payload, due_at=timezone.now() + LEASE)
    _queue([item])
    return item


def _queue(items) -> None:
    for item in items:
        transaction.on_commit(_waker(item.pk, item.attempts), robust=True)


def _waker(pk: int, attempt: int):
    """A named function, not a partial: a robust on_commit callback that fails is logged by
    its `__qualname__`, which a partial lacks."""

    def wake_outbox_worker():
        try:
            async_task(RUN_TASK, pk, attempt)
        except Exception:
            # The clock queues it on its next tick rather than at the end of the lease.
            logger.warning("Could not queue outbox item %s; the clock will", pk, exc_info=True)
            OutboxItem.objects.filter(pk=pk, status=PENDING, attempts=attempt).update(
                due_at=timezone.now()
            )

    return wake_outbox_worker


def outbox_queue_due(*, now, batch: int = SWEEP_BATCH) -> int:
    """Queue pending items whose lease or back-off has run out (the clock's, every tick),
    except those whose task still waits in the worker's queue (looked at again a lease later);
    return how many were queued. Items being run elsewhere at this moment are skipped, not
    waited for."""
    with transaction.atomic():
        due = list(
            OutboxItem.objects.select_for_update(skip_locked=True)
            .filter(status=PENDING, due_at__lte=now)
            .order_by("due_at")
            .only("pk", "attempts")[:batch]
        )
        lost = not_queued(RUN_TASK, due)
        OutboxItem.objects.filter(pk__in=[item.pk for item in due]).update(due_at=now + LEASE)
        _queue(lost)
    return len(lost)


def outbox_next_due(*, after):
    """The earliest moment after `after` a pending item falls due (the clock's sleep)."""
    return (
        OutboxItem.objects.filter(status=PENDING, due_at__gt=after)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )


def outbox_item_run(*, pk: int, attempt: int) -> str | None:
    """Make attempt number `attempt + 1` at item `pk`, unless another worker holds it or that
    attempt was made. Returns the item's status after it, or None when skipped."""
    with transaction.atomic():
        item = (
            OutboxItem.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, status=PENDING, attempts=attempt)
            .first()
        )
        if item is None:
            return None
        error = _run_handler(item)
        _record(item, error, now=timezone.now())
        return item.status


def _run_handler(item: OutboxItem) -> Exception | None:
    """Run the item's handler in a savepoint: what a failing one wrote is rolled back alone."""
    try:
        with transaction.atomic():
            handler = _handlers.get(item.kind)
            if handler is None:
                raise LookupError(f"No outbox handler is registered for {item.kind!r}.")
            handler(item.payload)
    except Exception as error:
        return error
    return None


def _record(item: OutboxItem, error: Exception | None, *, now) -> None:
    item.attempts += 1
    if error is None:
        item.status, item.done_at, item.last_error = OutboxStatus.DONE, now, ""
    else:
        item.last_error = scrub(f"{type(error).__name__}: {error}")[:ERROR_EXCERPT]
        _fail(item, error, now=now)
    item.save(update_fields=["attempts", "status", "done_at", "last_error", "due_at"])


def _fail(item: OutboxItem, error: Exception, *, now) -> None:
    name = f"Outbox item {item.pk} ({item.kind})"
    if item.attempts >= MAX_ATTEMPTS:
        item.status = OutboxStatus.FAILED
        logger.error("%s failed %d times; given up", name, item.attempts, exc_info=error)
        return
    pause = BACKOFF[item.attempts - 1]
    item.due_at = now + pause
    logger.warning(
        "%s failed (attempt %d); trying again in %s", name, item.attempts, pause, exc_info=error
    )


@transaction.atomic
def outbox_items_retry_now(*, items, now) -> int:
    """Run these items again at once (the admin's "Retry now"): a pending one skips the rest of
    its back-off, a failed one gets one more attempt."""
    rows = list(
        OutboxItem.objects.select_for_update()
        .filter(pk__in=[item.pk for item in items], status__in=[PENDING, OutboxStatus.FAILED])
        .only("pk", "attempts")
    )
    OutboxItem.objects.filter(pk__in=[row.pk for row in rows]).update(
        status=PENDING, due_at=now + LEASE
    )
    _queue(rows)
    return len(rows)


def outbox_prune_done(*, now) -> int:
    """Delete the items done more than TASK_RESULTS_DAYS before `now` (the clock's, hourly);
    return how many. Failed and pending items stay."""
    kept_from = now - timedelta(days=settings.TASK_RESULTS_DAYS)
    deleted, _ = OutboxItem.objects.filter(status=OutboxStatus.DONE, done_at__lt=kept_from).delete()
    return deleted
