"""`Idempotency-Key` on API writes (itsm/idempotency.py, itsm/api/viewsets.py): a retry is
answered with the first answer and never writes twice."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from incidents import services
from incidents.models import Incident
from itsm.api.viewsets import WRITE_METHODS, WriteTransaction
from itsm.idempotency import idempotency_keys_sweep
from itsm.models import IdempotencyKey
from itsm.roles import Role
from itsm.services import token_create
from tests.concurrency import all_succeed
from tests.conftest import api_error

URL = "/api/incidents/"
BODY = {"title": "Checkout 500s", "priority": "P2"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _post(client, key, body=BODY, url=URL):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _answer(response) -> tuple:
    return response.status_code, response.content, response["Content-Type"]


@pytest.mark.django_db
def test_a_retry_replays_the_first_answer_and_writes_once(api, responder):
    client = api.as_user(responder)

    first = _post(client, "create-1")
    again = _post(client, "create-1")

    assert first.status_code == 201, first.content
    assert _answer(again) == _answer(first)
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Incident.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "retry",
    [
        {"body": {**BODY, "title": "Another"}},
        {"url": URL + "?format=json"},
    ],
    ids=["other body", "other path"],
)
def test_the_key_with_another_request_is_a_422(api, responder, retry):
    client = api.as_user(responder)
    _post(client, "k")

    response = _post(client, "k", **retry)

    api_error(response, 422, "idempotency_key_reused")
    assert "POST /api/incidents/" in response.json()["error"]["message"]
    assert Incident.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there"])
def test_a_malformed_key_is_a_400_naming_the_header(api, responder, key):
    response = _post(api.as_user(responder), key)

    assert set(api_error(response, 400, "invalid")) == {"Idempotency-Key"}
    assert not Incident.objects.exists()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_the_longest_key_is_taken(api, responder):
    key = "~" * 255
    assert _post(api.as_user(responder), key).status_code == 201
    assert IdempotencyKey.objects.get().key == key


@pytest.mark.django_db
def test_a_key_is_kept_24_hours(api, responder):
    client = api.as_user(responder)
    with time_machine.travel(T0, tick=False):
        _post(client, "daily")
    with time_machine.travel(T0 + timedelta(hours=24) - timedelta(seconds=1), tick=False):
        api_error(
            _post(client, "daily", body={**BODY, "title": "Next day"}),
            422,
            "idempotency_key_reused",
        )

    with time_machine.travel(T0 + timedelta(hours=24), tick=False):
        response = _post(client, "daily", body={**BODY, "title": "Next day"})

    assert response.status_code == 201, response.content
    assert "Idempotent-Replayed" not in response
    assert Incident.objects.count() == 2
    assert IdempotencyKey.objects.get().created_at == T0 + timedelta(hours=24)


@pytest.mark.django_db
def test_the_sweep_deletes_keys_older_than_24_hours(api, responder):
    client = api.as_user(responder)
    with time_machine.travel(T0, tick=False):
        _post(client, "old")
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        _post(client, "new")

    with time_machine.travel(T0 + timedelta(hours=24, minutes=30), tick=False):
        assert idempotency_keys_sweep() == 1

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db
def test_a_refused_write_is_kept_and_replayed(api, responder, incident):
    """A 409 (or 400) is the write's answer, under 500: the retry gets the same refusal even
    after the refusal's cause is gone; a corrected request takes a new key."""
    client = api.as_user(responder)
    url = f"/api/incidents/{incident.number}/start/"
    refused = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="start")
    api_error(refused, 409, "invalid_transition")
    client.post(f"/api/incidents/{incident.number}/acknowledge/", {}, format="json")

    again = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="start")

    assert _answer(again) == _answer(refused)
    assert again["Idempotent-Replayed"] == "true"
    assert Incident.objects.get(pk=incident.pk).status == "acknowledged"


@pytest.mark.django_db
def test_a_failed_write_keeps_nothing_and_runs_again(api, responder, monkeypatch):
    """A 500 rolls back the write and its key: the retry runs the write."""
    client = api.as_user(responder)
    client.raise_request_exception = False
    create = services.incident_create

    def create_then_fail(**kwargs):
        create(**kwargs)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "incident_create", create_then_fail)
    assert _post(client, "flaky").status_code == 500
    assert not Incident.objects.exists()
    assert not IdempotencyKey.objects.exists()
    monkeypatch.setattr(services, "incident_create", create)

    retried = _post(client, "flaky")

    assert retried.status_code == 201, retried.content
    assert "Idempotent-Replayed" not in retried
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_user(api, responder, manager):
    first = _post(api.as_user(responder), "shared")
    other = _post(api.as_user(manager), "shared")

    assert (first.status_code, other.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in other
    assert Incident.objects.count() == 2


@pytest.mark.django_db
def test_a_refused_permission_keeps_no_key(api, stakeholder):
    response = _post(api.as_user(stakeholder), "no")

    api_error(response, 403, "permission_denied")
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_a_write_without_a_key_is_unchanged(api, responder):
    first = api.as_user(responder).post(URL, BODY, format="json")
    second = api.post(URL, BODY, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert Incident.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_a_key_costs_four_queries(api, responder):
    """Its insert, the write's savepoint around it (two) and its answer's update."""
    client = api.as_user(responder)
    client.post(URL, BODY, format="json")  # the token's first use is written once
    with CaptureQueriesContext(connection) as without_key:
        client.post(URL, BODY, format="json")
    with CaptureQueriesContext(connection) as with_key:
        _post(client, "counted")

    assert len(with_key) == len(without_key) + 4


def _routed_views(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if hasattr(pattern, "url_patterns"):
            yield from _routed_views(pattern.url_patterns, route)
        elif isinstance(getattr(pattern.callback, "cls", None), type):
            yield route, pattern.callback


def test_every_api_view_that_writes_takes_keys():
    """Every DRF view routed with a write method derives from WriteTransaction (the alert
    senders' intake is plain Django, with its own dedupe)."""
    writers = {
        route: view.cls
        for route, view in _routed_views(get_resolver().url_patterns)
        if issubclass(view.cls, APIView)
        and {
            method.upper() for method in getattr(view, "actions", {}) or view.cls.http_method_names
        }
        & WRITE_METHODS
    }

    assert any("incidents/" in route for route in writers)
    assert not {
        route: cls.__name__
        for route, cls in writers.items()
        if not issubclass(cls, WriteTransaction)
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_concurrent_retries_create_one_incident(make_user):
    """On PostgreSQL: the first inserts the key, the others wait on its unique index, then
    replay the answer it committed."""
    user = make_user("retrier", roles=[Role.RESPONDER])
    _, raw = token_create(user=user)

    def retry():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return _post(client, "twenty")

    responses = all_succeed(*[retry for _ in range(20)])

    assert Incident.objects.count() == 1
    assert {_answer(response) for response in responses} == {_answer(responses[0])}
    assert responses[0].status_code == 201
    assert (
        sorted(response.get("Idempotent-Replayed", "") for response in responses)
        == [""] + ["true"] * 19
    )


@pytest.mark.django_db
def test_superusers_read_the_keys_in_the_admin_without_their_answers(
    api, responder, manager, make_user, signed_in
):
    _post(api.as_user(responder), "listed")
    root = make_user("root", is_superuser=True, is_staff=True)

    assert signed_in(manager).get("/admin/itsm/idempotencykey/").status_code == 403
    page = signed_in(root).get("/admin/itsm/idempotencykey/")
    row = IdempotencyKey.objects.get()
    detail = signed_in(root).get(f"/admin/itsm/idempotencykey/{row.pk}/change/")

    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    assert detail.status_code == 200
    assert "Checkout 500s" not in detail.content.decode()  # the stored answer's body
    assert signed_in(root).get("/admin/itsm/idempotencykey/add/").status_code == 403
