"""django-q2 tasks of the war room, thin and idempotent: telling the status page's subscribers
of a public update (a rerun, or a second worker, writes no second email: see
warroom.status.subscriptions), and drafting the status page update of a public incident's
state change (once per change: see warroom.communications.services)."""

from warroom.communications import services
from warroom.status import subscriptions


def notify_subscribers_of_status_update(update_id: int) -> int:
    return subscriptions.subscribers_notify_status_update(update_id=update_id)


def notify_subscribers_of_maintenance_update(update_id: int) -> int:
    return subscriptions.subscribers_notify_maintenance_update(update_id=update_id)


def draft_status_page_update(event_id: int) -> int | None:
    draft = services.status_page_draft_on_state_change(event_id=event_id)
    return draft.pk if draft else None
