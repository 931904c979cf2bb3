"""Bearer tokens: only a live token of an active user gets in; only its hash is stored."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from itsm.models import ApiToken, hash_token
from itsm.services import token_create, token_revoke
from tests.conftest import api_error

LIST = "/api/incidents/"


def _client(header=None):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def _assert_401(response):
    api_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_valid_token_gets_in(responder):
    _, raw = token_create(user=responder)

    response = _client(f"Bearer {raw}").get(LIST)

    assert response.status_code == 200


def test_missing_token_is_401():
    _assert_401(_client().get(LIST))


@pytest.mark.parametrize(
    "header",
    ["Bearer itsm_not-a-real-token", "Bearer ", "Bearer two words", "bearer itsm_nope"],
    ids=["wrong", "empty", "two-words", "lowercase-scheme-wrong-token"],
)
def test_wrong_or_malformed_token_is_401(responder, header):
    token_create(user=responder)

    _assert_401(_client(header).get(LIST))


def test_revoked_token_is_401(responder):
    token, raw = token_create(user=responder)
    token_revoke(token=token)

    _assert_401(_client(f"Bearer {raw}").get(LIST))


def test_token_works_until_it_expires(responder):
    _, raw = token_create(user=responder, expires_at=timezone.now() + timedelta(hours=1))
    client = _client(f"Bearer {raw}")

    assert client.get(LIST).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        _assert_401(client.get(LIST))


def test_token_of_a_deactivated_user_is_401(responder):
    _, raw = token_create(user=responder)
    responder.is_active = False
    responder.save()

    _assert_401(_client(f"Bearer {raw}").get(LIST))


def test_failed_authentication_on_a_write_changes_nothing(incident):
    response = _client("Bearer itsm_wrong").post(
        f"/api/incidents/{incident.number}/acknowledge/", {}, format="json"
    )

    _assert_401(response)
    incident.refresh_from_db()
    assert incident.status == "new"


def test_only_the_hash_is_stored(responder):
    token, raw = token_create(user=responder, name="ci")

    stored = ApiToken.objects.filter(pk=token.pk).values().get()

    assert not any(raw in str(value) for value in stored.values())
    assert stored["key_hash"] == hash_token(raw)
    assert raw.startswith(stored["hint"])
    assert len(stored["hint"]) < len(raw) // 2


def test_use_is_recorded(responder):
    token, raw = token_create(user=responder)

    _client(f"Bearer {raw}").get(LIST)

    token.refresh_from_db()
    assert token.last_used_at is not None


def test_each_token_is_different(responder):
    raws = {token_create(user=responder)[1] for _ in range(5)}

    assert len(raws) == 5
    assert all(len(raw) >= 40 for raw in raws)


def test_revoking_one_token_leaves_the_others_working(responder):
    first, first_raw = token_create(user=responder)
    _, second_raw = token_create(user=responder)
    token_revoke(token=first)

    _assert_401(_client(f"Bearer {first_raw}").get(LIST))
    assert _client(f"Bearer {second_raw}").get(LIST).status_code == 200
