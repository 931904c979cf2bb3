"""Every API failure answers `{"error": {"code", "message", "fields"}}`."""

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
)
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from itsm.api.slashes import is_api_path
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


# What Django itself answers for a request under /api/ (itsm.urls routes its error handlers
# here): an unrouted path, an unreadable request, an unexpected exception.


def _error(status: int, code: str, message: str, **extra) -> JsonResponse:
    body = {"error": {"code": code, "message": message, "fields": {}, **extra}}
    return JsonResponse(body, status=status)


def api_bad_request(request, exception):
    """A request Django refused to read (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many
    fields)."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _error(400, "invalid", f"The request body is over {limit} bytes.")
    return _error(400, "invalid", "Bad request.")


def api_permission_denied(request, exception):
    return _error(403, "permission_denied", "You do not have permission to do this.")


def api_not_found(request, exception):
    """A path under /api/ that no route matches."""
    return _error(404, "not_found", "No API endpoint here.")


def api_server_error(request):
    """An unexpected exception; its traceback is logged with the same request id."""
    return _error(
        500,
        "server_error",
        "Something went wrong on the server. Quote the request_id when you report it.",
        request_id=request.request_id,
    )


class DebugApiErrorMiddleware:
    """In DEBUG, Django answers an exception, in a view or a middleware, with its technical
    page, which is HTML, and never calls the error handlers (`itsm.urls`). Under /api/ this
    answers such a page as those handlers would, in the API's shape. Django has logged the
    exception already, with its request id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not (settings.DEBUG and _is_debug_page(request, response)):
            return response
        handler = _DEBUG_REPLACEMENTS.get(response.status_code)
        replacement = handler(request, None) if handler else api_server_error(request)
        replacement._has_been_logged = True  # Django logged the page it replaces
        return replacement


def _is_debug_page(request, response) -> bool:
    return (
        is_api_path(request.path_info)
        and response.status_code >= 400
        and response.get("Content-Type", "").startswith("text/html")
    )


_DEBUG_REPLACEMENTS = {400: api_bad_request, 403: api_permission_denied, 404: api_not_found}
