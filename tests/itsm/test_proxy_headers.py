"""The client address comes from X-Forwarded-For only on connections from a configured proxy
(FORWARDED_ALLOW_IPS), whatever ASGI server runs the portal."""

import re

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.core.signals import request_started

from itsm.asgi import application
from itsm.models import AuthEvent

# Middleware may read the session or the user; the test database, not a flushed one.
pytestmark = pytest.mark.django_db


def client_seen(peer: str, headers: dict) -> tuple:
    """The client address and scheme Django is handed for a request from `peer`."""
    seen = []

    def record(sender, scope=None, **kwargs):
        seen.append((scope["client"][0], scope["scheme"]))

    async def get():
        transport = httpx.ASGITransport(app=application, client=(peer, 51000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.get("/healthz/live", headers=headers)

    request_started.connect(record)
    try:
        assert async_to_sync(get)().status_code == 200
    finally:
        request_started.disconnect(record)
    return seen[0]


SPOOFED = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}


def test_a_client_cannot_choose_its_address_or_scheme():
    assert client_seen("203.0.113.9", SPOOFED) == ("203.0.113.9", "http")


def test_the_configured_proxy_is_believed():
    assert client_seen("127.0.0.1", SPOOFED) == ("198.51.100.7", "https")


def sign_in_attempts(peer: str, forwarded_for: list[str], username: str) -> list[int]:
    """Wrong-password sign-ins through the whole ASGI application from `peer`, each claiming
    another X-Forwarded-For; the status of each answer."""

    async def attempts():
        transport = httpx.ASGITransport(app=application, client=(peer, 51000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            form = await http.get("/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
            statuses = []
            for address in forwarded_for:
                answer = await http.post(
                    "/login/",
                    data={"username": username, "password": "wrong", "csrfmiddlewaretoken": token},
                    headers={"X-Forwarded-For": address},
                )
                statuses.append(answer.status_code)
            return statuses

    return async_to_sync(attempts)()


# Each request ends by closing the database connection, as in a server: a committed database.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_client_cannot_escape_a_lockout_by_claiming_other_addresses(responder):
    claimed = [f"198.51.100.{n}" for n in range(1, 8)]

    statuses = sign_in_attempts("203.0.113.9", claimed, responder.username)

    assert statuses == [200] * 4 + [429] * 3  # the fifth failure locks out
    logged = set(AuthEvent.objects.values_list("ip_address", flat=True))
    assert logged == {"203.0.113.9"}
