"""The clock's sweep for reviews the job missed (incidents.clock's `register_tick_work`).

Resolving an incident records a `postmortems.ensure_review` outbox item (postmortems.receivers),
which the worker runs (`postmortems.tasks.ensure_review`) within a second or two of the commit,
retried until done. Should it still not have run (no worker running, a back-off after a
failure), every clock tick looks for a resolved incident
that requires a review and has none, `SWEEP_GRACE` after its resolution (the job gets the
first go), and drafts it. Rows are locked with SKIP LOCKED like the clock's own deadlines,
and `review_ensure_for` locks the incident and finds an existing review, so any number of
clocks and workers draft each review once. The window bounds the scan to recent resolutions.
"""

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet

from incidents.choices import Priority
from incidents.models import Incident
from postmortems import services, tasks
from postmortems.choices import PolicyScope
from postmortems.models import PostIncidentReview
from warroom.choices import MajorIncidentState
from warroom.models import MajorIncident

CLOCK_WORK = "postmortem_reviews"
SWEEP_GRACE = timedelta(seconds=5)
SWEEP_WINDOW = timedelta(days=30)


class NotDrafted(Exception):
    """The incident no longer needs a review (the policy changed meanwhile): held back."""


def _requiring_review() -> Q:
    rules = services.policy_rules()
    wanted = Q(priority__in=[p for p in Priority.values if rules[p][0]])
    if rules[PolicyScope.MAJOR][0]:
        majors = MajorIncident.objects.filter(incident=OuterRef("pk")).exclude(
            state=MajorIncidentState.DEMOTED
        )
        wanted |= Q(Exists(majors))
    return wanted


def due_unreviewed(now: datetime) -> QuerySet[Incident]:
    """Resolved incidents that require a review and have none, locked for this clock."""
    return (
        Incident.objects.filter(
            status__in=services.RESOLVED_STATUSES,
            resolved_at__gte=now - SWEEP_WINDOW,
            resolved_at__lte=now - SWEEP_GRACE,
        )
        .filter(_requiring_review())
        .filter(~Exists(PostIncidentReview.objects.filter(incident=OuterRef("pk"))))
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("resolved_at", "pk")
    )


def draft_missing(incident: Incident, now: datetime) -> None:
    """As the job does: the review, and a major incident's follow-ups and meeting."""
    if tasks.ensure_review(incident.pk) is None:
        raise NotDrafted(f"{incident.number} needs no review now")


def next_sweep_due(after: datetime) -> datetime | None:
    """None: every tick (at most a second apart) looks again."""
    return None
