"""Every API failure answers `{"error": {"code", "message", "fields"}}`."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from itsm.errors import ApplicationError

_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    415: "unsupported_media_type",
    429: "throttled",
}


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {
            key: [str(v) for v in value]
            if isinstance(value, list)
            else _field_errors(value)
            if isinstance(value, dict)
            else [str(value)]
            for key, value in detail.items()
        }
    return {}


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = _CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ValidationError):
        fields = (
            _field_errors(exc.detail)
            if isinstance(exc.detail, dict)
            else {"non_field_errors": [str(d) for d in exc.detail]}
        )
        message = "Invalid input: " + ", ".join(sorted(fields)) + "."
        body = {"error": {"code": "invalid", "message": message, "fields": fields}}
    else:
        detail = getattr(exc, "detail", "")
        body = {"error": {"code": code, "message": str(detail), "fields": {}}}
    response.data = body
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def api_not_found(request, exception=None):
    """A 404 for a path under /api/ that no route matches, in the API's error shape."""
    body = {"error": {"code": "not_found", "message": "No API endpoint here.", "fields": {}}}
    return JsonResponse(body, status=404)
