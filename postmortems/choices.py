"""Codes of the post-incident reviews (states, transitions, the policy's scopes) and their
action items."""

from datetime import timedelta

from django.db import models


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"
    SKIPPED = "skipped", "Skipped"


class ReviewTransition(models.TextChoices):
    """The review's transitions; values are the model's method names."""

    SUBMIT = "submit", "Submit for review"
    PUBLISH = "publish", "Publish"
    RETURN_TO_DRAFT = "return_to_draft", "Return to draft"
    SKIP = "skip", "Skip"


class PolicyScope(models.TextChoices):
    """What a review policy row covers: one priority, or every major incident."""

    P1 = "P1", "P1 incidents"
    P2 = "P2", "P2 incidents"
    P3 = "P3", "P3 incidents"
    P4 = "P4", "P4 incidents"
    MAJOR = "major", "Major incidents (any priority)"


# The policy when its row is missing: (required, due after resolution). The data migration
# writes these rows; the admin edits them.
DEFAULT_POLICY = {
    PolicyScope.P1: (True, timedelta(hours=48)),
    PolicyScope.P2: (True, timedelta(days=7)),
    PolicyScope.P3: (False, timedelta(days=14)),
    PolicyScope.P4: (False, timedelta(days=30)),
    PolicyScope.MAJOR: (True, timedelta(hours=48)),
}


# --- action items -------------------------------------------------------------------------------


class ActionItemPriority(models.TextChoices):
    """The priorities of the action items of the incident-response-workflow template."""

    P0 = "P0", "P0 – do now"
    P1 = "P1", "P1 – this sprint"
    P2 = "P2", "P2 – next quarter"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


# Statuses of an item still to be done: past its due date, it is overdue.
PENDING_ACTION_STATUSES = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)


class ActionItemType(models.TextChoices):
    """The kinds of action of the Google SRE postmortem format."""

    PREVENT = "prevent", "Prevent"
    MITIGATE = "mitigate", "Mitigate"
    DETECT = "detect", "Detect"
    PROCESS = "process", "Process"


class NagKind(models.TextChoices):
    OWNER = "owner", "Item owner (daily)"
    REVIEW_OWNER = "review_owner", "Review owner (weekly)"


# --- end of action items ------------------------------------------------------------------------
