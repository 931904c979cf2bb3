"""What monitoring senders post, read into one shape: a `Notification` of `AlertIn`s.

The serializers take each sender's format as it is sent. They check the type of every field
they read and refuse what no database could store (DRF's CharField refuses NUL characters and
unpaired surrogates), but they ignore fields they do not know: a newer Alertmanager or Grafana
adds fields (Alertmanager 0.28 added `notification_reason` and `routeLabels`), and refusing
them would be a 4xx, which those senders drop for good. The raw body is kept anyway
(ReceivedPayload).
"""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from rest_framework import serializers

from incidents.alerts import mapping
from incidents.choices import AlertStatus, Priority
from incidents.models import GROUP_KEY_MAX_LENGTH
from itsm.errors import ValidationFailed
from itsm.validation import UNSTORABLE, UNSTORABLE_MESSAGE

# Go's zero time: Alertmanager's endsAt of an alert that has not ended.
GO_ZERO_YEAR = 1
SEVERITY_PRIORITY = {
    "critical": Priority.P1,
    "error": Priority.P2,
    "warning": Priority.P3,
    "info": Priority.P4,
}
DEFAULT_PRIORITY = Priority.P3
PAGERDUTY_SEVERITIES = tuple(SEVERITY_PRIORITY)
TEXT = {"allow_blank": True, "trim_whitespace": False}
REQUIRED = "This field is required."


@dataclass(frozen=True)
class AlertIn:
    fingerprint: str
    status: str
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""


@dataclass(frozen=True)
class Notification:
    """One payload: the alerts of one group, and what an incident they open is called."""

    group_key: str
    alerts: list[AlertIn]
    title: str
    description: str = ""
    severity: str = ""
    # Alerts the sender left out of a group it says is firing (Alertmanager's max_alerts):
    # the group is not cleared while some may still fire.
    truncated: int = 0
    refire_on_repeat: bool = False  # PagerDuty: every trigger after a resolve fires anew

    @property
    def firing(self) -> bool:
        return any(alert.status == AlertStatus.FIRING for alert in self.alerts)

    @property
    def priority(self) -> str:
        return SEVERITY_PRIORITY.get(self.severity.strip().lower(), DEFAULT_PRIORITY)


class LabelsField(serializers.DictField):
    """Prometheus labels and annotations: text names to text values."""

    child = serializers.CharField(**TEXT)

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", dict)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if any(UNSTORABLE.search(name) for name in value):
            raise serializers.ValidationError(f"Names: {UNSTORABLE_MESSAGE}")
        return value


class GoTimeField(serializers.DateTimeField):
    """An RFC 3339 time; Go's zero time (year 1) means none."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, default=None, **kwargs)

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        return None if parsed.year == GO_ZERO_YEAR else parsed


class AlertmanagerAlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    labels = LabelsField()
    annotations = LabelsField()
    startsAt = GoTimeField()
    endsAt = GoTimeField()
    generatorURL = serializers.CharField(required=False, max_length=2000, **TEXT)
    fingerprint = serializers.CharField(required=False, max_length=GROUP_KEY_MAX_LENGTH)


class AlertmanagerSerializer(serializers.Serializer):
    """Alertmanager's webhook (notify/webhook: version "4")."""

    alert_serializer = AlertmanagerAlertSerializer

    version = serializers.CharField(required=False, **TEXT)
    groupKey = serializers.CharField(max_length=GROUP_KEY_MAX_LENGTH)
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    receiver = serializers.CharField(required=False, **TEXT)
    groupLabels = LabelsField()
    commonLabels = LabelsField()
    commonAnnotations = LabelsField()
    externalURL = serializers.CharField(required=False, **TEXT)
    truncatedAlerts = serializers.IntegerField(required=False, min_value=0, default=0)

    def get_fields(self):
        fields = super().get_fields()
        fields["alerts"] = self.alert_serializer(many=True, allow_empty=False)
        return fields


class GrafanaAlertSerializer(AlertmanagerAlertSerializer):
    silenceURL = serializers.CharField(required=False, **TEXT)
    dashboardURL = serializers.CharField(required=False, **TEXT)
    panelURL = serializers.CharField(required=False, **TEXT)
    imageURL = serializers.CharField(required=False, **TEXT)
    values = serializers.DictField(
        child=serializers.FloatField(allow_null=True), required=False, allow_null=True
    )
    valueString = serializers.CharField(required=False, **TEXT)


class GrafanaSerializer(AlertmanagerSerializer):
    """Grafana alerting's webhook contact point (version "1"): Alertmanager's shape and more."""

    alert_serializer = GrafanaAlertSerializer

    orgId = serializers.IntegerField(required=False)
    title = serializers.CharField(required=False, **TEXT)
    state = serializers.CharField(required=False, **TEXT)
    message = serializers.CharField(required=False, **TEXT)


def _first(*values) -> str:
    return next((value for value in values if value), "")


def _fingerprint(labels: dict) -> str:
    """A fingerprint for an alert sent without one: its labels, sorted."""
    text = json.dumps(labels, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def prometheus_notification(data: dict) -> Notification:
    """An Alertmanager or Grafana payload (validated) as a Notification."""
    alerts = [
        AlertIn(
            fingerprint=alert.get("fingerprint") or _fingerprint(alert["labels"]),
            status=alert["status"],
            labels=alert["labels"],
            annotations=alert["annotations"],
            starts_at=alert["startsAt"],
            ends_at=alert["endsAt"],
            generator_url=alert.get("generatorURL", ""),
        )
        for alert in data["alerts"]
    ]
    common, first = data["commonAnnotations"], data["alerts"][0]
    labels = {**first["labels"], **data["commonLabels"]}
    firing = [a for a in data["alerts"] if a["status"] == AlertStatus.FIRING] or data["alerts"]
    return Notification(
        group_key=data["groupKey"],
        alerts=alerts,
        title=_first(
            common.get("summary"),
            first["annotations"].get("summary"),
            labels.get("alertname"),
            data.get("title"),
            data["groupKey"],
        ),
        description=_first(
            common.get("description"), first["annotations"].get("description"), data.get("message")
        ),
        severity=_highest_severity(a["labels"].get("severity", "") for a in firing),
        truncated=data["truncatedAlerts"] if data["status"] == AlertStatus.FIRING else 0,
    )


def _highest_severity(severities) -> str:
    order = list(SEVERITY_PRIORITY)
    known = [s.strip().lower() for s in severities if s.strip().lower() in order]
    return min(known, key=order.index) if known else ""


# --- PagerDuty Events API v2 -------------------------------------------------------------------


class LinkSerializer(serializers.Serializer):
    href = serializers.CharField(**TEXT)
    text = serializers.CharField(required=False, **TEXT)


class ImageSerializer(serializers.Serializer):
    src = serializers.CharField(**TEXT)
    href = serializers.CharField(required=False, **TEXT)
    alt = serializers.CharField(required=False, **TEXT)


class PagerDutyPayloadSerializer(serializers.Serializer):
    summary = serializers.CharField(max_length=1024)
    source = serializers.CharField(max_length=255)
    severity = serializers.ChoiceField(choices=PAGERDUTY_SEVERITIES)
    timestamp = serializers.DateTimeField(required=False, allow_null=True, default=None)
    component = serializers.CharField(required=False, **TEXT)
    group = serializers.CharField(required=False, **TEXT)
    # `class` is a Python keyword: declared in __init__.
    custom_details = serializers.JSONField(required=False, default=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["class"] = serializers.CharField(required=False, **TEXT)


class PagerDutyEventSerializer(serializers.Serializer):
    """An event of PagerDuty's Events API v2 (POST /v2/enqueue)."""

    routing_key = serializers.CharField(min_length=32, max_length=32)
    event_action = serializers.ChoiceField(choices=["trigger", "acknowledge", "resolve"])
    dedup_key = serializers.CharField(required=False, max_length=255)
    payload = PagerDutyPayloadSerializer(required=False)
    links = LinkSerializer(many=True, required=False)
    images = ImageSerializer(many=True, required=False)
    client = serializers.CharField(required=False, **TEXT)
    client_url = serializers.CharField(required=False, **TEXT)

    def validate(self, data):
        if data["event_action"] == "trigger" and "payload" not in data:
            raise serializers.ValidationError({"payload": "This field is required."})
        if data["event_action"] != "trigger" and not data.get("dedup_key"):
            raise serializers.ValidationError({"dedup_key": "This field is required."})
        return data


def pagerduty_dedup_key(data: dict, given: str = "") -> str:
    """The event's dedup_key; a trigger without one gets `given` (the key a first reading made
    up), else a new one (returned to the sender)."""
    return data.get("dedup_key") or given or uuid.uuid4().hex


def pagerduty_notification(data: dict, dedup_key: str) -> Notification:
    """A validated trigger or resolve as a Notification of one alert, keyed by dedup_key."""
    payload = data.get("payload") or {}
    trigger = data["event_action"] == "trigger"
    details = {k: payload[k] for k in ("source", "component", "group", "class") if payload.get(k)}
    custom = payload.get("custom_details")
    description = "\n".join(f"{name}: {value}" for name, value in details.items())
    if custom is not None:
        description += "\n\n" + json.dumps(custom, indent=2, sort_keys=True)
    links = data.get("links") or []
    alert = AlertIn(
        fingerprint=dedup_key,
        status=AlertStatus.FIRING if trigger else AlertStatus.RESOLVED,
        labels={**details, "severity": payload.get("severity", "")} if trigger else {},
        annotations={"summary": payload["summary"]} if trigger else {},
        starts_at=payload.get("timestamp"),
        generator_url=_first(data.get("client_url"), *(link["href"] for link in links))[:2000],
    )
    return Notification(
        group_key=dedup_key,
        alerts=[alert],
        title=payload.get("summary", dedup_key),
        description=description.strip(),
        severity=payload.get("severity", ""),
        refire_on_repeat=True,
    )


# --- generic JSON, read with the integration's mapping ------------------------------------------


def _text(data, path: str, errors: dict) -> str:
    """The text at `path` (a number is written as text); an error when absent or not text."""
    value = mapping.lookup(data, path)
    if value is mapping.MISSING or value is None or value == "":
        errors[path] = [REQUIRED]
    elif not isinstance(value, mapping.SCALARS) or isinstance(value, bool):
        errors[path] = ["Must be text or a number."]
    elif UNSTORABLE.search(str(value)):
        errors[path] = [UNSTORABLE_MESSAGE]
    else:
        return str(value)
    return ""


def generic_notification(data, integration) -> Notification:
    """A generic payload read with the integration's mapping; ValidationFailed naming each
    mapped path that is missing or unusable."""
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    title = _text(data, integration.title_path, errors)
    key = _text(data, integration.dedup_key_path, errors)
    severity = _text(data, integration.severity_path, errors) if integration.severity_path else ""
    if len(key) > GROUP_KEY_MAX_LENGTH:
        errors[integration.dedup_key_path] = [f"At most {GROUP_KEY_MAX_LENGTH} characters."]
    if errors:
        raise ValidationFailed.for_fields(errors)
    condition = integration.resolve_when
    resolved = bool(condition) and mapping.parse_condition(condition).holds(data)
    alert = AlertIn(
        fingerprint=key,
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        labels={"severity": severity} if severity else {},
        annotations={"summary": title},
    )
    return Notification(group_key=key, alerts=[alert], title=title, severity=severity)


def flat_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors by the path of each field: {"alerts[0].status": [...]}."""
    if isinstance(detail, dict):
        return {
            path: messages
            for name, value in detail.items()
            for path, messages in flat_errors(value, _path(prefix, name)).items()
        }
    if isinstance(detail, list) and detail and not all(isinstance(d, str) for d in detail):
        return {
            path: messages
            for index, item in enumerate(detail)
            if item
            for path, messages in flat_errors(item, f"{prefix}[{index}]").items()
        }
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or NON_FIELD: [str(message) for message in messages]}


NON_FIELD = "non_field_errors"


def _path(prefix: str, name) -> str:
    """A list's own error (empty, say) is under the list's name; its items' by index."""
    if isinstance(name, int):
        return f"{prefix}[{name}]"
    if not prefix:
        return name
    return prefix if name == NON_FIELD else f"{prefix}.{name}"


def pagerduty_errors(detail) -> list[str]:
    """The errors as PagerDuty words its own: "'payload.summary' this field is required."."""
    return [
        f"'{path}' {message[:1].lower()}{message[1:]}"
        for path, messages in flat_errors(detail).items()
        for message in messages
    ]
