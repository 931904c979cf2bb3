"""Which pages may open the portal's websockets: the portal's own, and no other site's.

A browser names the page that opens a websocket in the handshake's `Origin` header (scheme,
host and port), and sends the portal's session cookie whatever page opens it. Channels'
AllowedHostsOriginValidator compares host names only, so `http://portal:8000` passed for
`https://portal`, and so did a page of any other service on another port of an allowed host.
This applies the rule of Django's CSRF check for form posts instead: the origin must be exactly
the one the handshake was served on, or one of CSRF_TRUSTED_ORIGINS.

A handshake without `Origin` is refused: every browser sends one, and a script that is not a
browser can send the portal's origin like any other header.
"""

import io
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.utils.http import is_same_domain


class Handshake(ASGIRequest):
    """A websocket handshake as the HTTP GET it is, so that Django decides its host
    (ALLOWED_HOSTS) and scheme (the ASGI scope's, which a trusted TLS proxy's X-Forwarded-Proto
    sets: itsm.asgi) as for a page."""

    def __init__(self, scope):
        super().__init__({**scope, "method": "GET"}, io.BytesIO())

    def _get_scheme(self) -> str:
        return "https" if self.scope.get("scheme") == "wss" else "http"


def served_origin(request) -> str | None:
    """The origin the request was served on, or None when its host is not one of ours."""
    try:
        return f"{request.scheme}://{request.get_host()}"
    except DisallowedHost:
        return None


def is_trusted(origin: str) -> bool:
    """Whether CSRF_TRUSTED_ORIGINS names `origin`, exactly or by a `scheme://*.domain`
    entry, as Django's CSRF check reads the setting."""
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in trusted:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    wildcards = (urlsplit(entry) for entry in trusted if "*" in entry)
    return any(
        entry.scheme == parsed.scheme and is_same_domain(parsed.netloc, entry.netloc.lstrip("*"))
        for entry in wildcards
    )


def origin_allowed(request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return origin == served_origin(request) or is_trusted(origin)


class PortalOriginValidator:
    """ASGI middleware for websockets: refuses, at the handshake (HTTP 403), every page whose
    origin is not the portal's."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if origin_allowed(Handshake(scope)):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
