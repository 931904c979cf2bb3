"""Alert intake, the web's half: a sender's payload that passes the checks (key, rate limit,
signature, shape) is kept as a pending ReceivedPayload, one INSERT, and answered at once; the
worker applies it (incidents/alerts/drain.py). Under an alert storm the answer stays a few
milliseconds whatever the incidents cost, and what is kept is never lost: a payload whose
INSERT fails is answered 5xx, which senders retry.

The worker is woken by one queued task for any number of payloads: a Redis key says a drain
is queued and has not started yet. When Redis or the broker fails, the payload stays pending
and the drain that django-q2's schedule runs every minute applies it (late, not lost).
"""

import logging

from django.core.cache import cache
from django.db import transaction
from django_q.tasks import async_task

from incidents.alerts import ingest, receive
from incidents.choices import PayloadOutcome
from incidents.models import Integration, ReceivedPayload
from itsm.errors import ValidationFailed

logger = logging.getLogger(__name__)

DRAIN_TASK = "incidents.alerts.drain.payloads_drain"
WAKE_KEY = "alerts:drain-queued"
# A queued drain that never started (its worker died) stops holding back new wakes after this.
WAKE_SECONDS = 30


def payload_accept(integration: Integration, received: ingest.Received) -> ReceivedPayload:
    """Read the body as its integration does and keep it pending for the worker, which is
    woken once the row commits. ValidationFailed (the payload kept as invalid) when it does
    not read."""
    try:
        reading = receive.read(integration, received.body.encode())
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
        group_key=reading.group_key,
    )
    transaction.on_commit(drain_wake, robust=True)
    return payload


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
