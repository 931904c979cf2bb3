"""django-q2 jobs of the post-incident reviews, scheduled by postmortems/migrations (daily and
weekly `Schedule`s). Thin and idempotent: a second run, or a second worker, sends nothing more
(see `action_items_nag`)."""

from django.utils import timezone

from postmortems.action_items import action_items_nag
from postmortems.choices import NagKind


def nag_action_item_owners() -> int:
    """Once a day: each owner of overdue action items gets one message listing them."""
    return action_items_nag(kind=NagKind.OWNER, today=timezone.localdate())


def nag_review_owners() -> int:
    """Once a week: each review owner gets one message listing their reviews' overdue items."""
    return action_items_nag(kind=NagKind.REVIEW_OWNER, today=timezone.localdate())
