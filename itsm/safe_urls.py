"""Where outbound webhooks may post: http(s) URLs whose host resolves only to public addresses.

A webhook URL is typed by a manager and fetched by the worker from inside the network, so a URL
naming a private, loopback or link-local address (the cloud's metadata service at
169.254.169.254, the database, an admin port) would let it reach what it must not. The check
runs when the URL is saved and again before every attempt, since DNS may change in between.
`WEBHOOKS_ALLOW_PRIVATE` lifts it (and allows plain http), for a lab or the tests; plain http
is also allowed with DEBUG.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

DEFAULT_PORTS = {"http": 80, "https": 443}


def url_refusal(url: str) -> str:
    """Why `url` may not receive webhooks, or "" when it may. Resolves its host."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return "Not a valid URL."
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return "Use an http or https URL."
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE
    if parts.scheme == "http" and not (allow_private or settings.DEBUG):
        return "Use https."
    if allow_private:
        return ""
    return _address_refusal(parts.hostname, port)


def _address_refusal(host: str, port: int) -> str:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return f"{host} does not resolve."
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not is_public(address):
            return f"{host} resolves to {address}, which is not a public address."
    return ""


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A globally routable unicast address (an IPv4-mapped IPv6 address judged as its IPv4)."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return address.is_global and not address.is_multicast


def validate_webhook_url(url: str) -> None:
    """The model field's validator: the admin's form and the API's serializer both run it."""
    refusal = url_refusal(url)
    if refusal:
        raise ValidationError(refusal, code="refused_url")
