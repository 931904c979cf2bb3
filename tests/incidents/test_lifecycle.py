"""The lifecycle through the API: SPEC §1's transition table, from every state, and the guards."""

import pytest

from incidents.choices import ChecklistItem, EventType, IncidentStatus
from incidents.models import Incident
from tests.conftest import api_error, tick_all
from tests.factories import make_incident

S = IncidentStatus

# SPEC §1, written out here rather than read from the model, so the model is what is tested.
ALLOWED = {
    "acknowledge": ({S.NEW}, S.ACKNOWLEDGED),
    "start": ({S.ACKNOWLEDGED}, S.INVESTIGATING),
    "hold": ({S.ACKNOWLEDGED, S.INVESTIGATING}, S.ON_HOLD),
    "resume": ({S.ON_HOLD}, S.INVESTIGATING),
    "mitigate": ({S.INVESTIGATING}, S.MITIGATED),
    "resolve": ({S.INVESTIGATING, S.MITIGATED}, S.RESOLVED),
    "reopen": ({S.RESOLVED}, S.INVESTIGATING),
    "close": ({S.RESOLVED}, S.CLOSED),
    "cancel": ({S.NEW, S.ACKNOWLEDGED, S.INVESTIGATING}, S.CANCELLED),
}

# The transitions that bring a new incident to each state.
PATHS = {
    S.NEW: (),
    S.ACKNOWLEDGED: ("acknowledge",),
    S.INVESTIGATING: ("acknowledge", "start"),
    S.ON_HOLD: ("acknowledge", "start", "hold"),
    S.MITIGATED: ("acknowledge", "start", "mitigate"),
    S.RESOLVED: ("acknowledge", "start", "resolve"),
    S.CLOSED: ("acknowledge", "start", "resolve", "close"),
    S.CANCELLED: ("cancel",),
}

# A body that meets each transition's guard.
BODIES = {
    "acknowledge": {},
    "start": {},
    "hold": {"reason": "waiting for the vendor"},
    "resume": {},
    "mitigate": {"note": "traffic moved to the standby"},
    "resolve": {"resolution_code": "rollback", "resolution_notes": "release 4.2 rolled back"},
    "reopen": {"reason": "500s are back"},
    "close": {},
    "cancel": {"reason": "false positive"},
}

CASES = [(state, name) for state in PATHS for name in ALLOWED]
ALLOWED_CASES = [(state, name) for state, name in CASES if state in ALLOWED[name][0]]
REFUSED_CASES = [(state, name) for state, name in CASES if state not in ALLOWED[name][0]]


def _url(incident, name):
    return f"/api/incidents/{incident.number}/{name}/"


def _footprint(incident):
    """What a transition changes: the status, the timeline and the field history."""
    incident = Incident.objects.get(pk=incident.pk)
    return incident.status, incident.events.count(), incident.history.count()


@pytest.fixture
def in_state(incident, responder, drive):
    """The incident brought to `state`, with the checklist ticked so only the state decides
    whether `close` may run."""

    def bring(state):
        if state != S.CLOSED:  # driving to closed ticks them itself
            tick_all(incident, responder)
        drive(incident, responder, *PATHS[state])
        return Incident.objects.get(pk=incident.pk)

    return bring


def test_the_matrix_covers_every_state():
    assert set(PATHS) == set(S)


@pytest.mark.parametrize(("state", "name"), ALLOWED_CASES)
def test_allowed_transition_moves_the_incident(api, responder, in_state, state, name):
    incident = in_state(state)
    _, events, history = _footprint(incident)

    response = api.as_user(responder).post(_url(incident, name), BODIES[name], format="json")

    assert response.status_code == 200, response.content
    target = ALLOWED[name][1]
    assert response.json()["status"] == target
    assert _footprint(incident) == (target, events + 1, history + 1)


@pytest.mark.parametrize(("state", "name"), REFUSED_CASES)
def test_refused_transition_answers_409_and_changes_nothing(api, responder, in_state, state, name):
    incident = in_state(state)
    before = _footprint(incident)

    response = api.as_user(responder).post(_url(incident, name), BODIES[name], format="json")

    api_error(response, 409, "invalid_transition")
    assert _footprint(incident) == before


@pytest.mark.parametrize(("state", "name"), ALLOWED_CASES)
def test_transition_writes_one_timeline_event_and_one_history_row(
    api, responder, in_state, state, name
):
    incident = in_state(state)
    last_event = incident.events.order_by("-id").first().pk
    last_history = incident.history.order_by("-history_id").first().history_id

    api.as_user(responder).post(_url(incident, name), BODIES[name], format="json")

    [event] = incident.events.filter(pk__gt=last_event)
    assert event.type == EventType.TRANSITION
    assert event.data["from"] == state
    assert event.data["to"] == ALLOWED[name][1]
    assert event.actor == responder
    assert event.source == "api"
    [row] = incident.history.filter(history_id__gt=last_history)
    assert name in row.history_change_reason
    assert responder.username in row.history_change_reason
    assert row.history_user == responder
    assert row.status == ALLOWED[name][1]


def test_timeline_endpoint_shows_the_transition(api, responder, incident):
    client = api.as_user(responder)
    client.post(_url(incident, "acknowledge"), {}, format="json")

    events = client.get(f"/api/incidents/{incident.number}/timeline/").json()["results"]

    assert [e["type"] for e in events] == ["created", "transition"]
    assert events[-1]["actor"] == responder.username
    assert events[-1]["source"] == "api"
    assert events[-1]["data"]["from"] == "new"
    assert events[-1]["data"]["to"] == "acknowledged"


def test_history_endpoint_names_the_transition_and_the_user(api, responder, incident):
    client = api.as_user(responder)
    client.post(_url(incident, "acknowledge"), {}, format="json")

    rows = client.get(f"/api/incidents/{incident.number}/history/").json()

    assert len(rows) == 2
    newest = rows[0]
    assert "acknowledge" in newest["reason"]
    assert newest["user"] == responder.username
    changed = {c["field"]: (c["old"], c["new"]) for c in newest["changes"]}
    assert changed["status"] == ("new", "acknowledged")
    assert "assignee" in changed


# --- guards -------------------------------------------------------------------------------


def test_acknowledge_makes_the_actor_the_assignee_when_there_is_none(api, responder, incident):
    assert incident.assignee is None

    body = api.as_user(responder).post(_url(incident, "acknowledge"), {}, format="json").json()

    assert body["assignee"] == responder.username
    assert body["acknowledged_at"] is not None


def test_acknowledge_keeps_an_existing_assignee(api, responder, make_user):
    owner = make_user("olga")
    incident = make_incident(actor=responder, assignee=owner)

    body = api.as_user(responder).post(_url(incident, "acknowledge"), {}, format="json").json()

    assert body["status"] == "acknowledged"
    assert body["assignee"] == "olga"


def test_hold_keeps_its_reason(api, responder, in_state):
    incident = in_state(S.INVESTIGATING)

    body = (
        api.as_user(responder)
        .post(_url(incident, "hold"), {"reason": "waiting for the vendor"}, format="json")
        .json()
    )

    assert body["hold_reason"] == "waiting for the vendor"


def test_mitigate_keeps_its_note(api, responder, in_state):
    incident = in_state(S.INVESTIGATING)

    body = (
        api.as_user(responder)
        .post(_url(incident, "mitigate"), {"note": "failed over"}, format="json")
        .json()
    )

    assert body["mitigation_note"] == "failed over"
    assert body["mitigated_at"] is not None


def test_resolve_keeps_code_and_notes(api, responder, in_state):
    incident = in_state(S.MITIGATED)

    body = (
        api.as_user(responder)
        .post(_url(incident, "resolve"), BODIES["resolve"], format="json")
        .json()
    )

    assert body["resolution_code"] == "rollback"
    assert body["resolution_notes"] == "release 4.2 rolled back"
    assert body["resolved_at"] is not None


def test_resolve_refuses_an_unknown_resolution_code(api, responder, in_state):
    incident = in_state(S.INVESTIGATING)
    before = _footprint(incident)

    response = api.as_user(responder).post(
        _url(incident, "resolve"),
        {"resolution_code": "magic", "resolution_notes": "it went away"},
        format="json",
    )

    assert "resolution_code" in api_error(response, 400, "invalid")
    assert _footprint(incident) == before


def test_each_reopen_is_counted(api, responder, in_state):
    incident = in_state(S.RESOLVED)
    client = api.as_user(responder)

    client.post(_url(incident, "reopen"), {"reason": "back again"}, format="json")
    client.post(_url(incident, "resolve"), BODIES["resolve"], format="json")
    body = client.post(_url(incident, "reopen"), {"reason": "and again"}, format="json").json()

    assert body["status"] == "investigating"
    assert body["reopen_count"] == 2
    assert body["resolution_code"] == ""


def test_close_names_every_unticked_checklist_item(api, responder, incident, drive):
    drive(incident, responder, *PATHS[S.RESOLVED])
    before = _footprint(incident)

    response = api.as_user(responder).post(_url(incident, "close"), {}, format="json")

    fields = api_error(response, 409, "invalid_transition")
    assert len(fields["checklist"]) == len(ChecklistItem.values)
    assert _footprint(incident) == before


def test_close_names_the_one_item_left_then_closes_once_it_is_ticked(
    api, responder, incident, drive
):
    drive(incident, responder, *PATHS[S.RESOLVED])
    client = api.as_user(responder)
    for item in ChecklistItem.values[:-1]:
        client.post(f"/api/incidents/{incident.number}/checklist/", {"item": item}, format="json")

    refused = client.post(_url(incident, "close"), {}, format="json")
    fields = api_error(refused, 409, "invalid_transition")
    assert fields["checklist"] == [f"Not ticked: {ChecklistItem.KB_UPDATED.label}"]

    client.post(
        f"/api/incidents/{incident.number}/checklist/", {"item": "kb_updated"}, format="json"
    )
    closed = client.post(_url(incident, "close"), {}, format="json")

    assert closed.status_code == 200, closed.content
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_at"] is not None


def test_checklist_keeps_who_ticked_each_item(api, responder, incident):
    body = (
        api.as_user(responder)
        .post(
            f"/api/incidents/{incident.number}/checklist/",
            {"item": "users_notified"},
            format="json",
        )
        .json()
    )

    rows = {row["item"]: row for row in body["checklist"]}
    assert len(rows) == len(ChecklistItem.values)
    assert rows["users_notified"]["done"] is True
    assert rows["users_notified"]["ticked_by"] == responder.username
    assert rows["users_notified"]["ticked_at"] is not None
    assert rows["kb_updated"]["done"] is False


@pytest.mark.parametrize(("state", "done"), [(S.CLOSED, False), (S.CANCELLED, True)])
def test_checklist_of_a_finished_incident_cannot_change(
    api, responder, incident, drive, state, done
):
    drive(incident, responder, *PATHS[state])
    before = _footprint(incident)

    response = api.as_user(responder).post(
        f"/api/incidents/{incident.number}/checklist/",
        {"item": "kb_updated", "done": done},
        format="json",
    )

    api_error(response, 409, "invalid_transition")
    assert _footprint(incident) == before
    assert Incident.objects.get(pk=incident.pk).checklist.count() == (7 if state == S.CLOSED else 0)


def test_cancel_as_duplicate_links_the_original(api, responder, incident):
    original = make_incident(actor=responder, title="Checkout down")

    body = (
        api.as_user(responder)
        .post(
            _url(incident, "cancel"),
            {"reason": "duplicate", "duplicate_of": original.number},
            format="json",
        )
        .json()
    )

    assert body["status"] == "cancelled"
    assert body["duplicate_of"] == original.number
    assert body["cancel_reason"] == "duplicate"


def test_cancel_refuses_an_unknown_duplicate(api, responder, incident):
    before = _footprint(incident)

    response = api.as_user(responder).post(
        _url(incident, "cancel"),
        {"reason": "duplicate", "duplicate_of": "INC9999999"},
        format="json",
    )

    assert "duplicate_of" in api_error(response, 400, "invalid")
    assert _footprint(incident) == before


def test_cancel_refuses_the_incident_as_its_own_duplicate(api, responder, incident):
    before = _footprint(incident)

    response = api.as_user(responder).post(
        _url(incident, "cancel"),
        {"reason": "duplicate", "duplicate_of": incident.number},
        format="json",
    )

    assert "duplicate_of" in api_error(response, 400, "invalid")
    assert _footprint(incident) == before


def test_allowed_transitions_follow_the_state(api, responder, in_state):
    incident = in_state(S.INVESTIGATING)

    body = api.as_user(responder).get(f"/api/incidents/{incident.number}/").json()

    assert body["allowed_transitions"] == ["hold", "mitigate", "resolve", "cancel"]
