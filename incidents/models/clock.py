"""What the clock has handed to the worker (incidents/clock.py)."""

from django.db import models

__all__ = ["ClockClaim"]


class ClockClaim(models.Model):
    """A due row the clock queued a firing task for: until `until` no clock queues it again.

    The firing task deletes it once the row is fired. A firing that failed leaves it with a
    pause that doubles with each failure (`failures`), so one broken row neither floods the
    worker nor holds up other deadlines; a task lost with its worker is queued again when the
    claim runs out."""

    work = models.CharField(max_length=40, help_text="The kind of deadline ('sla', …).")
    row = models.BigIntegerField(help_text="The primary key of the due row.")
    until = models.DateTimeField(help_text="No clock queues the row again before this.")
    failures = models.PositiveIntegerField(default=0, help_text="Failed firings in a row.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["work", "row"], name="clock_claim_once"),
        ]

    def __str__(self):
        return f"{self.work} {self.row} until {self.until:%H:%M:%S}"
