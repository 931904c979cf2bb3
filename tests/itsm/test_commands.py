"""`manage.py create_token USERNAME` prints a working token as the last line of its output."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from itsm.models import ApiToken


def _create_token(*args) -> list[str]:
    out = StringIO()
    call_command("create_token", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def _status_with(raw: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client.get("/api/incidents/").status_code


def test_last_line_is_a_working_token(responder):
    lines = _create_token(responder.username)

    assert _status_with(lines[-1]) == 200
    assert ApiToken.objects.get().user == responder


def test_raw_token_is_printed_only_on_the_last_line(responder):
    lines = _create_token(responder.username)

    assert len(lines) >= 2
    assert all(lines[-1] not in line for line in lines[:-1])


def test_expiring_token_stops_working(responder):
    raw = _create_token(responder.username, "--expires-in-days", "2")[-1]

    assert _status_with(raw) == 200
    with time_machine.travel(timezone.now() + timedelta(days=2, minutes=1)):
        assert _status_with(raw) == 401


def test_token_gets_its_name(responder):
    _create_token(responder.username, "--name", "grafana")

    assert ApiToken.objects.get().name == "grafana"


def test_unknown_user_is_an_error(db):
    with pytest.raises(CommandError, match="ghost"):
        _create_token("ghost")
    assert not ApiToken.objects.exists()


def test_inactive_user_is_an_error(make_user):
    make_user("gone", is_active=False)

    with pytest.raises(CommandError):
        _create_token("gone")
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("days", ["0", "-3"])
def test_expiry_must_be_in_the_future(responder, days):
    with pytest.raises(CommandError):
        _create_token(responder.username, "--expires-in-days", days)
    assert not ApiToken.objects.exists()
