"""The targets the reports page and the metrics API hold each figure against
(incident-management-procedures: "Performance Metrics and KPIs"). One row per metric, seeded by
the migration and edited in the admin. And the per-incident rollup the figures aggregate."""

from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from incidents.choices import IncidentSource, Priority
from incidents.models import Incident, Service, Team

__all__ = ["VIEW_REPORTS", "IncidentRollup", "MetricTarget", "RollupService", "TargetDirection"]

VIEW_REPORTS = "postmortems.view_reports"


class TargetDirection(models.TextChoices):
    BELOW = "below", "Below the target is good"
    ABOVE = "above", "Above the target is good"


class MetricTarget(models.Model):
    """`value` is in the metric's own unit: seconds for durations, a percentage for rates."""

    metric = models.CharField(max_length=40, unique=True)
    direction = models.CharField(max_length=5, choices=TargetDirection.choices)
    value = models.FloatField(
        validators=[MinValueValidator(0)],
        help_text="Seconds for a duration, a percentage for a rate, an amount for revenue.",
    )

    history = HistoricalRecords()

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


class IncidentRollup(models.Model):
    """One incident's measures, as postmortems/metrics/definitions.py computes them from its
    timeline, alert groups and SLA timers, with the incident's fields a report selects and
    groups by, stored so that a report aggregates this one narrow table instead of
    recomputing every measure (postmortems/metrics/rollup.py keeps it current). Durations in
    seconds, NULL when not measurable."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, primary_key=True, related_name="metric_rollup"
    )
    # Copied from the incident.
    created_at = models.DateTimeField(db_index=True)
    priority = models.CharField(max_length=2, choices=Priority.choices)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, null=True, related_name="+")
    source = models.CharField(max_length=20, choices=IncidentSource.choices)
    # The measures.
    mttd = models.FloatField(null=True)
    mtta = models.FloatField(null=True)
    mttr_response = models.FloatField(null=True)
    mttr_mitigate = models.FloatField(null=True)
    mttr_resolve = models.FloatField(null=True)
    false_positive = models.BooleanField()
    reopened = models.BooleanField()
    ever_resolved = models.BooleanField()
    # The review's estimate (None: no review, or not estimated).
    revenue_impact = models.FloatField(null=True)
    # When the latest earlier incident it recurs after was logged (None: none within the
    # recurrence window when the row was computed).
    recurs_after = models.DateTimeField(null=True, db_index=True)
    refreshed_at = models.DateTimeField()

    def __str__(self):
        return f"rollup of incident {self.incident_id}"


class RollupService(models.Model):
    """The incidents' service links (the incidents app's table, not one of its own), seen
    from the rollup rows, whose key is the incident's: a report groups and filters the rows by
    service without joining the incidents."""

    rollup = models.ForeignKey(
        IncidentRollup,
        on_delete=models.DO_NOTHING,
        db_column="incident_id",
        db_constraint=False,
        related_name="service_links",
    )
    service = models.ForeignKey(
        Service, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )

    class Meta:
        managed = False
        db_table = "incidents_incident_services"

    def __str__(self):
        return f"incident {self.rollup_id} on service {self.service_id}"
