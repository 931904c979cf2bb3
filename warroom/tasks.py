"""django-q2 tasks of the war room, thin and idempotent: telling the status page's subscribers
of a public update (a rerun, or a second worker, writes no second email: see
warroom.status.subscriptions), and drafting the status page update of a public incident's
state change (once per change: see warroom.communications.services)."""

from itsm import outbox
from warroom.communications import services
from warroom.status import subscriptions

SUBSCRIBERS_STATUS_UPDATE = "warroom.subscribers_status_update"
SUBSCRIBERS_MAINTENANCE_UPDATE = "warroom.subscribers_maintenance_update"


def notify_subscribers_of_status_update(update_id: int, after: int = 0) -> int:
    batch = subscriptions.subscribers_notify_status_update(update_id=update_id, after=after)
    _next_batch(SUBSCRIBERS_STATUS_UPDATE, update_id, batch)
    return batch.written


def notify_subscribers_of_maintenance_update(update_id: int, after: int = 0) -> int:
    batch = subscriptions.subscribers_notify_maintenance_update(update_id=update_id, after=after)
    _next_batch(SUBSCRIBERS_MAINTENANCE_UPDATE, update_id, batch)
    return batch.written


def _next_batch(kind: str, update_id: int, batch: subscriptions.Batch) -> None:
    """The next subscribers in an outbox item of their own, committed with this batch: one
    task for ten thousand of them outlived the worker's timeout (Q_CLUSTER["timeout"], 60 s),
    was killed and started over."""
    if batch.last is not None:
        outbox.enqueue(kind, {"update_id": update_id, "after": batch.last})


def draft_status_page_update(event_id: int) -> int | None:
    draft = services.status_page_draft_on_state_change(event_id=event_id)
    return draft.pk if draft else None
