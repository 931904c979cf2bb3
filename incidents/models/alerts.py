"""Monitoring integrations and the alerts they send: a group of alerts opens one incident.

Writes go through incidents/alerts/ingest.py. Received payloads are kept raw for 30 days
(`RECEIVED_PAYLOAD_DAYS`, swept daily by incidents/alerts/tasks.py) so a mapping can be fixed
and a payload replayed.
"""

import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.alerts import mapping
from incidents.alerts import matchers as alert_matchers
from incidents.choices import (
    AlertStatus,
    ClearAction,
    IntegrationKind,
    PayloadOutcome,
    Priority,
    RefireAction,
)

__all__ = [
    "GROUP_KEY_MAX_LENGTH",
    "INTEGRATION_KEY_LENGTH",
    "RATE_LIMIT_WINDOW",
    "RECEIVED_PAYLOAD_DAYS",
    "Alert",
    "AlertGroup",
    "Integration",
    "ReceivedPayload",
    "RoutingRule",
]

INTEGRATION_KEY_LENGTH = 32  # as PagerDuty's routing keys: senders check the length
GROUP_KEY_MAX_LENGTH = 1000
RECEIVED_PAYLOAD_DAYS = 30
RATE_LIMIT_WINDOW = 300  # seconds: the window of `Integration.rate_limit`, as Grafana OnCall
DEFAULT_RATE_LIMIT = 300
# Where each kind's sender posts (PagerDuty senders: the key is the routing key).
SENDER_PATHS = {
    IntegrationKind.ALERTMANAGER: "/api/alerts/alertmanager/{key}/",
    IntegrationKind.GRAFANA: "/api/alerts/grafana/{key}/",
    IntegrationKind.PAGERDUTY: "/api/alerts/v2/enqueue",
    IntegrationKind.GENERIC: "/api/alerts/generic/{key}/",
}
MAPPED_PATHS = ("title_path", "dedup_key_path", "severity_path")
WEB_SCHEMES = ("https://", "http://")
# What an alert records, as the admin and the API show it.
ALERT_FIELDS = (
    "fingerprint",
    "status",
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "generator_url",
    "first_seen_at",
    "last_seen_at",
    "repeat_count",
)


def new_integration_key() -> str:
    return secrets.token_hex(INTEGRATION_KEY_LENGTH // 2)


class Integration(models.Model):
    """A monitoring source bound to a service, known by its secret key."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=IntegrationKind.choices)
    service = models.ForeignKey(
        "incidents.Service", on_delete=models.PROTECT, related_name="integrations"
    )
    key = models.CharField(
        max_length=INTEGRATION_KEY_LENGTH, unique=True, default=new_integration_key, editable=False
    )
    active = models.BooleanField(default=True, help_text="An inactive integration's key is 404.")
    on_refire = models.CharField(
        max_length=20,
        choices=RefireAction.choices,
        default=RefireAction.NEW_INCIDENT,
        help_text="What an alert firing again does once its incident is resolved.",
    )
    on_clear = models.CharField(
        max_length=20,
        choices=ClearAction.choices,
        default=ClearAction.RESOLVE,
        help_text="What the incident becomes when every alert of its group has resolved.",
    )
    signature_header = models.CharField(
        max_length=100,
        blank=True,
        help_text="Grafana: the header carrying the HMAC-SHA256 of the body (hex). "
        "Empty: no signature is checked.",
    )
    signature_secret = models.CharField(max_length=200, blank=True)
    resolve_after_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="A firing group with no new payload for this many minutes is resolved as "
        "if its alerts had. Empty: only the sender resolves.",
    )
    rate_limit = models.PositiveIntegerField(
        default=DEFAULT_RATE_LIMIT,
        validators=[MinValueValidator(1)],
        help_text="Requests taken per 5 minutes; more are answered 429.",
    )
    title_path = models.CharField(
        max_length=200, blank=True, help_text=f"Generic JSON: the title. {mapping.PATH_HELP}."
    )
    dedup_key_path = models.CharField(
        max_length=200,
        blank=True,
        help_text="Generic JSON: the key whose payloads are one alert (and one incident).",
    )
    severity_path = models.CharField(
        max_length=200,
        blank=True,
        help_text="Generic JSON: critical, error, warning or info (the priority). Optional.",
    )
    resolve_when = models.CharField(
        max_length=500,
        blank=True,
        help_text=f"Generic JSON: when a payload resolves its alert. {mapping.CONDITION_HELP}",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def path(self) -> str:
        """Where the sender posts."""
        return SENDER_PATHS[self.kind].format(key=self.key)

    def clean(self):
        if self.signature_header and not self.signature_secret:
            raise ValidationError(
                {"signature_secret": "A signature header needs the secret it is made with."}
            )
        if self.kind == IntegrationKind.GENERIC:
            self._clean_mapping()

    def _clean_mapping(self) -> None:
        """A generic integration needs a title and a dedup key path; every path and the
        condition must parse."""
        errors = {}
        for name in ("title_path", "dedup_key_path"):
            if not getattr(self, name):
                errors[name] = "A generic JSON integration needs this path."
        for name in MAPPED_PATHS:
            value = getattr(self, name)
            try:
                if value:
                    mapping.validate_path(value)
            except ValidationError as error:
                errors[name] = error.messages
        try:
            if self.resolve_when:
                mapping.parse_condition(self.resolve_when)
        except ValidationError as error:
            errors["resolve_when"] = error.messages
        if errors:
            raise ValidationError(errors)


class AlertGroup(models.Model):
    """The alerts one key groups (Alertmanager's groupKey, PagerDuty's dedup_key) and the
    incident they opened. At most one group per integration and key is firing: the partial
    unique constraint is what makes concurrent identical alerts open one incident."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="groups")
    key = models.CharField(max_length=GROUP_KEY_MAX_LENGTH)
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.CASCADE,
        related_name="alert_groups",
        null=True,  # only inside the transaction that opens the group
    )
    status = models.CharField(
        max_length=10, choices=AlertStatus.choices, default=AlertStatus.FIRING
    )
    title = models.CharField(max_length=200, blank=True)
    alert_count = models.PositiveIntegerField(default=0)
    firing_count = models.PositiveIntegerField(default=0)
    received_count = models.PositiveIntegerField(
        default=0, help_text="Payloads about this group, repeats included."
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "key"],
                condition=Q(status=AlertStatus.FIRING),
                name="alert_group_one_firing_per_key",
            )
        ]
        indexes = [models.Index(fields=["integration", "key"], name="alert_group_key_idx")]

    def __str__(self):
        return f"{self.integration} {self.key}"


class Alert(models.Model):
    """One alert of a group, by its fingerprint (PagerDuty: the dedup_key)."""

    group = models.ForeignKey(AlertGroup, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=GROUP_KEY_MAX_LENGTH)
    status = models.CharField(max_length=10, choices=AlertStatus.choices)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    generator_url = models.URLField(max_length=2000, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    repeat_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["first_seen_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "fingerprint"], name="alert_fingerprint_once_per_group"
            )
        ]

    def __str__(self):
        return f"{self.fingerprint} ({self.status})"

    @property
    def source_url(self) -> str:
        """The generator URL when it is a web address, the only kind a page links to (the
        sender wrote it: `javascript:` is text, not a link)."""
        return self.generator_url if self.generator_url.startswith(WEB_SCHEMES) else ""


class ReceivedPayload(models.Model):
    """A payload as an integration received it, kept RECEIVED_PAYLOAD_DAYS days. A pending one
    is the worker's to apply (incidents/alerts/drain.py), in the order of its primary key."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="payloads")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    body = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=20, choices=PayloadOutcome.choices)
    error = models.TextField(blank=True)
    group_key = models.CharField(
        max_length=GROUP_KEY_MAX_LENGTH,
        blank=True,
        help_text="The group it names (Alertmanager's groupKey, PagerDuty's dedup_key, or the "
        "key PagerDuty's answer gave a trigger that had none).",
    )
    group = models.ForeignKey(
        AlertGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="payloads"
    )
    replay_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replays",
        help_text="The payload this one replayed (through the integration's current mapping).",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # The worker's queue: what is pending, per integration, in order of arrival.
            models.Index(
                fields=["integration", "id"],
                name="received_payload_pending_idx",
                condition=models.Q(outcome=PayloadOutcome.PENDING),
            )
        ]

    def __str__(self):
        return f"{self.integration} {self.received_at:%Y-%m-%d %H:%M:%S} {self.outcome}"


class RoutingRule(models.Model):
    """Where a newly firing alert group's incident goes: the first enabled rule (by position)
    whose matchers hold for one of the group's firing alerts sets its service, team and
    priority, and may declare it a major incident. What a rule leaves empty comes from the
    integration (its service, the service's owning team) and the alert's severity."""

    position = models.PositiveIntegerField(
        default=0, help_text="Rules are tried in this order, lowest first; the first match wins."
    )
    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    integration = models.ForeignKey(
        Integration,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="routing_rules",
        help_text="Only alerts from this integration. Empty: from every integration.",
    )
    matchers = models.CharField(max_length=1000, blank=True, help_text=alert_matchers.HELP)
    service = models.ForeignKey(
        "incidents.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The incident's service. Empty: the integration's.",
    )
    team = models.ForeignKey(
        "incidents.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The team it is assigned to. Empty: the service's owning team.",
    )
    priority = models.CharField(
        max_length=2,
        choices=Priority.choices,
        blank=True,
        help_text="Empty: from the alert's severity (critical P1, error P2, warning P3, "
        "info P4; anything else P3).",
    )
    declare_major = models.BooleanField(
        default=False,
        verbose_name="declare a major incident",
        help_text="Declare the incident major as soon as it is opened, as the system.",
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name

    def clean(self):
        try:
            alert_matchers.parse(self.matchers)
        except ValidationError as error:
            raise ValidationError({"matchers": error.messages}) from None
