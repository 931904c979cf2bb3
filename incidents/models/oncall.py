"""On-call schedules and escalation policies.

A schedule has rotations (layers): ordered members taking turns of a fixed length from a
hand-off moment; a later layer wins where it has someone, and an override beats every layer.
An escalation policy is a ladder of timed levels; each incident gets one `EscalationStep` per
level (and repeat round) with its `due_at` in an indexed column, fired once by the clock.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from incidents.models.sla import validate_time_zone

__all__ = [
    "EscalationLevel",
    "EscalationPolicy",
    "EscalationStep",
    "Rotation",
    "RotationMember",
    "Schedule",
    "ScheduleOverride",
]


class Schedule(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    team = models.ForeignKey(
        "incidents.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="schedules",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Rotation(models.Model):
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=100)
    layer = models.PositiveSmallIntegerField(
        default=1, help_text="Where layers overlap, the highest layer with someone on call wins."
    )
    handoff_at = models.DateTimeField(help_text="The first hand-off; turns are counted from here.")
    shift_length = models.DurationField(default=timedelta(days=7))
    ends_at = models.DateTimeField(null=True, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="RotationMember", related_name="rotations"
    )

    class Meta:
        ordering = ["schedule", "-layer"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "layer"], name="rotation_layer_once"),
            models.CheckConstraint(
                condition=Q(shift_length__gt=timedelta(0)), name="rotation_shift_positive"
            ),
        ]

    def __str__(self):
        return f"{self.schedule}: {self.name}"


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["rotation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "position"], name="rotation_position_once")
        ]

    def __str__(self):
        return f"{self.rotation} #{self.position}: {self.user}"


class ScheduleOverride(models.Model):
    """Someone covers a schedule for a while (holiday swap, sick cover): a shift taken or
    given from the on-call page, the API or the admin."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who set it up: the person on call, whoever gave them the shift, or a manager.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["schedule", "starts_at", "ends_at"], name="override_span_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")), name="override_starts_before_end"
            )
        ]

    def __str__(self):
        return f"{self.schedule}: {self.user} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M}"


class EscalationPolicy(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    repeat_count = models.PositiveSmallIntegerField(
        default=0, help_text="Run the whole ladder again this many times while nobody acknowledges."
    )

    class Meta:
        verbose_name_plural = "escalation policies"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="one_default_escalation_policy",
            )
        ]

    def __str__(self):
        return self.name


class EscalationLevel(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100, help_text="e.g. Secondary on-call")
    delay = models.DurationField(help_text="After the incident's start, without acknowledgement.")
    priorities = models.JSONField(
        default=list, blank=True, help_text='Only for these priorities, e.g. ["P1"]; empty: all.'
    )
    target_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    target_teams = models.ManyToManyField("incidents.Team", blank=True, related_name="+")
    target_schedules = models.ManyToManyField(Schedule, blank=True, related_name="+")

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="escalation_level_once")
        ]

    def __str__(self):
        return f"{self.policy} #{self.position} {self.name} (+{self.delay})"

    def applies_to(self, priority: str) -> bool:
        return not self.priorities or priority in self.priorities


class EscalationStep(models.Model):
    """One level of one incident's escalation, due at a fixed time; fired at most once."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="escalation_steps"
    )
    level = models.ForeignKey(EscalationLevel, on_delete=models.CASCADE, related_name="+")
    round = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    paged = models.JSONField(default=list, blank=True, help_text="Usernames paged when it fired.")

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "level", "round"], name="escalation_step_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="escalation_pending_idx",
                condition=Q(fired_at__isnull=True, cancelled_at__isnull=True),
            )
        ]

    def __str__(self):
        return f"{self.incident_id} level {self.level_id} round {self.round} due {self.due_at}"
