"""A portal session ends after SESSION_IDLE_TIMEOUT (8 h) without a request, and after
SESSION_MAX_LIFETIME (24 h) since sign-in however busy it is."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from itsm.models import AuthEvent

DASHBOARD = reverse("incidents:dashboard")


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def assert_signed_in(client):
    assert client.get(DASHBOARD).status_code == 200


def assert_signed_out(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_eight_idle_hours_sign_out(clock, signed_in, responder):
    client = signed_in(responder)
    clock.shift(timedelta(hours=4))
    assert_signed_in(client)

    clock.shift(timedelta(hours=7, minutes=59))
    assert_signed_in(client)  # idle for less than 8 h: still in, and the idle clock restarts

    clock.shift(timedelta(hours=8))
    assert_signed_out(client)
    assert AuthEvent.objects.filter(kind="logout").get().detail == {"reason": "idle"}


def test_twenty_four_hours_after_sign_in_sign_out_however_busy(clock, signed_in, responder):
    client = signed_in(responder)
    for _ in range(11):
        clock.shift(timedelta(hours=2))
        assert_signed_in(client)

    clock.shift(timedelta(hours=2))
    assert_signed_out(client)
    assert AuthEvent.objects.filter(kind="logout").get().detail == {"reason": "lifetime"}


def test_signing_in_again_starts_a_new_lifetime(clock, signed_in, responder):
    client = signed_in(responder)
    clock.shift(timedelta(hours=20))
    client = signed_in(responder)

    for _ in range(3):
        clock.shift(timedelta(hours=6))
        assert_signed_in(client)  # 26, 32, 38 h after the first sign-in

    clock.shift(timedelta(hours=6))
    assert_signed_out(client)  # 24 h after the second


def test_the_timeouts_come_from_the_settings(clock, signed_in, responder, settings):
    settings.SESSION_IDLE_TIMEOUT = 15 * 60
    client = signed_in(responder)

    clock.shift(timedelta(minutes=15))
    assert_signed_out(client)
