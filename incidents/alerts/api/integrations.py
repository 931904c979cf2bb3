"""Monitoring senders post here, each in its own format, authenticated only by the
integration's key (in the path, or as `Authorization: Bearer <key>`): no session, no CSRF.

These endpoints speak the senders' protocols, not the portal API's, so they are plain views
outside the OpenAPI schema (docs/alerts.md describes them): the PagerDuty endpoint answers
exactly as PagerDuty does, and fields a newer sender adds are ignored rather than refused
(incidents/alerts/parsing.py). A payload that passes the checks is kept and answered 202 at
once; the worker applies it (incidents/alerts/intake.py). Alertmanager retries on 5xx and
drops on 4xx: a failure we may recover from (the database) stays a 5xx.
"""

import hashlib

from django.db import IntegrityError
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers

from incidents.alerts import ingest, intake, parsing, receive, services
from incidents.choices import IntegrationKind, PayloadOutcome
from incidents.models import RATE_LIMIT_WINDOW, Integration, Service
from incidents.models.alerts import SENDER_PATHS
from itsm.api import throttle, viewsets
from itsm.api.fields import TextLookupField
from itsm.api.serializers import StrictModelSerializer
from itsm.errors import ValidationFailed

MAX_BODY = 512 * 1024
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For")
THROTTLED = {
    "error": {
        "code": "throttled",
        "message": "Over this integration's rate limit: retry after the Retry-After seconds.",
        "fields": {},
    }
}
# PagerDuty's own answer over its rate limit (two spaces after the full stop, as it sends it).
PAGERDUTY_THROTTLED = {
    "status": "throttle exceeded",
    "message": "Requests for this service are arriving too quickly.  Please retry later.",
}


def _error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message, "fields": fields or {}}}, status=status
    )


def _bearer(request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _too_big(request) -> bool:
    try:
        return int(request.headers.get("Content-Length") or 0) > MAX_BODY
    except ValueError:
        return False


def _received(request, integration: Integration) -> ingest.Received:
    names = (*KEPT_HEADERS, integration.signature_header)
    headers = {name: request.headers[name] for name in names if name and name in request.headers}
    body = request.body.decode("utf-8", "replace").replace("\x00", "\ufffd")
    return ingest.Received(body=body, headers=headers)


def _seconds_throttled(integration: Integration) -> int:
    """Count this request against the integration's rate limit: 0 while under it, else the
    seconds until its window ends. The counter is named by a hash of the key, not the key."""
    name = "alert-integration:" + hashlib.sha256(integration.key.encode()).hexdigest()[:24]
    count, left = throttle.counted(name, RATE_LIMIT_WINDOW)
    return left if count > integration.rate_limit else 0


def _throttled(integration: Integration, received, body: dict) -> JsonResponse | None:
    """The 429 (with Retry-After) of a request over the rate limit, its payload kept as
    throttled and nothing else changed; None under the limit."""
    wait = _seconds_throttled(integration)
    if not wait:
        return None
    ingest.payload_record(
        integration=integration, received=received, outcome=PayloadOutcome.THROTTLED
    )
    response = JsonResponse(body, status=429)
    response["Retry-After"] = str(wait)
    return response


@method_decorator(csrf_exempt, name="dispatch")
class _Receiver(View):
    http_method_names = ["post"]

    def dispatch(self, request, *args, **kwargs):
        """A request whose integration another process deleted while this one still held it
        (KEY_CACHE_SECONDS) fails its payload's foreign key: it is answered again with this
        process's copies dropped, so as an unknown key, not as a 500 the sender retries."""
        try:
            return super().dispatch(request, *args, **kwargs)
        except IntegrityError:
            intake.integrations_forget()
            return super().dispatch(request, *args, **kwargs)

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = _error(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
        response["Allow"] = "POST"
        return response


class AlertmanagerReceiver(_Receiver):
    """POST /api/alerts/alertmanager/{key}/ and /api/alerts/grafana/{key}/."""

    kind = IntegrationKind.ALERTMANAGER

    def post(self, request, key: str = ""):
        if _too_big(request):
            return _error(413, "too_large", f"The body is over {MAX_BODY} bytes.")
        integration = intake.integration_for_key(key or _bearer(request), self.kind)
        if integration is None:
            return _error(404, "not_found", "No integration has this key.")
        if len(request.body) > MAX_BODY:
            return _error(413, "too_large", f"The body is over {MAX_BODY} bytes.")
        received = _received(request, integration)
        throttled = _throttled(integration, received, THROTTLED)
        if throttled is not None:
            return throttled
        if not receive.signed(integration, request.headers, request.body):
            ingest.payload_record(
                integration=integration, received=received, outcome=PayloadOutcome.BAD_SIGNATURE
            )
            return _error(401, "not_authenticated", "The signature does not match the body.")
        try:
            payload = intake.payload_accept(integration, received)
        except ValidationFailed as error:
            return JsonResponse(error.as_dict(), status=400)
        return JsonResponse({"status": "accepted", "payload": payload.pk}, status=202)


class GenericReceiver(AlertmanagerReceiver):
    """POST /api/alerts/generic/{key}/: any JSON object, read with the integration's mapping
    (incidents/alerts/mapping.py)."""

    kind = IntegrationKind.GENERIC


class GrafanaReceiver(AlertmanagerReceiver):
    """Grafana's webhook; when the integration names a signature header, the body's
    HMAC-SHA256 (hex) under its secret must be in it."""

    kind = IntegrationKind.GRAFANA


# --- PagerDuty Events API v2 -------------------------------------------------------------------


def _pagerduty_invalid(errors: list[str], status: int = 400) -> JsonResponse:
    return JsonResponse(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        status=status,
    )


class PagerDutyReceiver(_Receiver):
    """POST /api/alerts/v2/enqueue: PagerDuty's Events API v2, answered as PagerDuty does."""

    def post(self, request):
        if _too_big(request) or len(request.body) > MAX_BODY:
            return _pagerduty_invalid([f"Request body is over {MAX_BODY} bytes"], status=413)
        try:
            data = receive.pagerduty_object(request.body)
        except ValidationFailed as error:
            return _pagerduty_invalid([error.message])
        key = data.get("routing_key") or _bearer(request)
        if not key:
            return _pagerduty_invalid(["'routing_key' this field is required."])
        if not isinstance(key, str):
            return _pagerduty_invalid(["'routing_key' must be a string."])
        integration = intake.integration_for_key(key, IntegrationKind.PAGERDUTY)
        if integration is None:
            return _pagerduty_invalid(["Unknown routing key"], status=404)
        received = _received(request, integration)
        throttled = _throttled(integration, received, PAGERDUTY_THROTTLED)
        if throttled is not None:
            return throttled
        try:
            payload = intake.payload_accept(integration, received)
        except ValidationFailed as error:
            return _pagerduty_invalid(parsing.pagerduty_errors(error.fields))
        return JsonResponse(
            {"status": "success", "message": "Event processed", "dedup_key": payload.group_key},
            status=202,
        )


# --- integrations (the portal's API) -----------------------------------------------------------


class IntegrationSerializer(StrictModelSerializer):
    kind = serializers.ChoiceField(
        choices=[(kind, IntegrationKind(kind).label) for kind in SENDER_PATHS]
    )
    service = TextLookupField(slug_field="slug", queryset=Service.objects.all())
    signature_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=200
    )
    url = serializers.SerializerMethodField(
        help_text="Where the sender posts (PagerDuty senders: the key is the routing key)."
    )

    class Meta:
        model = Integration
        fields = [
            "id",
            "name",
            "kind",
            "service",
            "key",
            "url",
            "active",
            "on_refire",
            "on_clear",
            "resolve_after_minutes",
            "signature_header",
            "signature_secret",
            "rate_limit",
            "title_path",
            "dedup_key_path",
            "severity_path",
            "resolve_when",
            "created_at",
        ]
        read_only_fields = ["id", "key", "created_at"]

    def get_url(self, integration) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(integration.path) if request else integration.path


@extend_schema_view(
    list=extend_schema(summary="List monitoring integrations"),
    create=extend_schema(summary="Add a monitoring integration: its key and the URL to paste"),
)
class IntegrationViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    serializer_class = IntegrationSerializer
    queryset = Integration.objects.select_related("service")
    action_permissions = {
        "list": "incidents.view_integration",
        "create": "incidents.add_integration",
    }

    def perform_create(self, serializer):
        serializer.instance = services.integration_create(
            actor=self.request.user, **serializer.validated_data
        )
