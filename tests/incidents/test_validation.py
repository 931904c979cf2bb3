"""Bad input answers 400 (or 404) in the one error shape, and writes nothing."""

import pytest
from simple_history.utils import get_history_model_for_model

from incidents.models import TEXT_MAX_LENGTH, TITLE_MAX_LENGTH, Incident, IncidentEvent
from tests.conftest import api_error

BAD_CREATE_BODIES = {
    "unknown service": ({"title": "t", "priority": "P2", "services": ["nope"]}, "services"),
    "bad priority": ({"title": "t", "priority": "P9"}, "priority"),
    "impact out of range": ({"title": "t", "impact": 7, "urgency": 1}, "impact"),
    "urgency out of range": ({"title": "t", "impact": 1, "urgency": 0}, "urgency"),
    "no priority, no impact": ({"title": "t", "urgency": 1}, "priority"),
    "no priority, no scale": ({"title": "t"}, "priority"),
    "oversized title": ({"title": "x" * (TITLE_MAX_LENGTH + 1), "priority": "P2"}, "title"),
    "blank title": ({"title": "   ", "priority": "P2"}, "title"),
    "no title": ({"priority": "P2"}, "title"),
    "oversized description": (
        {"title": "t", "priority": "P2", "description": "x" * (TEXT_MAX_LENGTH + 1)},
        "description",
    ),
    "unknown team": ({"title": "t", "priority": "P2", "team": "nope"}, "team"),
    "unknown assignee": ({"title": "t", "priority": "P2", "assignee": "ghost"}, "assignee"),
    "negative affected users": (
        {"title": "t", "priority": "P2", "affected_users": -1},
        "affected_users",
    ),
    "unknown source": ({"title": "t", "priority": "P2", "source": "pigeon"}, "source"),
    "affected users beyond a 32-bit integer": (
        {"title": "t", "priority": "P2", "affected_users": 2**31},
        "affected_users",
    ),
    "services not a list": ({"title": "t", "priority": "P2", "services": "checkout"}, "services"),
    "not an object": ([{"title": "t", "priority": "P2"}], "non_field_errors"),
}

# (transition, state path, a body meeting the guard) for each transition with required fields.
GUARDED = {
    "hold": (("acknowledge",), {"reason": "vendor"}),
    "mitigate": (("acknowledge", "start"), {"note": "failed over"}),
    "resolve": (("acknowledge", "start"), {"resolution_code": "fixed", "resolution_notes": "ok"}),
    "reopen": (("acknowledge", "start", "resolve"), {"reason": "back"}),
    "cancel": ((), {"reason": "false positive"}),
}
REQUIRED_FIELDS = [(name, field) for name, (_, body) in GUARDED.items() for field in body]

OVERSIZED_TRANSITION_FIELDS = [
    ("hold", "reason", 2_000),
    ("mitigate", "note", TEXT_MAX_LENGTH),
    ("resolve", "resolution_notes", TEXT_MAX_LENGTH),
    ("reopen", "reason", 2_000),
    ("cancel", "reason", 2_000),
]


def _written():
    """Everything a create or an edit would write."""
    history = get_history_model_for_model(Incident)
    return (
        list(Incident.objects.values_list("number", "title", "status", "priority")),
        IncidentEvent.objects.count(),
        history.objects.count(),
    )


@pytest.fixture
def client(api, responder):
    return api.as_user(responder)


@pytest.mark.parametrize(("body", "field"), BAD_CREATE_BODIES.values(), ids=BAD_CREATE_BODIES)
def test_bad_create_is_refused_and_writes_nothing(client, service, body, field):
    before = _written()

    response = client.post("/api/incidents/", body, format="json")

    fields = api_error(response, 400, "invalid")
    assert field in fields
    assert all(isinstance(messages, list) and messages for messages in fields.values())
    assert _written() == before


def test_title_of_the_maximum_length_is_accepted(client):
    response = client.post(
        "/api/incidents/", {"title": "x" * TITLE_MAX_LENGTH, "priority": "P2"}, format="json"
    )

    assert response.status_code == 201, response.content


@pytest.mark.parametrize(("name", "field"), REQUIRED_FIELDS)
@pytest.mark.parametrize("value", [None, "   "], ids=["missing", "blank"])
def test_transition_without_a_required_field_is_refused(
    client, incident, responder, drive, name, field, value
):
    path, body = GUARDED[name]
    drive(incident, responder, *path)
    body = {key: v for key, v in body.items() if key != field}
    if value is not None:
        body[field] = value
    before = _written()

    response = client.post(f"/api/incidents/{incident.number}/{name}/", body, format="json")

    assert field in api_error(response, 400, "invalid")
    assert _written() == before


@pytest.mark.parametrize(("name", "field", "limit"), OVERSIZED_TRANSITION_FIELDS)
def test_transition_with_oversized_text_is_refused(
    client, incident, responder, drive, name, field, limit
):
    path, body = GUARDED[name]
    drive(incident, responder, *path)
    before = _written()

    response = client.post(
        f"/api/incidents/{incident.number}/{name}/",
        {**body, field: "x" * (limit + 1)},
        format="json",
    )

    assert field in api_error(response, 400, "invalid")
    assert _written() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x" * (TEXT_MAX_LENGTH + 1)}, "text"),
        ({"text": "   "}, "text"),
        ({}, "text"),
    ],
    ids=["oversized", "blank", "missing"],
)
def test_bad_note_is_refused(client, incident, body, field):
    before = _written()

    response = client.post(f"/api/incidents/{incident.number}/notes/", body, format="json")

    assert field in api_error(response, 400, "invalid")
    assert _written() == before


def test_unknown_checklist_item_is_refused(client, incident):
    before = _written()

    response = client.post(
        f"/api/incidents/{incident.number}/checklist/", {"item": "coffee"}, format="json"
    )

    assert "item" in api_error(response, 400, "invalid")
    assert _written() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "closed"}, "status"),
        ({"number": "INC0000009"}, "number"),
        ({"reopen_count": 0}, "reopen_count"),
        ({"title": "x" * (TITLE_MAX_LENGTH + 1)}, "title"),
        ({"title": ""}, "title"),
        ({"impact": 7}, "impact"),
        ({"team": "nope"}, "team"),
        ({"assignee": "ghost"}, "assignee"),
        ({"services": ["nope"]}, "services"),
        ({"affected_users": 2**31}, "affected_users"),
        ({"priority": "P9", "priority_reason": "why"}, "priority"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_edit_is_refused_and_writes_nothing(api, manager, incident, body, field):
    before = _written()

    response = api.as_user(manager).patch(f"/api/incidents/{incident.number}/", body, format="json")

    assert field in api_error(response, 400, "invalid")
    assert _written() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/incidents/"),
        ("patch", "/api/incidents/{number}/"),
        ("post", "/api/incidents/{number}/hold/"),
        ("post", "/api/incidents/{number}/notes/"),
    ],
)
def test_malformed_json_is_a_400_in_the_error_shape(client, incident, method, path):
    before = _written()

    response = getattr(client, method)(
        path.format(number=incident.number), '{"title": ', content_type="application/json"
    )

    api_error(response, 400, "invalid")
    assert _written() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/incidents/INC9999999/"),
        ("patch", "/api/incidents/INC9999999/"),
        ("post", "/api/incidents/INC9999999/acknowledge/"),
        ("post", "/api/incidents/INC9999999/notes/"),
        ("get", "/api/incidents/INC9999999/timeline/"),
        ("get", "/api/incidents/INC9999999/history/"),
        ("get", "/api/services/nope/"),
    ],
)
def test_unknown_incident_is_a_404_in_the_error_shape(client, incident, method, path):
    response = getattr(client, method)(path, {}, format="json")

    api_error(response, 404, "not_found")


@pytest.mark.parametrize("field", ["detected_at", "started_at"])
def test_a_start_in_the_future_is_refused_and_writes_nothing(client, field):
    """Year 9999 used to overflow the SLA deadlines into a 500."""
    before = _written()

    response = client.post(
        "/api/incidents/", {"title": "t", "priority": "P2", field: "9999-12-31T23:59:59Z"}
    )

    assert field in api_error(response, 400, "invalid")
    assert _written() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/services/%00/",
        "/api/teams/%00/",
        "/api/schedules/%00/",
        "/api/sla-policies/%00/",
        "/api/calendars/%00/",
        "/api/escalation-policies/%00/",
        "/api/incidents/INC%00/",
    ],
)
def test_a_nul_byte_in_an_api_path_is_404_not_500(api, manager, path):
    """PostgreSQL refuses NUL in text comparisons; such a path must never reach a lookup."""
    response = api.as_user(manager).get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/incidents/%00/", "/incidents/INC%00/edit/"])
def test_a_nul_byte_in_a_portal_path_is_404_not_500(client, manager, path):
    client.force_login(manager)
    assert client.get(path).status_code == 404
