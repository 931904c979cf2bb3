"""Every request gets an id, answered in the X-Request-ID header and written into Django's log
line of its error, so that what a client quotes (the header, or a 500's `request_id`) finds the
traceback. A client's own X-Request-ID is kept when it is a short token; anything else is
replaced, so that a log line never carries what a client made up."""

import logging
import re
import uuid

HEADER = "X-Request-ID"
SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _incoming(request) -> str | None:
    value = request.headers.get(HEADER, "")
    return value if SANE.fullmatch(value) else None


class RequestIdMiddleware:
    """The first middleware: the id exists before anything else can fail."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = _incoming(request) or uuid.uuid4().hex
        response = self.get_response(request)
        response[HEADER] = request.request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Appends the request's id to a `django.request` record ("Internal Server Error: /api/…
    [request_id=…]"): Django logs each error of a request there, with the request attached."""

    def filter(self, record):
        request_id = getattr(getattr(record, "request", None), "request_id", None)
        if request_id and not hasattr(record, "request_id"):  # once, however often configured
            record.request_id = request_id
            record.msg = f"{record.getMessage()} [request_id={request_id}]"
            record.args = ()
        return True
