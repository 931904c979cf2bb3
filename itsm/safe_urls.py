"""Where outbound webhooks may post: http(s) URLs whose host resolves only to public addresses.

A webhook URL is typed by a manager and fetched by the worker from inside the network, so a URL
naming a private, loopback or link-local address (the cloud's metadata service at
169.254.169.254, the database, an admin port) would let it reach what it must not. The URL is
checked when it is saved (its host resolved), and every attempt is sent through
`public_session()`, which checks the address the socket actually connected to: a name that
resolved to a public address when checked and to a private one a moment later (DNS rebinding)
is refused before a byte is sent. `WEBHOOKS_ALLOW_PRIVATE` lifts both (and allows plain http),
for a lab or the tests; plain http is also allowed with DEBUG.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

DEFAULT_PORTS = {"http": 80, "https": 443}


def url_refusal(url: str, *, resolve: bool = True) -> str:
    """Why `url` may not receive webhooks, or "" when it may. Resolves its host unless
    `resolve` is false (a sender that checks the address it connects to instead)."""
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
    if allow_private or not resolve:
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


# --- sending: the address connected to ---------------------------------------------------------


class PrivateAddressRefused(OSError):
    """The connection reached an address webhooks may not post to; nothing was sent."""


class _PublicPeer:
    """A urllib3 connection that, once connected, refuses a peer that is not public."""

    def _new_conn(self):
        sock = super()._new_conn()
        if settings.WEBHOOKS_ALLOW_PRIVATE:
            return sock
        address = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
        if not is_public(address):
            sock.close()
            raise PrivateAddressRefused(
                f"{self.host} connected to {address}, which is not a public address."
            )
        return sock


class _PublicHTTPConnection(_PublicPeer, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicPeer, HTTPSConnection):
    pass


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPPool,
            "https": _PublicHTTPSPool,
        }


def public_session() -> requests.Session:
    """A requests session that posts only to the public addresses it connects to (unless
    WEBHOOKS_ALLOW_PRIVATE). It ignores HTTP(S)_PROXY: through a proxy, the peer checked would
    be the proxy."""
    session = requests.Session()
    session.trust_env = False
    adapter = _PublicAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
