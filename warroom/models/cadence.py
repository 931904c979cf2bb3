"""Nags about missed stakeholder updates of major incidents (warroom.cadence)."""

from django.db import models
from django.utils import timezone

from warroom.models.major_incidents import MajorIncident

__all__ = ["CadenceNag"]


class CadenceNag(models.Model):
    """A missed stakeholder-update deadline of a major incident that its communications lead
    (else its commander) was nagged about. Unique per deadline, so any number of clocks nag
    once per missed update."""

    class Kind(models.TextChoices):
        INITIAL = "initial", "Initial notification"
        UPDATE = "update", "Stakeholder update"

    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="cadence_nags"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    due_at = models.DateTimeField(help_text="The deadline that was missed.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["major_incident", "due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["major_incident", "kind", "due_at"], name="cadence_nag_once"
            )
        ]

    def __str__(self):
        return f"{self.major_incident_id} {self.kind} due {self.due_at:%Y-%m-%d %H:%M}"
