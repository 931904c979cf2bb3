"""django-q2 tasks of the war room, thin and idempotent: telling the status page's subscribers
of a public update (a rerun, or a second worker, writes no second email: see
warroom.status.subscriptions)."""

from warroom.status import subscriptions


def notify_subscribers_of_status_update(update_id: int) -> int:
    return subscriptions.subscribers_notify_status_update(update_id=update_id)


def notify_subscribers_of_maintenance_update(update_id: int) -> int:
    return subscriptions.subscribers_notify_maintenance_update(update_id=update_id)
