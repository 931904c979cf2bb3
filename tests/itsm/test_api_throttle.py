"""Bad bearer tokens: after API_AUTH_FAILURE_LIMIT from one address within the window, that
address gets 429 in the API's error shape until the window ends, a good token included."""

from collections import Counter
from datetime import timedelta

import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from itsm.models import AuthEvent
from itsm.services import token_create
from tests.conftest import api_error, forget_failures

LIST = "/api/incidents/"


def get(address, raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client.get(LIST, REMOTE_ADDR=address)


def guess(address, times):
    return Counter(get(address, f"itsm_guess-{n}").status_code for n in range(times))


def test_the_eleventh_bad_token_in_ten_minutes_gets_429(address):
    with time_machine.travel(timezone.now(), tick=False):
        assert guess(address, 15) == {401: 10, 429: 5}

        response = get(address, "itsm_one-more-guess")

    api_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 600
    assert "Too many failed authentication attempts" in response.json()["error"]["message"]


def test_a_throttled_address_is_refused_a_good_token_too(responder, address):
    _, raw = token_create(user=responder)
    guess(address, 10)

    api_error(get(address, raw), 429, "throttled")
    assert get(f"{address}1", raw).status_code == 200  # another address is not held back
    forget_failures(f"{address}1")


def test_the_address_may_try_again_when_the_window_ends(responder, address):
    _, raw = token_create(user=responder)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        guess(address, 11)
        wait = int(get(address, raw)["Retry-After"])

        clock.shift(timedelta(seconds=wait))
        assert get(address, raw).status_code == 200


def test_reaching_the_limit_is_audited_once(address):
    guess(address, 14)

    lockouts = AuthEvent.objects.filter(kind="locked_out")
    assert [(e.ip_address, e.detail) for e in lockouts] == [(address, {"via": "api_token"})]
