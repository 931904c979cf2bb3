"""Every API route answers the same with or without its trailing slash, for every method, and
in JSON whatever goes wrong: the reference documents write `POST /api/major-incidents`.

Each request runs in a transaction that is rolled back, so the two spellings meet the same data
and a DELETE or POST through one does not change what the other answers."""

import json

import pytest
import time_machine
from django.db import transaction

from tests.factories import make_incident
from tests.itsm.conftest import api_routes, concrete_path

METHODS = ["get", "post", "put", "patch", "delete"]
JSON = "application/json"
# Pages for people reading about the API, not API answers: their errors are JSON all the same.
DOCUMENTS = {
    "/api/schema/": "application/vnd.oai.openapi; charset=utf-8",
    "/api/docs/": "text/html; charset=utf-8",
    # A file to download: the review meeting's invitation.
    "/api/incidents/{number}/postmortem/meeting.ics": "text/calendar; charset=utf-8",
}
# Not a field of any body: every write refuses it (400) without writing anything.
UNKNOWN_FIELD = {"no_such_field": 1}


ROUTES = api_routes()


def _answer(client, method: str, path: str):
    """(status, content type, JSON body) of one request, its writes rolled back."""
    with transaction.atomic():
        response = getattr(client, method)(path, data=UNKNOWN_FIELD, format="json")
        transaction.set_rollback(True)
    content_type = response.get("Content-Type")  # none with a 204
    body = json.loads(response.content) if content_type == JSON else response.content
    return response.status_code, content_type, body


def test_every_route_is_enumerated():
    assert "/api/incidents/{number}/acknowledge/" in ROUTES
    assert "/api/major-incidents/" in ROUTES
    assert len(ROUTES) > 40


@pytest.mark.parametrize("route", ROUTES)
@time_machine.travel("2026-12-03 10:00Z", tick=False)  # one clock for both answers
def test_a_route_answers_the_same_without_its_trailing_slash(api, super_admin, world, route):
    api.force_authenticate(super_admin)  # no token-use records to tell the two answers apart
    path = concrete_path(world, route)
    for method in METHODS:
        with_slash = _answer(api, method, path)
        without = _answer(api, method, path.rstrip("/"))
        assert with_slash == without, f"{method.upper()} {path}"
        assert with_slash[1] == _expected_type(route, method, with_slash[0]), f"{method} {path}"
        assert with_slash[0] != 500, f"{method.upper()} {path}: {with_slash}"


def _expected_type(route: str, method: str, status: int) -> str | None:
    if status == 204:  # a DELETE's empty answer
        return None
    if route in DOCUMENTS and method == "get" and status == 200:
        return DOCUMENTS[route]
    return JSON


def test_the_reference_request_as_written_declares(api, manager, responder, world):
    """major-incident-management.txt: `POST /api/major-incidents` (no trailing slash)."""
    incident = make_incident(actor=responder, impact=1, urgency=1)
    response = api.as_user(manager).post(
        "/api/major-incidents",
        {
            "incident_id": incident.number,
            "major_incident_manager": manager.username,
            "bridge_link": "https://meet.example.com/inc",
            "initial_impact_statement": "Payments are failing for every customer.",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response["Content-Type"] == JSON
    assert response.json()["number"] == incident.number


@pytest.mark.parametrize(
    "path", ["/api", "/api/", "/api/nothing-here", "/api/nothing-here/", "/api/incidents/x/y/z"]
)
@pytest.mark.parametrize("method", METHODS)
def test_no_route_is_a_json_404(api, super_admin, path, method):
    response = getattr(api.as_user(super_admin), method)(path, data={}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == JSON
    assert response.json()["error"]["code"] == "not_found"
