"""The role follow-ups of a major incident (post-incident-follow-up.txt): an editable checklist
per war-room role, copied into per-person `FollowUp` rows when the major incident resolves."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from postmortems.models.review import PostIncidentReview
from warroom.choices import WarRoomRole

__all__ = [
    "FOLLOWUP_TEXT_MAX_LENGTH",
    "TICK_PERMISSION",
    "FollowUp",
    "FollowUpTemplate",
    "FollowUpTemplateItem",
]

FOLLOWUP_TEXT_MAX_LENGTH = 500
# Whoever holds it ticks anyone's follow-ups (managers); others tick only their own.
TICK_PERMISSION = "postmortems.change_followup"


class FollowUpTemplate(models.Model):
    """The checklist one war-room role gets after a major incident. Editable in the admin."""

    role = models.CharField(max_length=30, choices=WarRoomRole.choices, unique=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["role"]
        verbose_name = "follow-up checklist"

    def __str__(self):
        return f"Follow-ups of the {self.get_role_display().lower()}"


class FollowUpTemplateItem(models.Model):
    template = models.ForeignKey(FollowUpTemplate, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(max_length=FOLLOWUP_TEXT_MAX_LENGTH)

    history = HistoricalRecords()

    class Meta:
        ordering = ["template", "position", "id"]
        verbose_name = "follow-up checklist item"

    def __str__(self):
        return self.text


class FollowUp(models.Model):
    """One step of one role holder's checklist for one review; ticking it records who and
    when (and the history keeps every tick and untick)."""

    review = models.ForeignKey(
        PostIncidentReview, on_delete=models.CASCADE, related_name="followups"
    )
    role = models.CharField(max_length=30, choices=WarRoomRole.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="followups"
    )
    position = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(max_length=FOLLOWUP_TEXT_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["review", "role", "assignee_id", "position", "id"]
        verbose_name = "follow-up"
        constraints = [
            models.UniqueConstraint(
                fields=["review", "role", "assignee", "position"], name="followup_once"
            )
        ]

    def __str__(self):
        return self.text

    @property
    def done(self) -> bool:
        return self.done_at is not None
