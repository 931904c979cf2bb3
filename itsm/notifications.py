"""Notifications: every message the portal sends is a row first, and is sent by the worker.

`notify` and `notify_chat` write the rows, one per recipient and channel and once per event
(the dedupe key), and queue each after the caller's transaction commits; the worker runs
`itsm.tasks.send_notification`, which calls `notification_send`.

An attempt is fenced by the row's `attempts`: a task carries the count it was queued with and
does nothing when the row has moved on, so a duplicate or stale task never sends twice. A
pending row's `next_attempt_at` is when it next needs attention: for a queued row (`queued_at`
set), when to look whether its task is still in the queue; for a claimed one, the end of the
lease of the running attempt (NOTIFICATION_LEASE seconds from the claim); after a failure, the
end of the back-off. The clock calls `notifications_retry_due` each tick to queue the rows
whose moment has passed, except those whose task still waits in the queue, so a failed send is
retried, a task lost with its worker is run again within a lease, and a backlog longer than the
lease is not queued twice; no message is lost.

Every attempt at an email carries the same Message-ID (channels.message_id), so a resend after
a worker died mid-send is one message in the recipient's mail client.
"""

import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from itsm import channels, realtime, signals
from itsm.choices import NotificationChannel, NotificationStatus
from itsm.models import Notification
from itsm.redaction import scrub
from itsm.task_queue import queued_task_args

logger = logging.getLogger(__name__)

SEND_TASK = "itsm.tasks.send_notification"
MAX_ATTEMPTS = 5
# The wait after the 1st, 2nd, 3rd and later failed attempts.
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
)
RETRY_BATCH = 200
PERSON_CHANNELS = (NotificationChannel.EMAIL, NotificationChannel.IN_APP)
PENDING = NotificationStatus.PENDING


@dataclass(frozen=True)
class Attachment:
    """A text file sent with an email (an iCalendar invitation). Kept in the email rows'
    `context["attachments"]`, so that a retry sends the same file."""

    filename: str
    content: str
    mimetype: str


def lease() -> timedelta:
    """How long an attempt owns its row: from its claim to the moment the clock takes its
    worker for dead and queues the row again; and how long a queued row waits before the clock
    looks whether its task is still in the queue. Longer than a send may take (EMAIL_TIMEOUT,
    CHAT_TIMEOUT)."""
    return timedelta(seconds=settings.NOTIFICATION_LEASE)


def retry_delay(attempts: int) -> timedelta:
    """The back-off after `attempts` failed attempts (1 or more): 30 s, 2 min, 10 min, then
    every 30 min."""
    return RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]


# --- creating ---------------------------------------------------------------------------------


def notify(
    *,
    recipients,
    subject: str,
    body: str,
    link: str = "",
    context: dict | None = None,
    dedupe_key: str,
    channels=None,
    attachments: tuple[Attachment, ...] = (),
) -> list[Notification]:
    """Notify people by email and in-app (or `channels`): one row per active recipient and
    channel, keyed f"{dedupe_key}:{user.pk}:{channel}". Keys that exist are skipped, so calling
    twice for one event sends once. `attachments` go with the emails only. Returns the rows
    this call created."""
    channels = tuple(channels or PERSON_CHANNELS)
    if not set(channels) <= set(PERSON_CHANNELS):
        raise ValueError(f"People are notified by {', '.join(PERSON_CHANNELS)}, not {channels}.")
    people = {user.pk: user for user in recipients if user.is_active}.values()
    message = _message(subject=subject, body=body, link=link, context=context)
    email = _with_attachments(message, attachments)
    return _create(
        Notification(
            channel=channel,
            recipient=user,
            dedupe_key=f"{dedupe_key}:{user.pk}:{channel}",
            **(email if channel == NotificationChannel.EMAIL else message),
        )
        for user in people
        for channel in channels
    )


@dataclass(frozen=True)
class AddressedEmail:
    """An email to an address that is no user's (a status page subscriber). `headers` are
    extra mail headers (List-Unsubscribe); `dedupe_key` is the whole key of its row."""

    to: str
    subject: str
    body: str
    dedupe_key: str
    headers: dict = field(default_factory=dict)


def notify_addresses(emails) -> list[Notification]:
    """Email addresses rather than users: one row per email, skipped when its key exists, so
    calling twice for one event sends once. The address and headers live in the row's
    `context` ("to", "headers"). Returns the rows this call created."""
    return _create(
        Notification(
            channel=NotificationChannel.EMAIL,
            dedupe_key=email.dedupe_key,
            **_message(
                subject=email.subject,
                body=email.body,
                link="",
                context={"to": email.to, "headers": dict(email.headers)},
            ),
        )
        for email in emails
    )


def notify_chat(
    *,
    webhooks,
    subject: str,
    body: str,
    link: str = "",
    context: dict | None = None,
    dedupe_key: str,
) -> list[Notification]:
    """Post to each active chat webhook (Slack or Teams, from its kind), once per event: keyed
    f"{dedupe_key}:webhook:{webhook.pk}". Returns the rows this call created."""
    hooks = {hook.pk: hook for hook in webhooks if hook.active}.values()
    message = _message(subject=subject, body=body, link=link, context=context)
    return _create(
        Notification(
            channel=NotificationChannel(hook.kind),
            webhook=hook,
            dedupe_key=f"{dedupe_key}:webhook:{hook.pk}",
            **message,
        )
        for hook in hooks
    )


def _message(*, subject: str, body: str, link: str, context: dict | None) -> dict:
    """The fields every row of one message shares. A subject is one line (a mail header)."""
    return {
        "subject": " ".join(subject.split())[:200],
        "body": body,
        "link": link,
        "context": context or {},
    }


def _with_attachments(message: dict, attachments: tuple[Attachment, ...]) -> dict:
    if not attachments:
        return message
    files = [asdict(attachment) for attachment in attachments]
    return {**message, "context": {**message["context"], "attachments": files}}


def _create(rows) -> list[Notification]:
    rows = list(rows)
    keys = [row.dedupe_key for row in rows]
    existing = set(
        Notification.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)
    )
    fresh = [row for row in rows if row.dedupe_key not in existing]
    if not fresh:
        return []
    now = timezone.now()
    for row in fresh:
        row.created_at = row.queued_at = now
        row.next_attempt_at = now + lease()
    # A concurrent call may have written some keys since; the database keeps the first.
    Notification.objects.bulk_create(fresh, ignore_conflicts=True)
    created = list(Notification.objects.filter(dedupe_key__in=[row.dedupe_key for row in fresh]))
    _queue(created)
    inbox_changed(row.recipient_id for row in created if row.channel == NotificationChannel.IN_APP)
    return created


def _queue(notifications) -> None:
    """Hand each to the worker once the current transaction commits. The caller has set
    `queued_at`, and `next_attempt_at` a lease later, so one the broker did not take is queued
    again by the clock then: a failure is logged, and neither fails the write that committed
    nor drops the callbacks after it."""
    for notification in notifications:
        transaction.on_commit(_sender(notification.pk, notification.attempts), robust=True)


def _sender(pk: int, attempts: int):
    def queue_send():
        async_task(SEND_TASK, pk, attempts)

    return queue_send


def inbox_group(user_id: int) -> str:
    """The channel-layer group of the bells on a user's open pages (itsm.consumers)."""
    return realtime.group_name("inbox", user_id)


def inbox_changed(user_ids) -> None:
    """Once the transaction commits, the bells of these users' open pages read their inbox
    again (a notification came, or one was read)."""
    groups = sorted({inbox_group(user_id) for user_id in user_ids})
    if groups:
        transaction.on_commit(partial(realtime.send, groups, {"type": "inbox.changed"}))


# --- retrying ----------------------------------------------------------------------------------


def notifications_retry_due(*, now, batch: int = RETRY_BATCH) -> int:
    """Queue pending notifications whose back-off (or lease) has run out, except those whose
    task still waits in the worker's queue (a backlog), which are looked at again a lease
    later; return how many were queued. Rows another worker is queuing at the same moment are
    skipped, not waited for."""
    with transaction.atomic():
        due = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status=PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .only("pk", "attempts", "queued_at")[:batch]
        )
        waiting = _still_queued(due)
        lost = [row for row in due if row.pk not in waiting]
        Notification.objects.filter(pk__in=waiting).update(next_attempt_at=now + lease())
        Notification.objects.filter(pk__in=[n.pk for n in lost]).update(
            queued_at=now, next_attempt_at=now + lease()
        )
        _queue(lost)
    return len(lost)


def _still_queued(rows) -> set[int]:
    """The pks of the queued rows (not yet claimed) whose task is in the worker's queue; none
    when the queue cannot be read (the Redis broker: those are queued again, and the fence
    makes the older task do nothing)."""
    queued = [row for row in rows if row.queued_at is not None]
    if not queued:
        return set()
    tasks = queued_task_args(SEND_TASK) or set()
    return {row.pk for row in queued if (row.pk, row.attempts) in tasks}


@transaction.atomic
def notifications_retry_now(*, notifications, now) -> int:
    """Send failed or waiting notifications again at once (the admin's "Retry now"). A failed
    one gets one more attempt; a waiting one skips the rest of its back-off."""
    rows = list(
        Notification.objects.select_for_update()
        .filter(pk__in=[n.pk for n in notifications])
        .filter(status__in=[PENDING, NotificationStatus.FAILED])
        .only("pk", "attempts")
    )
    Notification.objects.filter(pk__in=[n.pk for n in rows]).update(
        status=PENDING, queued_at=now, next_attempt_at=now + lease()
    )
    _queue(rows)
    return len(rows)


# --- sending -----------------------------------------------------------------------------------


def notification_send(*, pk: int, attempt: int) -> bool | None:
    """Make attempt number `attempt + 1` at sending notification `pk`, unless that attempt has
    already been made (or the notification is sent or failed). Records the outcome; never
    raises for a failed delivery. Returns True when sent, False when not, None when skipped."""
    notification = _claim(pk=pk, attempt=attempt, now=timezone.now())
    if notification is None:
        return None
    error = _attempt(notification)
    _record_outcome(notification, error=error, now=timezone.now())
    return error is None


@transaction.atomic
def _claim(*, pk: int, attempt: int, now) -> Notification | None:
    """Take the attempt: count it and start its lease, in a transaction of its own, so that
    the send itself holds no lock."""
    notification = (
        Notification.objects.select_for_update(of=("self",))
        .select_related("recipient", "webhook")
        .filter(pk=pk)
        .first()
    )
    if notification is None or notification.status != PENDING or notification.attempts != attempt:
        return None
    notification.attempts += 1
    notification.queued_at = None
    notification.next_attempt_at = now + lease()
    notification.save(update_fields=["attempts", "queued_at", "next_attempt_at"])
    return notification


def _attempt(notification: Notification) -> channels.DeliveryError | None:
    try:
        channels.deliver(notification)
    except channels.DeliveryError as exc:
        return exc
    except Exception as exc:
        # An unforeseen failure is still a failed attempt: recorded and retried, not lost.
        logger.exception("Sending notification %s failed unexpectedly", notification.pk)
        return channels.DeliveryError(f"{type(exc).__name__}: {exc}")
    return None


@transaction.atomic
def _record_outcome(notification: Notification, *, error, now) -> None:
    current = (
        Notification.objects.select_for_update()
        .filter(pk=notification.pk)
        .only("status", "attempts")
    ).first()
    if current is None or current.status != PENDING:
        return
    if error is None:
        _mark_sent(notification, now=now)
    elif current.attempts == notification.attempts:  # else a newer attempt owns the row
        _mark_failed_attempt(notification, error=error, now=now)


def _mark_sent(notification: Notification, *, now) -> None:
    notification.status = NotificationStatus.SENT
    notification.sent_at = now
    notification.next_attempt_at = None
    notification.save(update_fields=["status", "sent_at", "next_attempt_at"])
    _announce(signals.notification_sent, notification)


def _mark_failed_attempt(notification: Notification, *, error, now) -> None:
    """Back off, or give up after the last attempt or a failure no retry can fix."""
    notification.last_error = scrub(str(error))
    final = (
        isinstance(error, channels.PermanentDeliveryError) or notification.attempts >= MAX_ATTEMPTS
    )
    if final:
        notification.status = NotificationStatus.FAILED
        notification.next_attempt_at = None
    else:
        notification.next_attempt_at = now + retry_delay(notification.attempts)
    notification.save(update_fields=["status", "last_error", "next_attempt_at"])
    if final:
        _announce(signals.notification_failed, notification)


def _announce(signal, notification: Notification) -> None:
    """Tell receivers (the incident timeline) inside the outcome's transaction. A receiver that
    fails is rolled back on its own and logged: the message went out, and recording that must
    not be undone, or the lease would run out and send it again."""
    try:
        with transaction.atomic():
            signal.send(sender=Notification, notification=notification)
    except Exception:
        logger.exception("A receiver failed for notification %s", notification.pk)


# --- reading -----------------------------------------------------------------------------------


def inbox(*, user):
    """The user's in-app notifications, newest first."""
    return Notification.objects.filter(recipient=user, channel=NotificationChannel.IN_APP)


def unread_count(*, user) -> int:
    return inbox(user=user).filter(read_at__isnull=True).count()


def notification_mark_read(*, notification: Notification, now) -> Notification:
    if notification.read_at is None:
        notification.read_at = now
        notification.save(update_fields=["read_at"])
        inbox_changed([notification.recipient_id])
    return notification


def notifications_mark_all_read(*, user, now) -> int:
    """Mark every unread notification of `user` read; return how many."""
    marked = Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=now)
    if marked:
        inbox_changed([user.pk])
    return marked
