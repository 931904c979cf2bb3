"""Repeated wrong passwords lock sign-in out, per username and address and per address, on the
portal's form and the admin's alike, for the cool-off."""

from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from axes.handlers.proxy import AxesProxyHandler
from django.core.cache.backends.locmem import LocMemCache
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone

from tests.conftest import forget_failures

PASSWORD = "pw-for-tests-only"  # tests.factories.UserFactory's
PORTAL = "/login/"
ADMIN = "/admin/login/"


@pytest.fixture
def clocked_cache(monkeypatch):
    """With Redis the cool-off is a key's expiry, kept by Redis's clock, which time-machine
    cannot move: these tests count in a local-memory cache instead, which it can."""
    handler = AxesProxyHandler.get_implementation()
    if hasattr(handler, "cache"):
        monkeypatch.setattr(handler, "cache", LocMemCache("lockout-clock", {}))


def sign_in(client, address, username, password, path=PORTAL):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client, address, username, times, path=PORTAL):
    for _ in range(times):
        response = sign_in(client, address, username, "wrong-password", path)
        assert response.status_code == 200, response.status_code  # the form, with its error
        assert "correct username and password" in response.content.decode()


def assert_locked_out(response, minutes=15):
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-ins" in page
    assert f"Try again in {minutes} minutes" in page
    assert response["Retry-After"] == str(minutes * 60)


def assert_signed_in(response, client):
    assert response.status_code == 302, response.status_code
    assert client.get(reverse("incidents:dashboard")).status_code == 200


def test_the_fifth_wrong_password_locks_out_and_the_right_one_is_then_refused(
    client, responder, address
):
    fail(client, address, "rita", 4)

    assert_locked_out(sign_in(client, address, "rita", "wrong-password"))
    assert_locked_out(sign_in(client, address, "rita", PASSWORD))
    assert client.get(reverse("incidents:dashboard")).status_code == 302  # still signed out


def test_sign_in_works_again_after_the_cooloff(client, responder, address, clocked_cache):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail(client, address, "rita", 4)
        assert_locked_out(sign_in(client, address, "rita", "wrong-password"))
        clock.shift(timedelta(minutes=10))
        assert_locked_out(sign_in(client, address, "rita", PASSWORD))  # restarts the cool-off

        clock.shift(timedelta(minutes=14, seconds=59))
        assert_locked_out(sign_in(client, address, "rita", PASSWORD))

        clock.shift(timedelta(minutes=15, seconds=1))
        assert_signed_in(sign_in(client, address, "rita", PASSWORD), client)


def test_a_lockout_holds_only_at_the_address_it_came_from(client, responder, address):
    fail(client, address, "rita", 4)
    assert_locked_out(sign_in(client, address, "rita", "wrong-password"))

    elsewhere = f"{address}1"
    assert_signed_in(sign_in(client, elsewhere, "rita", PASSWORD), client)
    forget_failures(elsewhere)


def test_one_address_guessing_at_many_usernames_is_locked_out(client, responder, address):
    for username in ("alice", "bob", "carol", "dave"):
        fail(client, address, username, 1)

    assert_locked_out(sign_in(client, address, "erin", "wrong-password"))
    assert_locked_out(sign_in(client, address, "rita", PASSWORD))


def test_the_admin_sign_in_counts_and_locks_with_the_portal(client, manager, address):
    fail(client, address, "mona", 3, path=ADMIN)
    fail(client, address, "mona", 1)

    assert_locked_out(sign_in(client, address, "mona", "wrong-password", path=ADMIN))
    assert_locked_out(sign_in(client, address, "mona", PASSWORD, path=ADMIN))
    assert_locked_out(sign_in(client, address, "mona", PASSWORD))


def test_limit_and_cooloff_come_from_the_settings(client, responder, address, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    fail(client, address, "rita", 1)

    assert_locked_out(sign_in(client, address, "rita", "wrong-password"), minutes=30)


def test_the_lockout_page_is_the_same_under_asgi(db):
    """The web server runs ASGI, where axes hands the page its arguments differently. Django's
    ASGI test client always comes from 127.0.0.1: a username no other test uses keeps its count
    from theirs, and the autouse fixture forgets the address's own count."""

    async def five_wrong_passwords():
        client = AsyncClient()
        for _ in range(5):
            response = await client.post(PORTAL, {"username": "asgi-ada", "password": "wrong"})
        return response

    assert_locked_out(async_to_sync(five_wrong_passwords)())


def test_signing_in_to_a_real_account_does_not_clear_the_count(client, responder, manager, address):
    for username in ("alice", "bob", "carol", "dave"):
        fail(client, address, username, 1)
    assert sign_in(client, address, "mona", PASSWORD).status_code == 302

    assert_locked_out(sign_in(client, address, "erin", "wrong-password"))
