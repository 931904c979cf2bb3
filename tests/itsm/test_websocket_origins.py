"""Only the portal's own pages may open its websockets (itsm/origins.py), through the whole ASGI
application. A visitor who is not signed in shows which side of the check a handshake fell on:
refused at the handshake (None), or accepted and then told to sign in (4401)."""

import pytest

from tests.warroom._ws import close_code, in_event_loop

ROOM = "INC0000001"
ACCEPTED = 4401  # past the origin check; then refused as not signed in
REFUSED = None  # refused at the handshake

# No query is made, but the consumer's hops to the database thread check its connection.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_channel_layers")]


@in_event_loop
async def test_a_page_may_connect_only_from_the_origin_the_portal_serves():
    for host, origin, outcome in [
        (b"testserver", b"http://testserver", ACCEPTED),
        (b"127.0.0.1:8000", b"http://127.0.0.1:8000", ACCEPTED),
        (b"testserver", b"http://evil.example", REFUSED),
        (b"127.0.0.1:8000", b"http://evil.example:8000", REFUSED),
        (b"127.0.0.1:8000", b"http://127.0.0.1:9999", REFUSED),  # another port of our host
        (b"127.0.0.1:8000", b"https://127.0.0.1:9999", REFUSED),
        (b"127.0.0.1:8000", b"http://127.0.0.1", REFUSED),
        (b"127.0.0.1:8000", b"https://127.0.0.1:8000", REFUSED),  # served over plain http
        (b"testserver", b"https://testserver", REFUSED),
        (b"testserver", b"null", REFUSED),  # a sandboxed frame or a file:// page
        (b"testserver", None, REFUSED),  # no Origin: no browser
        (b"evil.example", b"http://evil.example", REFUSED),  # a host not in ALLOWED_HOSTS
    ]:
        assert await close_code(None, ROOM, host=host, origin=origin) == outcome, (host, origin)


@in_event_loop
async def test_over_tls_only_the_https_origin_is_accepted():
    for origin, outcome in [(b"https://testserver", ACCEPTED), (b"http://testserver", REFUSED)]:
        assert await close_code(None, ROOM, origin=origin, scheme="wss") == outcome, origin


@in_event_loop
async def test_behind_a_tls_proxy_the_forwarded_scheme_decides():
    forwarded = [(b"x-forwarded-proto", b"https")]
    proxy, stranger = ("127.0.0.1", 40000), ("203.0.113.9", 40000)  # FORWARDED_ALLOW_IPS: proxy
    for client, origin, outcome in [
        (proxy, b"https://testserver", ACCEPTED),
        (proxy, b"http://testserver", REFUSED),
        # a client that is not the proxy cannot claim TLS it does not have
        (stranger, b"https://testserver", REFUSED),
        (stranger, b"http://testserver", ACCEPTED),
    ]:
        code = await close_code(None, ROOM, origin=origin, headers=forwarded, client=client)
        assert code == outcome, (client, origin)


@in_event_loop
async def test_csrf_trusted_origins_are_accepted_exactly_and_by_wildcard(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://portal.example.org", "https://*.itsm.example.org"]
    for origin, outcome in [
        (b"https://portal.example.org", ACCEPTED),
        (b"https://eu.itsm.example.org", ACCEPTED),
        (b"http://portal.example.org", REFUSED),
        (b"https://portal.example.org:8443", REFUSED),
        (b"http://eu.itsm.example.org", REFUSED),
        (b"https://itsm.example.org.evil.example", REFUSED),
    ]:
        assert await close_code(None, ROOM, origin=origin) == outcome, origin
