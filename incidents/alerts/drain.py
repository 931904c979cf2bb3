"""Alert intake, the worker's half: apply the pending payloads (incidents/alerts/intake.py kept
them), each integration's in the order they arrived.

One drainer at a time per integration: a batch locks the integration's row (FOR NO KEY
UPDATE, which the web's INSERTs of payloads do not wait for) and skips an integration another
drainer holds; that one goes on until nothing of its integration is pending. So a group's
firing and its resolve are never applied out of order, with any number of workers. On SQLite
(the embedded default) IMMEDIATE transactions let one writer in at a time, to the same effect.

A batch is one transaction of at most BATCH_SIZE payloads (or BATCH_SECONDS of work, so the
locks it takes on incidents are short). Within it, a group's payloads that repeat the one
before them (every alert as it was) are applied once and counted as repeats: the further
the worker falls behind an alert storm, the more of the storm it folds, so the backlog
shrinks instead of growing. Payloads apply in savepoints: one that raises is kept `failed`
with the error (replayable once the cause is fixed) and the rest go on; a database that is
gone rolls the batch back, to be applied by the next drain.
"""

import logging
import time
from dataclasses import dataclass, field

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Min

from incidents.alerts import ingest, intake, receive
from incidents.choices import PayloadOutcome
from incidents.models import AlertGroup, Integration, ReceivedPayload
from itsm.batching import batched
from itsm.errors import ValidationFailed

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
BATCH_SECONDS = 1.0
# A drain's share of the worker before it hands over to the next (Q_CLUSTER's timeout is 60 s).
DRAIN_SECONDS = 20.0
READINGS_KEPT = 4096


def payloads_drain() -> int:
    """The worker's task (queued by intake, and every minute by a django-q2 schedule): apply
    every pending payload; how many this run applied. A run stops after DRAIN_SECONDS, well
    within the worker's task timeout, and queues the next one for what is left."""
    intake.drain_rearm_or_log()
    until = time.monotonic() + DRAIN_SECONDS
    applied = 0
    while (pending := _pending_integrations()) and time.monotonic() < until:
        drained = [integration_drain(integration_id, until=until) for integration_id in pending]
        applied += sum(count for count in drained if count)
        if all(count is None for count in drained):
            return applied  # every one is another drainer's, which goes on until it is done
    if pending:
        intake.drain_wake_or_log()
    return applied


def integration_drain(integration_id: int, *, until: float) -> int | None:
    """Apply the integration's pending payloads until none is left or the monotonic clock
    passes `until`; how many. None when another drainer holds the integration."""
    applied = 0
    readings: dict[tuple, receive.Reading] = {}  # a storm repeats bodies: each is read once
    while time.monotonic() < until:
        count = _batch_apply(integration_id, readings)
        if count is None:
            return applied or None
        applied += count
        # Empty, and still empty now the lock is released: a payload that committed while
        # this drainer held the lock, and whose drain skipped it, is not left behind.
        if count == 0 and not _pending(integration_id).exists():
            break
    return applied


def _pending(integration_id: int):
    return ReceivedPayload.objects.filter(
        integration_id=integration_id, outcome=PayloadOutcome.PENDING
    ).order_by("pk")


def _pending_integrations() -> list[int]:
    """The integrations with pending payloads, the one waiting longest first (a storm on one
    integration does not keep the others waiting for every run)."""
    pending = ReceivedPayload.objects.filter(outcome=PayloadOutcome.PENDING)
    by_age = pending.values("integration_id").annotate(oldest=Min("pk")).order_by("oldest")
    return [row["integration_id"] for row in by_age]


@transaction.atomic
def _batch_apply(integration_id: int, readings: dict) -> int | None:
    """One batch of the integration's pending payloads applied; how many. None when another
    drainer holds the integration. `readings`: the bodies read so far by this drain."""
    integration = (
        Integration.objects.select_for_update(of=("self",), no_key=True, skip_locked=True)
        .select_related("service__owner_team")
        .filter(pk=integration_id)
        .first()
    )
    if integration is None:
        return None
    payloads = list(_pending(integration_id)[:BATCH_SIZE])
    stop_at = time.monotonic() + BATCH_SECONDS
    applied = 0
    with batched():  # what each incident's change would repeat, once for the batch
        for run in _runs(integration, payloads, readings):
            _run_apply(integration, run)
            applied += len(run.payloads)
            if time.monotonic() > stop_at:
                break
    return applied


@dataclass
class Run:
    """Payloads of one group in a row that the first of them stands for: it is applied, the
    others are its repeats."""

    reading: receive.Reading
    payloads: list[ReceivedPayload] = field(default_factory=list)

    @property
    def seen(self) -> ingest.Seen:
        first, last = self.payloads[0].received_at, self.payloads[-1].received_at
        return ingest.Seen(first, last, repeats=len(self.payloads) - 1)


def _runs(integration: Integration, payloads: list[ReceivedPayload], readings: dict) -> list[Run]:
    """The batch as runs, each group's in order (groups in the order they first came); a
    payload that no longer reads (its integration's mapping changed) is kept invalid."""
    by_group: dict[str, list[Run]] = {}
    for payload in payloads:
        try:
            reading = _reading(integration, payload, readings)
        except ValidationFailed as error:
            _mark(
                [payload], PayloadOutcome.INVALID, error=receive.error_text(error, integration.kind)
            )
            continue
        except Exception as error:  # a bug in reading: this payload's, not the batch's
            logger.exception("alert payload %s could not be read", payload.pk)
            _mark([payload], PayloadOutcome.FAILED, error=f"{type(error).__name__}: {error}")
            continue
        runs = by_group.setdefault(reading.group_key, [])
        if not runs or runs[-1].reading.same_as != reading.same_as:
            runs.append(Run(reading))
        runs[-1].reading = reading  # the alerts' fields (labels, annotations) as last sent
        runs[-1].payloads.append(payload)
    return [run for runs in by_group.values() for run in runs]


def _reading(integration: Integration, payload: ReceivedPayload, readings: dict):
    key = (receive.body_digest(payload.body), payload.group_key)
    if key not in readings and len(readings) >= READINGS_KEPT:
        readings.clear()  # a long storm of distinct bodies: memory stays bounded
    if key not in readings:
        readings[key] = receive.read(integration, payload.body.encode(), payload.group_key)
    return readings[key]


def _run_apply(integration: Integration, run: Run) -> None:
    """Apply the run in a savepoint and record its payloads' outcome."""
    try:
        with transaction.atomic():
            group = _apply(integration, run)
    except (OperationalError, InterfaceError):
        raise  # the database is gone: the whole batch waits for the next drain
    except Exception as error:
        logger.exception("alert payloads %s could not be applied", [p.pk for p in run.payloads])
        _mark(run.payloads, PayloadOutcome.FAILED, error=f"{type(error).__name__}: {error}")
        return
    _mark(run.payloads, PayloadOutcome.ACCEPTED, group=group)


def _apply(integration: Integration, run: Run) -> AlertGroup | None:
    reading = run.reading
    if reading.notification is None:
        return ingest.alerts_acknowledge(integration=integration, key=reading.group_key)
    return ingest.alerts_ingest(
        integration=integration, notification=reading.notification, seen=run.seen
    )


def _mark(payloads: list[ReceivedPayload], outcome: str, *, error: str = "", group=None) -> None:
    ReceivedPayload.objects.filter(pk__in=[p.pk for p in payloads]).update(
        outcome=outcome, error=error, group=group
    )
