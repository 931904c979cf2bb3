"""Reads of reviews and action items that the API, the pages, the admin and reports share."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, F, Q, QuerySet

from postmortems.choices import PENDING_ACTION_STATUSES, ActionItemStatus, ReviewStatus
from postmortems.models import (
    CHANGE_PERMISSION,
    ActionItem,
    FollowUp,
    PostIncidentReview,
    ReviewMeeting,
)
from warroom.choices import WarRoomRole
from warroom.models import RoleAssignment

OPEN_REVIEW_STATUSES = (ReviewStatus.DRAFT, ReviewStatus.IN_REVIEW)


def readable_reviews(user) -> QuerySet[PostIncidentReview]:
    """The reviews `user` may read: every one for whoever edits reviews, else published ones."""
    reviews = PostIncidentReview.objects.select_related("incident", "owner")
    if user.has_perm(CHANGE_PERMISSION):
        return reviews
    return reviews.filter(status=ReviewStatus.PUBLISHED)


def overdue_review_condition(now) -> Q:
    """Not yet published (nor skipped), and its due time has passed."""
    return Q(status__in=OPEN_REVIEW_STATUSES, due_at__lt=now)


def action_item_queryset():
    """Action items with what their payload shows, joined once."""
    return ActionItem.objects.select_related("incident", "incident__team", "owner", "created_by")


def overdue_condition(today: date) -> Q:
    """Still to be done, and its due date has passed."""
    return Q(status__in=PENDING_ACTION_STATUSES, due_date__lt=today)


@dataclass(frozen=True)
class CompletionRate:
    """Of the action items that fell due (their due date passed, or they were done), how many
    were done by their due date (in the portal's time zone). Won't-do items are left out:
    deciding not to do one is not failing to do it."""

    team: str | None  # the incident team's slug; None for the overall figure and for no team
    due: int
    done_on_time: int
    overdue: int

    @property
    def rate(self) -> float | None:
        """Done on time / due; None while nothing fell due."""
        return self.done_on_time / self.due if self.due else None


def _completion_counts(today: date) -> dict:
    done = Q(status=ActionItemStatus.DONE)
    return {
        "due": Count("pk", filter=done | overdue_condition(today)),
        "done_on_time": Count("pk", filter=done & Q(completed_at__date__lte=F("due_date"))),
        "overdue": Count("pk", filter=overdue_condition(today)),
    }


def action_item_completion(*, today: date) -> CompletionRate:
    """The completion rate of every action item: one aggregate query."""
    counts = ActionItem.objects.aggregate(**_completion_counts(today))
    return CompletionRate(team=None, **counts)


def action_item_completion_by_team(*, today: date) -> list[CompletionRate]:
    """The completion rate per team of the items' incidents, by team slug (items of incidents
    without a team last, as team None): one grouped query."""
    rows = (
        ActionItem.objects.values(slug=F("incident__team__slug"))
        .annotate(**_completion_counts(today))
        .order_by(F("slug").asc(nulls_last=True))
    )
    return [CompletionRate(team=row.pop("slug"), **row) for row in rows]


def roles_held_at(major, moment: datetime) -> list[RoleAssignment]:
    """The war-room role assignments of `major` that were current at `moment` (its
    resolution), each with its holder, in the order they were taken."""
    return list(
        RoleAssignment.objects.filter(major_incident=major, assigned_at__lte=moment)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=moment))
        .select_related("user")
        .order_by("assigned_at", "id")
    )


ROLE_ORDER = {role: index for index, role in enumerate(WarRoomRole.values)}


def review_meeting(review) -> ReviewMeeting | None:
    """The review's meeting with its attendees, or None."""
    return ReviewMeeting.objects.filter(review=review).prefetch_related("attendees").first()


def followup_list(review) -> list[FollowUp]:
    """A review's follow-ups by role (the war room's order), then holder and step."""
    rows = FollowUp.objects.filter(review=review).select_related("assignee", "done_by")
    return sorted(rows, key=lambda row: (ROLE_ORDER[row.role], row.assignee_id, row.position))


def my_pending_action_items(user) -> QuerySet[ActionItem]:
    """`user`'s items still to be done, the earliest due (so the overdue ones) first."""
    return (
        ActionItem.objects.filter(owner=user, status__in=PENDING_ACTION_STATUSES)
        .select_related("incident")
        .order_by("due_date", "pk")
    )
