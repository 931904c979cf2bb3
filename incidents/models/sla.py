"""SLA policies, business calendars and the timers that run on every incident.

A timer's deadlines live in indexed columns (`next_due_at`), so the clock finds what is due
with one index range scan whatever the number of incidents; a fired deadline is recorded in
`SlaDeadline`, unique per timer and kind, so it is acted on once even with several clocks.
"""

from datetime import time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.choices import DeadlineKind, Priority, SlaKind, SlaTimerState, Weekday
from incidents.sla.business_time import WorkingCalendar

__all__ = [
    "BusinessCalendar",
    "Holiday",
    "SlaDeadline",
    "SlaPolicy",
    "SlaTarget",
    "SlaTimer",
    "WorkingHours",
]


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a name too long
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/London).") from exc


class BusinessCalendar(models.Model):
    """Working hours per weekday in a time zone, and holidays: the clock of business-time
    targets."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def working_calendar(self) -> WorkingCalendar:
        """The arithmetic view of this calendar (uses prefetched hours and holidays)."""
        hours: dict[int, list[tuple[time, time]]] = {}
        for interval in self.hours.all():
            hours.setdefault(interval.weekday, []).append((interval.start, interval.end))
        return WorkingCalendar(
            time_zone=ZoneInfo(self.time_zone),
            hours={day: tuple(sorted(spans)) for day, spans in hours.items()},
            holidays=frozenset(h.date for h in self.holidays.all()),
        )


class WorkingHours(models.Model):
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        verbose_name_plural = "working hours"
        ordering = ["weekday", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=models.F("end")), name="hours_start_before_end"
            )
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_calendar")
        ]

    def __str__(self):
        return f"{self.date} {self.name}"


class SlaPolicy(models.Model):
    """Targets per priority. One policy is the default; a service may name its own."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    warning_percent = models.PositiveSmallIntegerField(
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Warn when this share of a target has elapsed.",
    )
    pause_on_hold = models.BooleanField(
        default=True, help_text="Timers stop counting while the incident is on hold."
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text="Used by targets measured in business time.",
    )

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_sla_policy"
            )
        ]

    def __str__(self):
        return self.name


class SlaTarget(models.Model):
    """How long one kind of timer may run for one priority under a policy. No row: no timer."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=2, choices=Priority.choices)
    kind = models.CharField(max_length=20, choices=SlaKind.choices)
    duration = models.DurationField(help_text="e.g. 00:15:00, or 8:00:00 of business time.")
    business_time = models.BooleanField(
        default=False, help_text="Count only the policy calendar's working hours."
    )

    class Meta:
        verbose_name = "SLA target"
        ordering = ["policy", "priority", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority", "kind"], name="sla_target_once"),
            models.CheckConstraint(
                condition=Q(duration__gt=timedelta(0)), name="sla_target_positive"
            ),
        ]

    def __str__(self):
        clock = " business" if self.business_time else ""
        return f"{self.policy} {self.priority} {self.get_kind_display()}: {self.duration}{clock}"


class SlaTimer(models.Model):
    """One kind of deadline on one incident.

    `paused_seconds` is measured in the timer's own time base (wall-clock or business), so
    `target_at = start + duration + paused` in that base, and a priority change re-targets from
    the original start. `next_due_at` is the next moment the clock must act (the warning, then
    the breach); it is null when nothing is pending.
    """

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="sla_timers"
    )
    kind = models.CharField(max_length=20, choices=SlaKind.choices)
    state = models.CharField(
        max_length=10, choices=SlaTimerState.choices, default=SlaTimerState.RUNNING
    )
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="+")
    duration = models.DurationField()
    business_time = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    warn_at = models.DateTimeField()
    target_at = models.DateTimeField()
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.FloatField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True, help_text="Met or cancelled at.")

    class Meta:
        verbose_name = "SLA timer"
        ordering = ["target_at"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "kind"], name="sla_timer_once_per_kind")
        ]
        indexes = [
            models.Index(
                fields=["next_due_at"],
                name="sla_timer_due_idx",
                condition=Q(next_due_at__isnull=False),
            ),
            # /metrics counts the open timers at every scrape: the few, not every timer ever.
            models.Index(
                fields=["kind", "state"],
                name="sla_timer_open_idx",
                condition=Q(stopped_at__isnull=True),
            ),
            # The dashboard's "Breaching soon": the open timers by target, so its lists read
            # the few rows they show and its counts only the open timers.
            models.Index(
                fields=["target_at"],
                name="sla_timer_open_target_idx",
                condition=Q(stopped_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.incident_id} {self.kind} {self.state} → {self.target_at:%Y-%m-%d %H:%M}"

    def refresh_next_due(self) -> None:
        """The next moment the clock must act: the warning, then the breach; none once the
        timer is not running or both have fired."""
        if self.state != SlaTimerState.RUNNING or self.breached_at is not None:
            self.next_due_at = None
        elif self.warned_at is None and self.warn_at < self.target_at:
            self.next_due_at = self.warn_at
        else:
            self.next_due_at = self.target_at

    def remaining(self, now=None):
        """Wall-clock time left (negative when overdue); None once stopped."""
        if self.state in (SlaTimerState.MET, SlaTimerState.CANCELLED):
            return None
        return self.target_at - (now or timezone.now())


class SlaDeadline(models.Model):
    """A warning or breach the clock acted on. Unique per timer and kind: however many clocks
    run, and however often one retries, a deadline fires once."""

    timer = models.ForeignKey(SlaTimer, on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField(max_length=10, choices=DeadlineKind.choices)
    due_at = models.DateTimeField(help_text="The moment it fell due (the target).")
    recorded_at = models.DateTimeField(default=timezone.now, help_text="When the clock wrote it.")

    class Meta:
        verbose_name = "SLA deadline"
        ordering = ["due_at"]
        constraints = [models.UniqueConstraint(fields=["timer", "kind"], name="sla_deadline_once")]

    def __str__(self):
        return f"{self.timer_id} {self.kind} due {self.due_at:%Y-%m-%d %H:%M:%S}"
