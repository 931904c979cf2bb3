"""Email subscribers of the status page (docs/status-page.md, "Subscribers"): subscribing
(double opt-in, at most one confirmation email per address per RESEND_INTERVAL), confirming,
unsubscribing, and telling the confirmed subscribers of each public update.

Every message is a notification row (itsm.notifications.notify_addresses) keyed by subscriber
and update, so the worker job that writes them may run twice, or on two workers, and each
subscriber still gets one email per update."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from itsm.channels import portal_url
from itsm.notifications import AddressedEmail, notify_addresses
from itsm.validation import raise_if
from warroom.models import MaintenanceUpdate, StatusComponent, StatusSubscriber, StatusUpdate
from warroom.models.subscribers import new_token

RESEND_INTERVAL = timedelta(minutes=10)
BATCH = 500
EMAIL_MAX_LENGTH = 254


# --- subscribing ---------------------------------------------------------------------------------


def clean_subscription(email, component_slugs) -> tuple[str, list[StatusComponent]]:
    """The lower-cased address and the public components named; 400 naming the field."""
    errors: dict = {}
    email = (email or "").strip().lower() if isinstance(email, str) else ""
    try:
        if len(email) > EMAIL_MAX_LENGTH:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        errors["email"] = "Enter a valid email address."
    slugs = set(component_slugs or ())
    components = list(StatusComponent.objects.filter(public=True, slug__in=slugs))
    unknown = slugs - {c.slug for c in components}
    if unknown:
        errors["components"] = f"Not public components: {', '.join(sorted(unknown))}."
    raise_if(errors)
    return email, components


@transaction.atomic
def subscriber_subscribe(*, email, component_slugs=(), now=None) -> StatusSubscriber:
    """Ask `email` to confirm a subscription to the page (no components) or to the components.
    A confirmed address is left as it is; a pending or unsubscribed one gets a new link, but
    not within RESEND_INTERVAL of the last, so the form cannot flood a mailbox."""
    now = now or timezone.now()
    email, components = clean_subscription(email, component_slugs)
    StatusSubscriber.objects.get_or_create(email=email)
    subscriber = StatusSubscriber.objects.select_for_update().get(email=email)
    if subscriber.is_active or _sent_recently(subscriber, now):
        return subscriber
    subscriber.token = new_token()
    subscriber.confirmed_at = None
    subscriber.unsubscribed_at = None
    subscriber.confirmation_sent_at = now
    subscriber.save()
    subscriber.components.set(components)
    notify_addresses([_confirmation_email(subscriber, components)])
    return subscriber


def _sent_recently(subscriber: StatusSubscriber, now) -> bool:
    sent = subscriber.confirmation_sent_at
    return sent is not None and now - sent < RESEND_INTERVAL


def _confirmation_email(subscriber: StatusSubscriber, components) -> AddressedEmail:
    what = ", ".join(c.name for c in components) or "all components"
    confirm = absolute_url("status:subscription-confirm", subscriber)
    body = (
        f"Someone (we hope you) asked to receive updates of {settings.STATUS_PAGE_NAME} "
        f"({what}) at this address.\n\nConfirm the subscription: {confirm}\n\n"
        "If it was not you, ignore this email: nothing will be sent without confirmation."
    )
    stamp = int(subscriber.confirmation_sent_at.timestamp())
    return AddressedEmail(
        to=subscriber.email,
        subject=f"Confirm your subscription to {settings.STATUS_PAGE_NAME}",
        body=body,
        dedupe_key=f"status-subscriber:{subscriber.pk}:confirm:{stamp}",
        headers=unsubscribe_headers(subscriber),
    )


def absolute_url(name: str, subscriber: StatusSubscriber) -> str:
    path = reverse(name, args=[subscriber.link_token])
    return portal_url(path) or path


def unsubscribe_headers(subscriber: StatusSubscriber) -> dict:
    """RFC 2369 and RFC 8058 one-click unsubscribe: a mail client POSTs to the link."""
    url = absolute_url("status:subscription-unsubscribe", subscriber)
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def subscriber_by_token(link_token: str) -> StatusSubscriber | None:
    """The subscriber a link names, or None; the secret is compared in constant time."""
    pk, _, token = (link_token or "").partition(".")
    subscriber = StatusSubscriber.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
    if subscriber is None or not secrets.compare_digest(subscriber.token, token):
        return None
    return subscriber


@transaction.atomic
def subscriber_confirm(*, subscriber: StatusSubscriber, now=None) -> None:
    """Confirm a pending subscription (again: nothing changes). An unsubscribed address must
    subscribe anew."""
    subscriber = StatusSubscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.confirmed_at is None and subscriber.unsubscribed_at is None:
        subscriber.confirmed_at = now or timezone.now()
        subscriber.save(update_fields=["confirmed_at"])


@transaction.atomic
def subscriber_unsubscribe(*, subscriber: StatusSubscriber, now=None) -> None:
    StatusSubscriber.objects.filter(pk=subscriber.pk, unsubscribed_at__isnull=True).update(
        unsubscribed_at=now or timezone.now()
    )


# --- telling subscribers -------------------------------------------------------------------------


def subscribers_of(component_ids):
    """Confirmed, subscribed addresses of the whole page or of one of the components."""
    wanted = Q(components__isnull=True) | Q(components__in=list(component_ids))
    return (
        StatusSubscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)
        .filter(wanted)
        .distinct()
        .order_by("pk")
    )


@dataclass(frozen=True)
class Batch:
    """What one run of the job did: the rows it wrote, and the last subscriber's id when more
    subscribers may follow (the next run starts after it), else None."""

    written: int
    last: int | None


def subscribers_notify_status_update(*, update_id: int, after: int = 0) -> Batch:
    """Email the next BATCH subscribers (by id, after `after`) of a public incident update."""
    related = StatusUpdate.objects.select_related("status_incident__incident")
    update = related.filter(pk=update_id).first()
    if update is None:
        return Batch(0, None)
    public = update.status_incident
    components = update.affected_components.values_list("component_id", flat=True)
    subject = f"[{settings.STATUS_PAGE_NAME}] {public.name}: {update.get_status_display()}"
    return _notify_batch(
        key=f"status-update:{update.pk}",
        subject=subject,
        text=update.body,
        anchor=public.incident.number,
        component_ids=components,
        after=after,
    )


def subscribers_notify_maintenance_update(*, update_id: int, after: int = 0) -> Batch:
    """Email the next BATCH subscribers (by id, after `after`) of a maintenance's update."""
    update = MaintenanceUpdate.objects.select_related("maintenance").filter(pk=update_id).first()
    if update is None:
        return Batch(0, None)
    maintenance = update.maintenance
    subject = (
        f"[{settings.STATUS_PAGE_NAME}] Maintenance {maintenance.name}: "
        f"{update.get_status_display()}"
    )
    return _notify_batch(
        key=f"maintenance-update:{update.pk}",
        subject=subject,
        text=update.body,
        anchor=f"maintenance-{maintenance.pk}",
        component_ids=maintenance.components.values_list("pk", flat=True),
        after=after,
    )


def _notify_batch(*, key, subject, text, anchor, component_ids, after: int) -> Batch:
    """One row per subscriber of the batch, in one transaction."""
    page = portal_url(reverse("status:page")) or reverse("status:page")
    subscribers = subscribers_of(list(component_ids)).only("pk", "email", "token")
    batch = list(subscribers.filter(pk__gt=after)[:BATCH])
    with transaction.atomic():
        written = notify_addresses(
            _update_email(s, key=key, subject=subject, text=text, link=f"{page}#{anchor}")
            for s in batch
        )
    return Batch(len(written), batch[-1].pk if len(batch) == BATCH else None)


def _update_email(subscriber, *, key, subject, text, link) -> AddressedEmail:
    unsubscribe = absolute_url("status:subscription-unsubscribe", subscriber)
    body = f"{text}\n\n{link}\n\n--\nUnsubscribe with one click: {unsubscribe}"
    return AddressedEmail(
        to=subscriber.email,
        subject=subject,
        body=body,
        dedupe_key=f"{key}:subscriber:{subscriber.pk}",
        headers=unsubscribe_headers(subscriber),
    )
