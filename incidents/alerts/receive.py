"""A received body read as its integration's kind reads it: what the endpoints
(incidents/alerts/api/integrations.py), a replay (incidents/alerts/services.py) and the worker
(incidents/alerts/drain.py) share, so every payload is read the same way."""

import hashlib
import hmac
import json
from dataclasses import dataclass

from incidents.alerts import parsing
from incidents.choices import IntegrationKind
from incidents.models import Integration
from itsm.errors import ValidationFailed

PROMETHEUS_SERIALIZERS = {
    IntegrationKind.ALERTMANAGER: parsing.AlertmanagerSerializer,
    IntegrationKind.GRAFANA: parsing.GrafanaSerializer,
}


def body_json(body: bytes):
    """The body's JSON; ValueError when it is none (or nested beyond the parser)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply.") from None


def _json_or_invalid(body: bytes):
    try:
        return body_json(body)
    except ValueError as error:
        raise ValidationFailed(f"The body is not JSON: {error}") from None


def body_digest(body: str) -> bytes:
    """What a process remembers a body by (bodies repeat in a storm; keeping them whole would
    cost up to 512 KB each)."""
    return hashlib.blake2b(body.encode(), digest_size=16).digest()


def signed(integration: Integration, headers, body: bytes) -> bool:
    """Grafana: when the integration names a signature header, the body's HMAC-SHA256 (hex)
    under its secret must be in it. `headers` is looked up without regard to case."""
    if not integration.signature_header:
        return True
    wanted = integration.signature_header.lower()
    given = next((value for name, value in headers.items() if name.lower() == wanted), "")
    given = given.strip().lower().removeprefix("sha256=")
    expected = hmac.new(integration.signature_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.encode(), expected.encode())  # any text, never a TypeError


def _notification(integration: Integration, body: bytes) -> parsing.Notification:
    """An Alertmanager, Grafana or generic JSON body as a Notification; ValidationFailed
    naming each bad field."""
    data = _json_or_invalid(body)
    if integration.kind == IntegrationKind.GENERIC:
        return parsing.generic_notification(data, integration)
    serializer = PROMETHEUS_SERIALIZERS[integration.kind](data=data)
    if not serializer.is_valid():
        raise ValidationFailed.for_fields(parsing.flat_errors(serializer.errors))
    return parsing.prometheus_notification(serializer.validated_data)


def pagerduty_object(body: bytes) -> dict:
    """A PagerDuty body's JSON object; ValidationFailed in PagerDuty's words when it is none."""
    try:
        data = body_json(body)
    except ValueError:
        raise ValidationFailed("Event object is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValidationFailed("Event object must be a JSON object")
    return data


def pagerduty_event(data: dict, integration: Integration, dedup_key: str = "") -> tuple[dict, str]:
    """A PagerDuty event (a JSON object) validated, and its dedup key (`dedup_key` when the
    event has none: the one the first reading gave it); ValidationFailed naming each bad
    field. The routing key may come as a bearer token instead: the integration's."""
    if not data.get("routing_key"):
        data = {**data, "routing_key": integration.key}
    serializer = parsing.PagerDutyEventSerializer(data=data)
    if not serializer.is_valid():
        raise ValidationFailed.for_fields(parsing.flat_errors(serializer.errors))
    event = serializer.validated_data
    return event, parsing.pagerduty_dedup_key(event, dedup_key)


@dataclass(frozen=True)
class Reading:
    """A body as its integration reads it: the alerts of one group, or (PagerDuty) the
    sender's acknowledge of the group."""

    group_key: str
    notification: parsing.Notification | None = None  # None: an acknowledge

    @property
    def same_as(self) -> tuple:
        """What two readings of one group share when the second is a pure repeat of the first
        (every alert as it was): applying both is applying one and counting the other."""
        notification = self.notification
        if notification is None:
            return ("acknowledge",)
        alerts = tuple((a.fingerprint, a.status, a.starts_at) for a in notification.alerts)
        return (alerts, notification.truncated)


def read(integration: Integration, body: bytes, group_key: str = "") -> Reading:
    """An Alertmanager, Grafana, generic or PagerDuty body read; ValidationFailed naming each
    bad field. `group_key`: a PagerDuty trigger's key when it brought none (the one the first
    reading made up and answered)."""
    if integration.kind != IntegrationKind.PAGERDUTY:
        notification = _notification(integration, body)
        return Reading(notification.group_key, notification)
    event, dedup_key = pagerduty_event(pagerduty_object(body), integration, group_key)
    if event["event_action"] == "acknowledge":
        return Reading(dedup_key)
    return Reading(dedup_key, parsing.pagerduty_notification(event, dedup_key))


def error_text(error: ValidationFailed, kind: str) -> str:
    """What a kept payload records of why it was refused: the fields and their reasons
    (PagerDuty: its own error lines), else the message."""
    if kind == IntegrationKind.PAGERDUTY:
        return "\n".join(parsing.pagerduty_errors(error.fields)) if error.fields else error.message
    return json.dumps(error.fields) if error.fields else error.message
