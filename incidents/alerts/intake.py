"""Alert intake, the web's half: a sender's payload that passes the checks (key, rate limit,
signature, shape) is kept as a pending ReceivedPayload, one INSERT, and answered at once; the
worker applies it (incidents/alerts/drain.py). Under an alert storm the answer stays a few
milliseconds whatever the incidents cost, and what is kept is never lost: a payload whose
INSERT fails is answered 5xx, which senders retry.

The worker is woken by one queued task for any number of payloads: a Redis key says a drain
is queued and has not started yet. When Redis or the broker fails, the payload stays pending
and the drain that django-q2's schedule runs every minute applies it (late, not lost).
"""

import contextlib
import logging
import time

from django.core.cache import cache
from django.db import transaction
from django_q.tasks import async_task

from incidents.alerts import ingest, receive
from incidents.choices import IntegrationKind, PayloadOutcome
from incidents.models import INTEGRATION_KEY_LENGTH, Integration, ReceivedPayload
from itsm.errors import ValidationFailed

logger = logging.getLogger(__name__)

DRAIN_TASK = "incidents.alerts.drain.payloads_drain"
WAKE_KEY = "alerts:drain-queued"
# A queued drain that never started (its worker died) stops holding back new wakes after this.
WAKE_SECONDS = 30
# Every payload names its integration by key, and integrations change rarely: each process
# keeps the ones it looked up this long. A change saved in a process clears its copies at once
# (incidents/receivers.py); the other processes see it within these seconds (a deactivated or
# regenerated key answers 404 from then on). Unknown keys are not kept: no sender can fill it.
KEY_CACHE_SECONDS = 5.0
_by_key: dict[tuple[str, str], tuple[float, Integration]] = {}
# The group keys of the last bodies each process read, by integration and the body's hash.
READ_LATELY_SIZE = 4096
_read_lately: dict[tuple[int, tuple, bytes], str] = {}


def integration_for_key(key: str, kind: str) -> Integration | None:
    """The active integration of this kind and key, its service and team loaded."""
    if not key or len(key) != INTEGRATION_KEY_LENGTH or not key.isalnum():
        return None
    now = time.monotonic()
    kept = _by_key.get((key, kind))
    if kept is not None and kept[0] > now:
        return kept[1]
    integration = (
        Integration.objects.select_related("service__owner_team")
        .filter(key=key, kind=kind, active=True)
        .first()
    )
    if integration is not None:
        _by_key[(key, kind)] = (now + KEY_CACHE_SECONDS, integration)
    return integration


def integrations_forget() -> None:
    """Drop this process's copies and readings (an integration was saved or deleted: its
    mapping may have changed)."""
    _by_key.clear()
    _read_lately.clear()


def payload_accept(
    integration: Integration, received: ingest.Received, group_key: str = ""
) -> ReceivedPayload:
    """Read the body as its integration does and keep it pending for the worker, which is
    woken once the row commits. ValidationFailed (the payload kept as invalid) when it does
    not read. `group_key`: a replayed PagerDuty trigger's key, when it brought none."""
    try:
        group_key = _group_key(integration, received.body, group_key)
    except ValidationFailed as error:
        ingest.payload_record(
            integration=integration,
            received=received,
            outcome=PayloadOutcome.INVALID,
            error=receive.error_text(error, integration.kind),
        )
        raise
    payload = ingest.payload_record(
        integration=integration,
        received=received,
        outcome=PayloadOutcome.PENDING,
        group_key=group_key,
    )
    transaction.on_commit(drain_wake, robust=True)
    return payload


def _group_key(integration: Integration, body: str, given: str) -> str:
    """The group the body names once it is read (ValidationFailed when it does not read), or
    what this process found when it read the same body lately: a storm is mostly repeats, and
    validating a body costs more than keeping it. PagerDuty's are read each time (a trigger
    without a dedup_key gets a new one)."""
    if integration.kind == IntegrationKind.PAGERDUTY:
        return receive.read(integration, body.encode(), given).group_key
    # The mapping is part of the key: another process's change reaches this one with the
    # integration itself (KEY_CACHE_SECONDS), and a body is then read again.
    mapping = (integration.title_path, integration.dedup_key_path, integration.severity_path)
    key = (integration.pk, mapping, receive.body_digest(body))
    group_key = _read_lately.get(key)
    if group_key is None:
        group_key = receive.read(integration, body.encode()).group_key
        if len(_read_lately) >= READ_LATELY_SIZE:
            _forget_oldest_reading()
        _read_lately[key] = group_key
    return group_key


def _forget_oldest_reading() -> None:
    """Drop the oldest remembered reading. Requests run in threads: another may have dropped
    it, or cleared them all, meanwhile."""
    with contextlib.suppress(StopIteration, RuntimeError):
        _read_lately.pop(next(iter(_read_lately)), None)


def drain_wake() -> None:
    """Queue the drain, unless one is queued that has not started yet (it will see this
    payload: the drain rearms before it reads what is pending)."""
    if not cache.add(WAKE_KEY, 1, timeout=WAKE_SECONDS):
        return
    try:
        async_task(DRAIN_TASK)
    except Exception:
        cache.delete(WAKE_KEY)
        raise


def drain_rearm() -> None:
    """The drain has started: the next payload queues another."""
    cache.delete(WAKE_KEY)


def drain_rearm_or_log() -> None:
    """`drain_rearm`, for a drain that must go on with Redis down (the scheduled one)."""
    try:
        drain_rearm()
    except Exception:
        logger.exception("the alert drain could not rearm its wake; it drains all the same")


def drain_wake_or_log() -> None:
    """`drain_wake`, for a drain handing over: failing, the schedule drains within a minute."""
    try:
        drain_wake()
    except Exception:
        logger.exception("the alert drain could not queue the next one; the schedule will")
