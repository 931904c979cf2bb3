"""django-q2 tasks of the itsm package: thin, idempotent."""

from itsm.notifications import notification_send
from itsm.outbox import outbox_item_run
from itsm.webhooks import webhook_delivery_send


def send_notification(pk: int, attempt: int = 0) -> bool | None:
    """Send notification `pk`; `attempt` is how many attempts it had when it was queued, so a
    duplicate or stale task finds the row moved on and does nothing."""
    return notification_send(pk=pk, attempt=attempt)


def send_webhook(pk: int, attempt: int = 0) -> str | None:
    """Send webhook delivery `pk`; `attempt` fences duplicates as send_notification's does."""
    return webhook_delivery_send(pk=pk, attempt=attempt)


def run_outbox_item(pk: int, attempt: int = 0) -> str | None:
    """Carry out outbox item `pk`; `attempt` fences duplicates as send_notification's does."""
    return outbox_item_run(pk=pk, attempt=attempt)
