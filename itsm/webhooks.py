"""Outbound webhooks, signed per the Standard Webhooks spec (docs/webhooks.md).

The apps call `emit(event_type, payload)` inside the transaction of the change it reports. It
writes one `WebhookDelivery` per active subscription to that event type: an outbox, so that a
change rolled back sends nothing and a committed one is never lost. Each row is queued to the
worker (`itsm.tasks.send_webhook`) once the transaction commits; the clock calls
`webhooks_send_due` every tick to queue the rows whose moment has come (a retry after its
back-off, or a row whose task was lost with its worker or never queued).

An attempt is claimed, sent and recorded as a notification's is: the claim counts it and
starts its lease in a transaction of its own (SKIP LOCKED, fenced by the row's `attempts`, so
two workers or a duplicate task never both send it); the request holds no lock and no
transaction, so a commit that fails after a 2xx cannot undo the record of a request that was
made; the outcome is recorded in another. A worker that dies mid-request leaves the row claimed,
and the clock queues it again when the lease ends; a row whose task still waits in the queue
is not queued again, however long the backlog. Every
attempt carries the row's `message_id` as `webhook-id`; the body is the same bytes each time,
and the timestamp and signature are the attempt's. 2xx is success; 410 Gone disables the
subscription and stops its other pending deliveries; anything else (another status, a
redirect, which is never followed, a timeout, a refused address) is retried after each delay
of `WEBHOOKS_RETRY_SCHEDULE` in turn, then given up.
"""

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task
from standardwebhooks.webhooks import Webhook

from itsm.choices import WebhookDeliveryStatus, WebhookEvent
from itsm.models import WebhookDelivery, WebhookSubscription, generate_webhook_secret
from itsm.redaction import scrub
from itsm.safe_urls import PrivateAddressRefused, public_session, url_refusal
from itsm.task_queue import not_queued

logger = logging.getLogger(__name__)

SEND_TASK = "itsm.tasks.send_webhook"
# How long an attempt owns its row from its claim (or a queued row waits before the clock looks
# whether its task is still queued): longer than an attempt may take (WEBHOOKS_TIMEOUT for the
# connection, again for the answer).
LEASE = timedelta(seconds=60)
# A rotated-out secret still signs for this long (as Svix's), unless dropped sooner.
PREVIOUS_SECRET_LIFETIME = timedelta(hours=24)
SWEEP_BATCH = 200
ERROR_EXCERPT = 200
USER_AGENT = "itsm-portal-webhooks/1"
PENDING = WebhookDeliveryStatus.PENDING
RETRYABLE = (PENDING, WebhookDeliveryStatus.FAILED, WebhookDeliveryStatus.GAVE_UP)


# --- emitting ----------------------------------------------------------------------------------


def emit(event_type: str, payload) -> list[WebhookDelivery]:
    """Record `event_type` for every active subscription to it, to be sent once the caller's
    transaction commits. `payload` (the event's `data`: a JSON-ready dict) may be a function
    returning it, called only when someone subscribes. Returns the rows written."""
    event_type = WebhookEvent(event_type)
    subscriptions = [
        subscription
        for subscription in WebhookSubscription.objects.filter(active=True).only("event_types")
        if event_type in subscription.event_types
    ]
    if not subscriptions:
        return []
    data = payload() if callable(payload) else payload
    now = timezone.now()
    message_id = new_message_id()
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            subscription=subscription,
            message_id=message_id,
            event_type=event_type,
            payload=data,
            created_at=now,
            next_attempt_at=now + LEASE,
        )
        for subscription in subscriptions
    )
    _queue(rows)
    return rows


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def _queue(deliveries) -> None:
    """Hand each to the worker once the current transaction commits. A broker that cannot take
    the task is logged, not raised: the change has committed, and the clock sends the row when
    its lease runs out."""
    for delivery in deliveries:
        transaction.on_commit(_sender(delivery.pk, delivery.attempts), robust=True)


def _sender(pk: int, attempts: int):
    """A named function, not a partial: a robust on_commit callback that fails is logged by
    its `__qualname__`, which a partial lacks."""

    def queue_webhook_send():
        async_task(SEND_TASK, pk, attempts)

    return queue_webhook_send


def webhooks_send_due(*, now, batch: int = SWEEP_BATCH) -> int:
    """Queue pending deliveries whose back-off (or lease) has run out, except those whose task
    still waits in the worker's queue (looked at again a lease later); return how many were
    queued. Rows being claimed or queued elsewhere at this moment are skipped, not waited for."""
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .only("pk", "attempts")[:batch]
        )
        lost = not_queued(SEND_TASK, due)
        WebhookDelivery.objects.filter(pk__in=[row.pk for row in due]).update(
            next_attempt_at=now + LEASE
        )
        _queue(lost)
    return len(lost)


def webhook_next_due(*, after):
    """The earliest moment after `after` a pending delivery falls due (the clock's sleep)."""
    return (
        WebhookDelivery.objects.filter(status=PENDING, next_attempt_at__gt=after)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


@transaction.atomic
def webhook_deliveries_retry_now(*, deliveries, now) -> int:
    """Send these deliveries again at once (the admin's "Retry now"): a pending one skips the
    rest of its back-off, a failed or given-up one gets one more attempt."""
    rows = list(
        WebhookDelivery.objects.select_for_update()
        .filter(pk__in=[delivery.pk for delivery in deliveries], status__in=RETRYABLE)
        .only("pk", "attempts")
    )
    WebhookDelivery.objects.filter(pk__in=[row.pk for row in rows]).update(
        status=PENDING, next_attempt_at=now + LEASE, finished_at=None
    )
    _queue(rows)
    return len(rows)


# --- sending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: int | None
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


def webhook_delivery_send(*, pk: int, attempt: int) -> str | None:
    """Make attempt number `attempt + 1` at delivery `pk`, unless another worker holds it or
    that attempt was made. Returns the row's status after it, or None when skipped."""
    delivery = _claim(pk=pk, attempt=attempt, now=timezone.now())
    if delivery is None:
        return None
    if delivery.status != PENDING:  # stopped: the subscription is disabled
        return delivery.status
    now = timezone.now()
    return _record(delivery, _attempt(delivery, now), now=now)


@transaction.atomic
def _claim(*, pk: int, attempt: int, now) -> WebhookDelivery | None:
    """Count the attempt and start its lease, or stop a delivery whose subscription was
    disabled; None when the attempt is not this task's to make."""
    delivery = (
        WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("subscription")
        .filter(pk=pk, status=PENDING, attempts=attempt)
        .first()
    )
    if delivery is None:
        return None
    if not delivery.subscription.active:
        _stop(delivery, now=now, error="Not sent: the subscription is disabled.")
        return delivery
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.next_attempt_at = now + LEASE
    delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    return delivery


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The spec's envelope, the same bytes on every attempt."""
    envelope = {
        "type": delivery.event_type,
        "timestamp": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(delivery: WebhookDelivery, body: bytes, now) -> dict:
    """`webhook-id`, `webhook-timestamp` and `webhook-signature` (one `v1,…` per secret in
    use, space-separated)."""
    subscription = delivery.subscription
    signatures = [
        Webhook(secret).sign(msg_id=delivery.message_id, timestamp=now, data=body)
        for secret in signing_secrets(subscription, now)
    ]
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def rotating(subscription: WebhookSubscription) -> bool:
    """The previous secret still signs (a day after a rotation at most)."""
    return len(signing_secrets(subscription, timezone.now())) > 1


def signing_secrets(subscription: WebhookSubscription, now) -> list[str]:
    """The current secret, and the previous one for a day after a rotation."""
    rotated = subscription.secret_rotated_at
    if subscription.previous_secret and rotated and now < rotated + PREVIOUS_SECRET_LIFETIME:
        return [subscription.secret, subscription.previous_secret]
    return [subscription.secret]


def _attempt(delivery: WebhookDelivery, now) -> Outcome:
    url = delivery.subscription.url
    refusal = url_refusal(url, resolve=False)  # the address is checked as it is connected to
    if refusal:
        return Outcome(None, f"Not sent: {refusal}")
    body = delivery_body(delivery)
    try:
        with public_session() as session:
            response = session.post(
                url,
                data=body,
                headers=signed_headers(delivery, body, now),
                timeout=settings.WEBHOOKS_TIMEOUT,
                allow_redirects=False,
            )
    except requests.RequestException as exc:
        refused = _private_address(exc)
        if refused is not None:  # found at connect time: final, as a refused URL is
            return Outcome(None, f"Not sent: {refused}")
        return Outcome(None, scrub(f"{type(exc).__name__}: {exc}"))
    except Exception as exc:
        # An unforeseen failure is still a failed attempt: counted and retried, not looped on.
        logger.exception("Sending webhook delivery %s failed unexpectedly", delivery.pk)
        return Outcome(None, scrub(f"{type(exc).__name__}: {exc}"))
    return Outcome(response.status_code, _response_error(response))


def _private_address(error: BaseException | None) -> PrivateAddressRefused | None:
    """The refusal of a private address under what urllib3 and requests wrapped it in."""
    while error is not None and not isinstance(error, PrivateAddressRefused):
        error = error.__cause__ or error.__context__
    return error


def _response_error(response) -> str:
    if 200 <= response.status_code < 300:
        return ""
    if response.is_redirect:
        return f"HTTP {response.status_code}: redirects are not followed."
    return scrub(f"HTTP {response.status_code}: {response.text[:ERROR_EXCERPT]}".strip())


@transaction.atomic
def _record(delivery: WebhookDelivery, outcome: Outcome, *, now) -> str | None:
    """Record the outcome, unless the row has moved on: finished meanwhile (a retry by hand
    that succeeded), or a newer attempt owns it (this one outlived its lease), in which case a
    success is still recorded and a failure is left to the newer attempt."""
    current = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .filter(pk=delivery.pk)
        .only("status", "attempts")
        .first()
    )
    if current is None:
        return None
    if current.status != PENDING or (
        not outcome.succeeded and current.attempts != delivery.attempts
    ):
        return current.status
    delivery.last_response_code = outcome.code
    delivery.last_error = outcome.error
    retries = settings.WEBHOOKS_RETRY_SCHEDULE
    if outcome.succeeded:
        delivery.status = WebhookDeliveryStatus.SUCCEEDED
    elif outcome.code == 410:
        delivery.status = WebhookDeliveryStatus.FAILED
        _disable(delivery.subscription, now=now, reason="The endpoint answered 410 Gone.")
    elif delivery.attempts > len(retries):
        delivery.status = WebhookDeliveryStatus.GAVE_UP
    else:
        delivery.next_attempt_at = now + timedelta(seconds=retries[delivery.attempts - 1])
    if delivery.status != PENDING:
        delivery.next_attempt_at = None
        delivery.finished_at = now
    delivery.save(
        update_fields=[
            "status",
            "last_response_code",
            "last_error",
            "next_attempt_at",
            "finished_at",
        ]
    )
    return delivery.status


def _stop(delivery: WebhookDelivery, *, now, error: str) -> None:
    delivery.status = WebhookDeliveryStatus.FAILED
    delivery.last_error = error
    delivery.next_attempt_at = None
    delivery.finished_at = now
    delivery.save(update_fields=["status", "last_error", "next_attempt_at", "finished_at"])


def _disable(subscription: WebhookSubscription, *, now, reason: str) -> None:
    """Stop sending to `subscription`: its pending deliveries are stopped, except those another
    worker is sending right now (not waited for: it may be waiting for ours), which find the
    subscription disabled at their next attempt."""
    subscription.active = False
    subscription.disabled_at = now
    subscription.disabled_reason = reason
    subscription.save(update_fields=["active", "disabled_at", "disabled_reason"])
    pending = WebhookDelivery.objects.select_for_update(skip_locked=True).filter(
        subscription=subscription, status=PENDING
    )
    WebhookDelivery.objects.filter(pk__in=list(pending.values_list("pk", flat=True))).update(
        status=WebhookDeliveryStatus.FAILED,
        next_attempt_at=None,
        finished_at=now,
        last_error=f"Not sent: the subscription was disabled. {reason}",
    )
    logger.warning("Webhook subscription %s disabled: %s", subscription.pk, reason)


# --- managing subscriptions --------------------------------------------------------------------


@transaction.atomic
def webhook_secret_rotate(*, subscription: WebhookSubscription, now) -> WebhookSubscription:
    """A new secret; the current one becomes the previous and keeps signing, beside the new,
    for PREVIOUS_SECRET_LIFETIME or until dropped, so receivers can switch without a gap."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    subscription.previous_secret = subscription.secret
    subscription.secret = generate_webhook_secret()
    subscription.secret_rotated_at = now
    subscription.save(update_fields=["previous_secret", "secret", "secret_rotated_at"])
    return subscription


@transaction.atomic
def webhook_previous_secret_drop(*, subscription: WebhookSubscription) -> WebhookSubscription:
    """Stop signing with the previous secret (every receiver has the new one)."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    subscription.previous_secret = ""
    subscription.save(update_fields=["previous_secret"])
    return subscription


@transaction.atomic
def webhook_subscription_enable(*, subscription: WebhookSubscription) -> WebhookSubscription:
    """Send to a disabled subscription again (events from now on; stopped ones stay stopped)."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    subscription.active = True
    subscription.disabled_at = None
    subscription.disabled_reason = ""
    subscription.save(update_fields=["active", "disabled_at", "disabled_reason"])
    return subscription
