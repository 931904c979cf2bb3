"""Receivers of the incident core's signals: a resolution queues the review's first draft; the
demo seed names its IT leadership."""

from django.contrib.auth.models import Group
from django.dispatch import receiver
from django_q.tasks import async_task

from incidents.choices import Transition
from incidents.signals import demo_directory_seeded, incident_transitioned
from postmortems.summary import LEADERSHIP_GROUP

ENSURE_TASK = "postmortems.tasks.ensure_review"


@receiver(incident_transitioned, dispatch_uid="postmortems.draft_on_resolve")
def draft_review_on_resolve(sender, incident_id, transition, **kwargs):
    """The signal comes after the commit; the job decides whether a review is required."""
    if transition == Transition.RESOLVE:
        async_task(ENSURE_TASK, incident_id)


@receiver(demo_directory_seeded, dispatch_uid="postmortems.demo_leadership")
def name_demo_leadership(sender, users, **kwargs):
    """The demo's stakeholder is its IT leadership: published reviews' summaries reach them."""
    Group.objects.get_or_create(name=LEADERSHIP_GROUP)[0].user_set.add(users["stakeholder"])
