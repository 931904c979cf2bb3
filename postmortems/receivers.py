"""Receivers of the incident core's signals, inside the write's transaction: a resolution
records the review's first draft in the outbox (carried out by the worker, retried until done);
a timeline event or an alert group refreshes the incident's metrics rollup in its transaction
(once for a whole batch of changes: itsm/batching.py)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from incidents.choices import Transition
from incidents.models import AlertGroup
from incidents.signals import incident_transitioned, timeline_event_written
from itsm import outbox
from itsm.batching import once_per_batch
from postmortems import tasks
from postmortems.metrics import rollup

ENSURE_REVIEW = "postmortems.ensure_review"


@receiver(incident_transitioned, dispatch_uid="postmortems.draft_on_resolve")
def draft_review_on_resolve(sender, incident_id, transition, **kwargs):
    """The worker decides whether a review is required (tasks.ensure_review: idempotent)."""
    if transition == Transition.RESOLVE:
        outbox.enqueue(ENSURE_REVIEW, {"incident_id": incident_id})


def ensure_review(payload: dict) -> None:
    tasks.ensure_review(payload["incident_id"])


@receiver(timeline_event_written, dispatch_uid="postmortems.rollup_on_event")
def refresh_rollup_on_event(sender, incident_id, type, **kwargs):
    """Inside the write's transaction: the incident's measures, and after an edit or an alert
    those of the later incidents its recurrence search may now match or no longer match."""
    if type in rollup.MEASURED_EVENTS:
        once_per_batch(rollup.rollup_refresh, [incident_id])
    elif type in rollup.MATCHED_EVENTS:
        once_per_batch(rollup.rollup_refresh_with_followers, [incident_id])


# An alert group's fields the measures read: its incident, key and first alert.
ROLLUP_GROUP_FIELDS = {"incident", "key", "first_seen_at"}


@receiver(post_save, sender=AlertGroup, dispatch_uid="postmortems.rollup_on_alert_group")
def refresh_rollup_on_alert_group(sender, instance, update_fields=None, **kwargs):
    """An alert group saved with its incident: detection and recurrence may have changed."""
    if instance.incident_id is None:
        return
    if update_fields is None or ROLLUP_GROUP_FIELDS & set(update_fields):
        once_per_batch(rollup.rollup_refresh_with_followers, [instance.incident_id])
