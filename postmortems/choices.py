"""Codes of the post-incident review: its states, transitions and the policy's scopes."""

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
