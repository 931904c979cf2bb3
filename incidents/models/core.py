"""The incident core: teams, services (the CMDB), incidents with their lifecycle, the timeline.

Models hold fields, constraints and the FSM rules. Every write goes through services.py.
"""

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords

from incidents.choices import (
    ChangeSource,
    ChecklistItem,
    EventType,
    Impact,
    IncidentSource,
    IncidentStatus,
    Priority,
    ResolutionCode,
    ServiceTier,
    Urgency,
)

__all__ = [
    "BRIDGE_LINK_MAX_LENGTH",
    "MAX_AFFECTED_USERS",
    "REASON_MAX_LENGTH",
    "TEXT_MAX_LENGTH",
    "TITLE_MAX_LENGTH",
    "WORK_PERMISSION",
    "ChecklistEntry",
    "Incident",
    "IncidentEvent",
    "NumberCounter",
    "PriorityMatrixEntry",
    "Service",
    "Team",
]

TITLE_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 20_000
REASON_MAX_LENGTH = 2_000
MAX_AFFECTED_USERS = 2**31 - 1  # the largest value every database's integer column holds
WORK_PERMISSION = "incidents.work_incident"
BRIDGE_LINK_MAX_LENGTH = 500
WEB_LINK = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// link.")


class BridgeLinkField(models.URLField):
    """An optional http(s) link to a call; a form reads a link typed without a scheme as
    https (Django 6's default)."""

    default_validators = [WEB_LINK]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", BRIDGE_LINK_MAX_LENGTH)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs):
        return super().formfield(**{"assume_scheme": "https", **kwargs})


S = IncidentStatus


class Team(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    escalation_policy = models.ForeignKey(
        "incidents.EscalationPolicy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="teams",
        help_text="Used for this team's incidents when the service has none.",
    )
    chat_webhooks = models.ManyToManyField(
        "itsm.ChatWebhook",
        blank=True,
        related_name="+",
        help_text="Chat channels told about this team's incidents.",
    )
    default_bridge_link = BridgeLinkField(
        help_text="The call a major incident of this team starts with, when its services "
        "name none.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Service(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    tier = models.CharField(max_length=10, choices=ServiceTier.choices, default=ServiceTier.TIER_3)
    owner_team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="services", null=True, blank=True
    )
    user_count = models.PositiveIntegerField(
        default=0, help_text="People who use this service directly."
    )
    depends_on = models.ManyToManyField(
        "self",
        symmetrical=False,
        related_name="dependents",
        blank=True,
        help_text="Services this one needs to work.",
    )
    sla_policy = models.ForeignKey(
        "incidents.SlaPolicy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="services",
        help_text="Empty: the default SLA policy.",
    )
    escalation_policy = models.ForeignKey(
        "incidents.EscalationPolicy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="services",
        help_text="Empty: the owner team's, else the default.",
    )
    default_bridge_link = BridgeLinkField(
        help_text="The call (video or phone bridge) a major incident of this service starts with.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PriorityMatrixEntry(models.Model):
    """One cell of the impact × urgency → priority matrix; editable in the admin."""

    impact = models.PositiveSmallIntegerField(choices=Impact.choices)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices)
    priority = models.CharField(max_length=2, choices=Priority.choices)

    class Meta:
        verbose_name = "priority matrix entry"
        verbose_name_plural = "priority matrix"
        ordering = ["impact", "urgency"]
        constraints = [
            models.UniqueConstraint(
                fields=["impact", "urgency"], name="priority_matrix_cell_unique"
            )
        ]

    def __str__(self):
        return f"impact {self.impact} × urgency {self.urgency} → {self.priority}"


class NumberCounter(models.Model):
    """A locked counter for incident numbers where the database has no sequences (SQLite)."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.name}: {self.value}"


def _has_assignee(incident) -> bool:
    return incident.assignee_id is not None


def _has_hold_reason(incident) -> bool:
    return bool(incident.hold_reason.strip())


def _has_mitigation_note(incident) -> bool:
    return bool(incident.mitigation_note.strip())


def _has_resolution(incident) -> bool:
    return bool(incident.resolution_code) and bool(incident.resolution_notes.strip())


def _has_cancel_reason(incident) -> bool:
    return bool(incident.cancel_reason.strip())


def _checklist_complete(incident) -> bool:
    return not incident.missing_checklist_items()


def _no_person(incident, user) -> bool:
    """A transition only the system runs: its alerts clearing (incidents/alerts/)."""
    return False


class Incident(FSMModelMixin, models.Model):
    number = models.CharField(max_length=10, unique=True, editable=False)
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(blank=True, max_length=TEXT_MAX_LENGTH)
    impact = models.PositiveSmallIntegerField(choices=Impact.choices, default=Impact.MEDIUM)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices, default=Urgency.MEDIUM)
    priority = models.CharField(max_length=2, choices=Priority.choices, db_index=True)
    priority_overridden = models.BooleanField(
        default=False, help_text="Set by a manager instead of derived from impact × urgency."
    )
    status = FSMField(
        max_length=20, choices=IncidentStatus.choices, default=S.NEW, protected=True, db_index=True
    )
    services = models.ManyToManyField(Service, related_name="incidents", blank=True)
    team = models.ForeignKey(
        Team,
        on_delete=models.PROTECT,
        related_name="incidents",
        null=True,
        blank=True,
        verbose_name="assignment group",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="assigned_incidents",
        null=True,
        blank=True,
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="reported_incidents",
        null=True,
        blank=True,
    )
    source = models.CharField(
        max_length=20, choices=IncidentSource.choices, default=IncidentSource.PORTAL
    )
    affected_users = models.PositiveIntegerField(default=0)

    detected_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(default=timezone.now, help_text="When the impact began.")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    hold_reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    mitigation_note = models.TextField(blank=True, max_length=TEXT_MAX_LENGTH)
    resolution_code = models.CharField(max_length=30, choices=ResolutionCode.choices, blank=True)
    resolution_notes = models.TextField(blank=True, max_length=TEXT_MAX_LENGTH)
    cancel_reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="duplicates"
    )
    related_problem = models.CharField(max_length=40, blank=True)
    related_change = models.CharField(max_length=40, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    TIMESTAMP_FIELDS = (
        "detected_at",
        "started_at",
        "acknowledged_at",
        "mitigated_at",
        "resolved_at",
        "closed_at",
        "cancelled_at",
        "created_at",
        "updated_at",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("work_incident", "Can work incidents through their lifecycle"),
            ("override_priority", "Can override an incident's derived priority"),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="incident_recent_idx"),
            models.Index(fields=["status", "priority"], name="incident_status_priority_idx"),
            models.Index(fields=["assignee", "status"], name="incident_assignee_status_idx"),
            # Recent resolutions: the clock's sweep for post-incident reviews (every tick).
            models.Index(fields=["resolved_at"], name="incident_resolved_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values), name="incident_priority_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=IncidentStatus.values), name="incident_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("incidents:detail", args=[self.number])

    @property
    def is_open(self) -> bool:
        return self.status in {
            s.value for s in (S.NEW, S.ACKNOWLEDGED, S.INVESTIGATING, S.ON_HOLD, S.MITIGATED)
        }

    def missing_checklist_items(self) -> list[str]:
        ticked = {item.item for item in self.checklist.all()}
        return [key for key in ChecklistItem.values if key not in ticked]

    # --- Lifecycle (SPEC §1). Guards read fields the service sets before calling. ----------

    @transition(
        field=status,
        source=S.NEW,
        target=S.ACKNOWLEDGED,
        conditions=[_has_assignee],
        permission=WORK_PERMISSION,
    )
    def acknowledge(self):
        self.acknowledged_at = timezone.now()

    @transition(
        field=status, source=S.ACKNOWLEDGED, target=S.INVESTIGATING, permission=WORK_PERMISSION
    )
    def start(self):
        """Investigation begins; no guard."""

    @transition(
        field=status,
        source=[S.ACKNOWLEDGED, S.INVESTIGATING],
        target=S.ON_HOLD,
        conditions=[_has_hold_reason],
        permission=WORK_PERMISSION,
    )
    def hold(self):
        """SLA timers pause (as the policy says)."""

    @transition(field=status, source=S.ON_HOLD, target=S.INVESTIGATING, permission=WORK_PERMISSION)
    def resume(self):
        self.hold_reason = ""

    @transition(
        field=status,
        source=S.INVESTIGATING,
        target=S.MITIGATED,
        conditions=[_has_mitigation_note],
        permission=WORK_PERMISSION,
    )
    def mitigate(self):
        self.mitigated_at = timezone.now()

    @transition(
        field=status,
        source=[S.INVESTIGATING, S.MITIGATED],
        target=S.RESOLVED,
        conditions=[_has_resolution],
        permission=WORK_PERMISSION,
    )
    def resolve(self):
        self.resolved_at = timezone.now()

    # Monitoring's own mitigate and resolve: every alert of the incident has cleared, which may
    # come before anyone acknowledged it (a flapping alert). No person may run these; services
    # record them under the transitions' usual names.

    @transition(
        field=status,
        source=[S.NEW, S.ACKNOWLEDGED, S.INVESTIGATING],
        target=S.MITIGATED,
        conditions=[_has_mitigation_note],
        permission=_no_person,
    )
    def alerts_mitigate(self):
        self.mitigated_at = timezone.now()

    @transition(
        field=status,
        source=[S.NEW, S.ACKNOWLEDGED, S.INVESTIGATING, S.MITIGATED],
        target=S.RESOLVED,
        conditions=[_has_resolution],
        permission=_no_person,
    )
    def alerts_resolve(self):
        self.resolved_at = timezone.now()

    @transition(field=status, source=S.RESOLVED, target=S.INVESTIGATING, permission=WORK_PERMISSION)
    def reopen(self):
        self.reopen_count += 1
        self.resolved_at = None
        self.resolution_code = ""
        self.resolution_notes = ""

    @transition(
        field=status,
        source=S.RESOLVED,
        target=S.CLOSED,
        conditions=[_checklist_complete],
        permission=WORK_PERMISSION,
    )
    def close(self):
        self.closed_at = timezone.now()

    @transition(
        field=status,
        source=[S.NEW, S.ACKNOWLEDGED, S.INVESTIGATING],
        target=S.CANCELLED,
        conditions=[_has_cancel_reason],
        permission=WORK_PERMISSION,
    )
    def cancel(self):
        self.cancelled_at = timezone.now()


class ChecklistEntry(models.Model):
    """One ticked item of an incident's closure checklist: who ticked it, and when."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="checklist")
    item = models.CharField(max_length=30, choices=ChecklistItem.choices)
    ticked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    ticked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "checklist entries"
        constraints = [
            models.UniqueConstraint(fields=["incident", "item"], name="checklist_item_once")
        ]

    def __str__(self):
        return f"{self.incident.number}: {self.get_item_display()}"


class IncidentEvent(models.Model):
    """The incident's timeline: one row per thing that happened, from any source."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=20, choices=EventType.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    source = models.CharField(max_length=10, choices=ChangeSource.choices)
    at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    public = models.BooleanField(default=False, help_text="Shown on the public status page.")
    pinned = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["incident", "at", "id"], name="event_incident_at_idx"),
            # A live list page catching up on every incident's events since it was rendered.
            models.Index(fields=["at", "id"], name="event_at_idx"),
        ]

    def __str__(self):
        return f"{self.incident_id} {self.type} {self.summary}"
