"""The review meeting of a major incident: proposed 48 h after resolution at the next business
slot the owner is free, moved by the owner or a manager, sent as an iCalendar invitation."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from postmortems.models.review import PostIncidentReview

__all__ = [
    "LOCATION_MAX_LENGTH",
    "MEETING_MAX_MINUTES",
    "MOVE_PERMISSION",
    "ReviewMeeting",
]

LOCATION_MAX_LENGTH = 200
MEETING_MAX_MINUTES = 480
# Whoever holds it moves any review meeting (managers); otherwise only the review's owner.
MOVE_PERMISSION = "postmortems.change_reviewmeeting"


class ReviewMeeting(models.Model):
    review = models.OneToOneField(
        PostIncidentReview, on_delete=models.CASCADE, related_name="meeting"
    )
    # The invitation's UID: one per meeting, so a moved meeting updates the calendar entry.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The invitation's SEQUENCE: bumped on each move.
    sequence = models.PositiveIntegerField(default=0)
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(15), MaxValueValidator(MEETING_MAX_MINUTES)]
    )
    location = models.CharField(max_length=LOCATION_MAX_LENGTH, blank=True)
    bridge_link = models.URLField(max_length=500, blank=True)
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="review_meetings", blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at", "id"]
        verbose_name = "review meeting"
        indexes = [models.Index(fields=["starts_at"], name="review_meeting_start_idx")]

    def __str__(self):
        return f"Review meeting of {self.review.incident.number}"

    @property
    def ends_at(self):
        return self.starts_at + timedelta(minutes=self.duration_minutes)
