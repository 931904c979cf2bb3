"""django-q2 tasks of the post-incident reviews, thin and idempotent: drafting a review when
an incident resolves (and, for a major incident, its role follow-ups and review meeting), and
the action items' nags (daily and weekly `Schedule`s written by postmortems/migrations), of
which a second run, or a second worker, sends nothing more (see `action_items_nag`), and the
hourly repair of the metrics rollup."""

from django.db import transaction
from django.utils import timezone

from postmortems import drafting, followups, meeting, services
from postmortems.action_items import action_items_nag
from postmortems.choices import NagKind
from postmortems.metrics import rollup

# How far back the hourly rollup repair looks for changed incidents.
ROLLUP_REPAIR_DAYS = 1


@transaction.atomic
def ensure_review(incident_id: int) -> int | None:
    """Draft the review of a resolved incident that requires one; the review's id, if any.
    A major incident's review gets its role follow-ups and meeting, each once, in the same
    transaction: the clock's sweep, which looks for incidents without a review, redoes all."""
    review = services.review_ensure_for(incident_id=incident_id)
    if review is None:
        return None
    major = drafting.major_incident_of(review.incident)
    if major is not None:
        followups.followups_ensure(review=review, major=major)
        meeting.meeting_propose(review=review, major=major)
    return review.pk


def nag_action_item_owners() -> int:
    """Once a day: each owner of overdue action items gets one message listing them."""
    return action_items_nag(kind=NagKind.OWNER, today=timezone.localdate())


def nag_review_owners() -> int:
    """Once a week: each review owner gets one message listing their reviews' overdue items."""
    return action_items_nag(kind=NagKind.REVIEW_OWNER, today=timezone.localdate())


def repair_metrics_rollup() -> int:
    """Once an hour: the rollup rows of incidents changed in the last day, and of any without
    one (a write outside the services, a backfill): how many were refreshed."""
    return rollup.refresh_recent(days=ROLLUP_REPAIR_DAYS)
