"""The targets the reports page and the metrics API hold each figure against
(incident-management-procedures: "Performance Metrics and KPIs"). One row per metric, seeded by
the migration and edited in the admin."""

from django.db import models

__all__ = ["VIEW_REPORTS", "MetricTarget", "TargetDirection"]

VIEW_REPORTS = "postmortems.view_reports"


class TargetDirection(models.TextChoices):
    BELOW = "below", "Below the target is good"
    ABOVE = "above", "Above the target is good"


class MetricTarget(models.Model):
    """`value` is in the metric's own unit: seconds for durations, a percentage for rates."""

    metric = models.CharField(max_length=40, unique=True)
    direction = models.CharField(max_length=5, choices=TargetDirection.choices)
    value = models.FloatField(help_text="Seconds for a duration, a percentage for a rate.")

    class Meta:
        ordering = ["metric"]
        permissions = [("view_reports", "Can read the reports page and the metrics API")]

    def __str__(self):
        return f"{self.metric} {self.direction} {self.value:g}"

    def met_by(self, figure: float | None) -> bool | None:
        """Whether `figure` meets the target; None when there is no figure."""
        if figure is None:
            return None
        if self.direction == TargetDirection.BELOW:
            return figure < self.value
        return figure > self.value
