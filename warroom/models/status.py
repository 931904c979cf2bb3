"""The public status page: its components (grouped), the public face of incidents with the
updates posted about them, and scheduled maintenances (docs/status-page.md).

Nothing here is read from an incident for the public except what a person posted: an incident
is on the page once it has a status update, under the name that update gave it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from incidents.models import Incident, Service
from warroom.choices import ComponentStatus, Indicator, MaintenanceStatus, StatusIncidentStatus

__all__ = [
    "COMPONENT_DESCRIPTION_MAX_LENGTH",
    "MANAGE_MAINTENANCE_PERMISSION",
    "MANAGE_STATUS_PERMISSION",
    "POST_STATUS_PERMISSION",
    "STATUS_BODY_MAX_LENGTH",
    "STATUS_NAME_MAX_LENGTH",
    "VIEW_STATUS_PERMISSION",
    "AffectedComponent",
    "ComponentGroup",
    "Maintenance",
    "MaintenanceUpdate",
    "StatusComponent",
    "StatusImpact",
    "StatusIncident",
    "StatusUpdate",
]

STATUS_NAME_MAX_LENGTH = 200
STATUS_BODY_MAX_LENGTH = 10_000
COMPONENT_DESCRIPTION_MAX_LENGTH = 500
VIEW_STATUS_PERMISSION = "warroom.view_statuscomponent"
MANAGE_STATUS_PERMISSION = "warroom.change_statuscomponent"
POST_STATUS_PERMISSION = "warroom.add_statusupdate"
MANAGE_MAINTENANCE_PERMISSION = "warroom.change_maintenance"


def _status_field(**kwargs):
    return models.CharField(max_length=20, choices=ComponentStatus.choices, **kwargs)


class ComponentGroup(models.Model):
    """A heading on the status page that components are listed under."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class StatusComponent(models.Model):
    """One line of the status page: usually a service of the CMDB, under a public name."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.CharField(
        max_length=COMPONENT_DESCRIPTION_MAX_LENGTH, blank=True, help_text="Shown publicly."
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="status_components",
        help_text="The service of the CMDB this component shows (never named publicly).",
    )
    group = models.ForeignKey(
        ComponentGroup,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="components",
    )
    position = models.PositiveIntegerField(default=0, help_text="Order within its group.")
    public = models.BooleanField(
        default=True, help_text="Shown on the status page. A private component is never shown."
    )
    status_override = _status_field(
        blank=True,
        help_text="Set by hand: the page shows this state whatever incidents say. Empty: "
        "derived from open public incidents, then maintenances.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status_override__in=["", *ComponentStatus.values]),
                name="component_override_valid",
            )
        ]

    def __str__(self):
        return self.name


class StatusIncident(models.Model):
    """An incident as the status page shows it: created by its first status update, and kept
    in step by every later one (status, impact, monitoring and resolution times)."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="status_incident"
    )
    name = models.CharField(max_length=STATUS_NAME_MAX_LENGTH, help_text="Shown publicly.")
    status = models.CharField(max_length=20, choices=StatusIncidentStatus.choices)
    impact = models.CharField(
        max_length=10,
        choices=Indicator.choices,
        default=Indicator.NONE,
        help_text="The worst any affected component got to, as Statuspage's impact.",
    )
    started_at = models.DateTimeField(help_text="When the impact began.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    monitoring_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="status_incident_status_idx"),
            models.Index(fields=["resolved_at"], name="status_incident_resolved_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=StatusIncidentStatus.values),
                name="status_incident_status_valid",
            )
        ]

    def __str__(self):
        return f"{self.incident_id}: {self.name}"

    @property
    def is_resolved(self) -> bool:
        return self.status == StatusIncidentStatus.RESOLVED


class StatusUpdate(models.Model):
    """One public update of an incident: what the page, the JSON and the feeds show."""

    status_incident = models.ForeignKey(
        StatusIncident, on_delete=models.CASCADE, related_name="updates"
    )
    status = models.CharField(max_length=20, choices=StatusIncidentStatus.choices)
    body = models.TextField(max_length=STATUS_BODY_MAX_LENGTH, help_text="Markdown; public.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Never shown publicly. Empty when posted by the system.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status_incident", "-created_at"], name="status_update_idx"),
            models.Index(fields=["-created_at", "-id"], name="status_update_recent_idx"),
        ]

    def __str__(self):
        return f"{self.status_incident_id} {self.status} at {self.created_at:%Y-%m-%d %H:%M}"


class AffectedComponent(models.Model):
    """A component's state before and after one update (Statuspage's `affected_components`)."""

    update = models.ForeignKey(
        StatusUpdate, on_delete=models.CASCADE, related_name="affected_components"
    )
    component = models.ForeignKey(StatusComponent, on_delete=models.PROTECT, related_name="+")
    old_status = _status_field()
    new_status = _status_field()

    class Meta:
        ordering = ["update", "component__position", "component__name"]
        constraints = [
            models.UniqueConstraint(fields=["update", "component"], name="affected_once")
        ]

    def __str__(self):
        return f"{self.component_id}: {self.old_status} → {self.new_status}"


class StatusImpact(models.Model):
    """A component a public incident affects: its state as the latest update left it, and
    the worst state it reached. What a component's derived state and its uptime bars read,
    in one query however many updates were posted."""

    status_incident = models.ForeignKey(
        StatusIncident, on_delete=models.CASCADE, related_name="impacts"
    )
    component = models.ForeignKey(StatusComponent, on_delete=models.CASCADE, related_name="impacts")
    status = _status_field()
    worst_status = _status_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["status_incident", "component"], name="status_impact_once"
            )
        ]

    def __str__(self):
        return f"{self.status_incident_id} {self.component_id}: {self.status}"


class Maintenance(models.Model):
    """A planned window during which its components are under maintenance (while it is in
    progress or being verified)."""

    name = models.CharField(max_length=STATUS_NAME_MAX_LENGTH)
    status = models.CharField(
        max_length=20, choices=MaintenanceStatus.choices, default=MaintenanceStatus.SCHEDULED
    )
    scheduled_for = models.DateTimeField()
    scheduled_until = models.DateTimeField()
    auto_transition = models.BooleanField(
        default=True,
        help_text="The clock moves it to in progress at scheduled_for and to completed at "
        "scheduled_until, each with a public note by the system. Off: people move it.",
    )
    components = models.ManyToManyField(StatusComponent, related_name="maintenances", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    verifying_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        indexes = [
            models.Index(fields=["status", "scheduled_for"], name="maintenance_status_idx"),
            models.Index(fields=["status", "scheduled_until"], name="maintenance_end_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MaintenanceStatus.values), name="maintenance_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(scheduled_until__gt=models.F("scheduled_for")),
                name="maintenance_window_valid",
            ),
        ]

    def __str__(self):
        return self.name


class MaintenanceUpdate(models.Model):
    maintenance = models.ForeignKey(Maintenance, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=20, choices=MaintenanceStatus.choices)
    body = models.TextField(max_length=STATUS_BODY_MAX_LENGTH, help_text="Markdown; public.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.maintenance_id} {self.status}"
