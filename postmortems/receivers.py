"""Receivers of the incident core's signals: a resolution queues the review's first draft."""

from django.dispatch import receiver
from django_q.tasks import async_task

from incidents.choices import Transition
from incidents.signals import incident_transitioned

ENSURE_TASK = "postmortems.tasks.ensure_review"


@receiver(incident_transitioned, dispatch_uid="postmortems.draft_on_resolve")
def draft_review_on_resolve(sender, incident_id, transition, **kwargs):
    """The signal comes after the commit; the job decides whether a review is required."""
    if transition == Transition.RESOLVE:
        async_task(ENSURE_TASK, incident_id)
