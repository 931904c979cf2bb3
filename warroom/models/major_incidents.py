"""Major incidents and their war rooms: roles, scratchpad revisions, bridge attendance, tasks,
presence, and the rules that declare a major incident by themselves."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords

from incidents.choices import Priority
from incidents.models import Incident
from itsm.models import ChatWebhook
from warroom.choices import (
    DeclarationTrigger,
    MajorIncidentState,
    RuleKind,
    WarRoomRole,
)

__all__ = [
    "BRIDGE_LINK_MAX_LENGTH",
    "DECLARE_PERMISSION",
    "NUMBER_PATTERN",
    "REASON_MAX_LENGTH",
    "SCRATCHPAD_MAX_LENGTH",
    "STATEMENT_MAX_LENGTH",
    "TASK_TITLE_MAX_LENGTH",
    "VIEW_PERMISSION",
    "WORK_PERMISSION",
    "BridgeAttendance",
    "DeclarationRule",
    "DeclarationWatch",
    "MajorIncident",
    "Presence",
    "RoleAssignment",
    "ScratchpadRevision",
    "WarRoomTask",
]

S = MajorIncidentState
NUMBER_PATTERN = "INC[0-9]{7}"  # an incident number in a URL: ASCII digits only
STATEMENT_MAX_LENGTH = 2000
BRIDGE_LINK_MAX_LENGTH = 500
REASON_MAX_LENGTH = 500
TASK_TITLE_MAX_LENGTH = 200
SCRATCHPAD_MAX_LENGTH = 100_000
VIEW_PERMISSION = "warroom.view_majorincident"
DECLARE_PERMISSION = "warroom.declare_majorincident"
WORK_PERMISSION = "warroom.work_warroom"


def _has_demotion_reason(major) -> bool:
    return bool(major.demotion_reason.strip())


class DeclarationRule(models.Model):
    """A criterion that declares a major incident by itself (SPEC §4). Editable in the admin."""

    kind = models.CharField(max_length=20, choices=RuleKind.choices, unique=True)
    enabled = models.BooleanField(default=True)
    priority = models.CharField(
        max_length=2,
        choices=Priority.choices,
        default=Priority.P1,
        help_text="The rule looks at incidents of this priority.",
    )
    threshold = models.PositiveIntegerField(
        help_text="Minutes without acknowledgement, or the number of affected users to exceed."
    )
    manager_schedule = models.ForeignKey(
        "incidents.Schedule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="manager schedule",
        help_text="Whoever is on call for this schedule when the rule declares is named major "
        "incident manager, and paged.",
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="fallback manager",
        help_text="Named major incident manager, and paged, when no schedule is chosen or "
        "nobody on it is on call.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["kind"]

    def __str__(self):
        return self.describe()

    def describe(self) -> str:
        if self.kind == RuleKind.UNACKNOWLEDGED:
            return f"{self.priority} not acknowledged within {self.threshold} minutes"
        return f"{self.priority} with more than {self.threshold} affected users"


class DeclarationWatch(models.Model):
    """An unacknowledged incident, and since when it has had its priority: the moment the
    `unacknowledged` rule counts from (warroom.rules). Due at `since` + the rule's threshold,
    computed in the query, so that a threshold edited in the admin applies to every pending
    watch at once. A fired or cancelled watch leaves the partial index and is never scanned
    again; one per incident, fired at most once."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="declaration_watch"
    )
    priority = models.CharField(max_length=2, choices=Priority.choices)
    since = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["priority", "since"],
                name="declaration_watch_pending_idx",
                condition=Q(fired_at__isnull=True, cancelled_at__isnull=True),
            )
        ]

    def __str__(self):
        return f"{self.incident_id} {self.priority} since {self.since}"


class MajorIncident(FSMModelMixin, models.Model):
    """One per incident. Its war room is the page at `get_absolute_url()`."""

    incident = models.OneToOneField(
        Incident, on_delete=models.PROTECT, related_name="major_incident"
    )
    state = FSMField(
        max_length=20, choices=MajorIncidentState.choices, default=S.ACTIVE, protected=True
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="managed_major_incidents",
        verbose_name="major incident manager",
    )
    bridge_link = models.URLField(max_length=BRIDGE_LINK_MAX_LENGTH, blank=True)
    initial_impact_statement = models.TextField(max_length=STATEMENT_MAX_LENGTH)
    trigger = models.CharField(
        max_length=20, choices=DeclarationTrigger.choices, default=DeclarationTrigger.MANUAL
    )
    trigger_detail = models.CharField(max_length=200, blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when a rule declared it.",
    )
    declared_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    demoted_at = models.DateTimeField(null=True, blank=True)
    demoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    demotion_reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    chat_webhooks = models.ManyToManyField(
        ChatWebhook,
        blank=True,
        related_name="major_incidents",
        help_text="Slack or Teams channels that receive the war room's timeline.",
    )
    # The scratchpad's current text; every version is a ScratchpadRevision row.
    scratchpad = models.TextField(blank=True, max_length=SCRATCHPAD_MAX_LENGTH)
    scratchpad_version = models.PositiveIntegerField(default=0)

    history = HistoricalRecords(excluded_fields=["scratchpad", "scratchpad_version"])

    class Meta:
        ordering = ["-declared_at", "-id"]
        permissions = [
            ("declare_majorincident", "Can declare and demote major incidents"),
            ("work_warroom", "Can write in war rooms"),
        ]
        indexes = [models.Index(fields=["state", "-declared_at"], name="major_state_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=MajorIncidentState.values), name="major_state_valid"
            )
        ]

    def __str__(self):
        return f"Major incident {self.number}"

    def get_absolute_url(self):
        return reverse("warroom:room", args=[self.number])

    @property
    def websocket_path(self) -> str:
        """The room's websocket (warroom/routing.py): websocket routes are not reversible."""
        return f"/ws/warroom/{self.number}/"

    @property
    def number(self) -> str:
        return self.incident.number

    @property
    def is_live(self) -> bool:
        """The room takes work while the incident is being fought or wrapped up."""
        return self.state in (S.ACTIVE, S.RESOLVED)

    @transition(field=state, source=S.ACTIVE, target=S.RESOLVED)
    def resolve(self):
        self.resolved_at = timezone.now()

    @transition(field=state, source=S.RESOLVED, target=S.ACTIVE)
    def reopen(self):
        self.resolved_at = None

    @transition(field=state, source=[S.ACTIVE, S.RESOLVED, S.DEMOTED], target=S.CLOSED)
    def close(self):
        self.closed_at = timezone.now()

    @transition(
        field=state,
        source=S.ACTIVE,
        target=S.DEMOTED,
        conditions=[_has_demotion_reason],
        permission=DECLARE_PERMISSION,
    )
    def demote(self):
        self.demoted_at = timezone.now()

    @transition(field=state, source=S.DEMOTED, target=S.ACTIVE, permission=DECLARE_PERMISSION)
    def redeclare(self):
        self.demoted_at = None
        self.demoted_by = None
        self.demotion_reason = ""


class ScratchpadRevision(models.Model):
    """Every accepted version of a war room's scratchpad: the base a late edit is merged from,
    and the record of who wrote what."""

    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="scratchpad_revisions"
    )
    version = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    merged = models.BooleanField(
        default=False, help_text="The edit was written against an older version and merged."
    )

    class Meta:
        ordering = ["major_incident", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["major_incident", "version"], name="scratchpad_version_once"
            )
        ]

    def __str__(self):
        return f"{self.major_incident_id} v{self.version}"


class RoleAssignment(models.Model):
    """Who holds a war-room role, and since when. Handing over ends one row and starts another."""

    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(max_length=30, choices=WarRoomRole.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["major_incident", "assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["major_incident", "role"],
                condition=Q(ended_at__isnull=True) & ~Q(role=WarRoomRole.SME),
                name="one_holder_per_role",
            ),
            models.UniqueConstraint(
                fields=["major_incident", "role", "user"],
                condition=Q(ended_at__isnull=True),
                name="role_held_once",
            ),
        ]

    def __str__(self):
        return f"{self.get_role_display()}: {self.user}"


class BridgeAttendance(models.Model):
    """One stay on the conference bridge."""

    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="bridge_attendance"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["major_incident", "joined_at", "id"]
        verbose_name_plural = "bridge attendance"
        constraints = [
            models.UniqueConstraint(
                fields=["major_incident", "user"],
                condition=Q(left_at__isnull=True),
                name="on_bridge_once",
            )
        ]

    def __str__(self):
        return f"{self.user} on {self.major_incident_id}"


class WarRoomTask(models.Model):
    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="tasks"
    )
    title = models.CharField(max_length=TASK_TITLE_MAX_LENGTH)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="warroom_tasks",
    )
    done = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["major_incident", "done", "created_at", "id"]

    def __str__(self):
        return self.title


class Presence(models.Model):
    """An open war-room page (one websocket). Rows of a process that died are ignored once
    `seen_at` is older than PRESENCE_TIMEOUT, and swept on the next join."""

    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="presence"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200, unique=True)
    connected_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["major_incident", "seen_at"], name="presence_seen_idx")]

    def __str__(self):
        return f"{self.user} in {self.major_incident_id}"
