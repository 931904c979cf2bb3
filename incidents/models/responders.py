"""The people brought in to work an incident besides its assignee."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from incidents.models.core import Incident

__all__ = ["IncidentResponder"]


class IncidentResponder(models.Model):
    """Someone added to an incident as a responder: who added them, and when. Each addition is
    also on the incident's timeline; the history keeps any later change of the row."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="responders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    added_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "user"], name="incident_responder_once")
        ]

    def __str__(self):
        return f"{self.incident.number}: {self.user}"
