"""The major-incident API: the reference's declaration request, each refusal, every part of a
war room, the declaration rules, who may do what, and what a read costs."""

import json
from types import SimpleNamespace

import pytest
from django.urls import get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework.utils.encoders import JSONEncoder
from simple_history.utils import get_history_model_for_model

from incidents.choices import ChangeSource, EventType
from incidents.models import IncidentEvent
from itsm.models import ChatWebhook
from itsm.roles import Role
from tests.conftest import api_error
from tests.factories import make_incident
from warroom import selectors, services
from warroom.choices import MajorIncidentState, WarRoomRole
from warroom.models import (
    WORK_PERMISSION,
    BridgeAttendance,
    DeclarationRule,
    MajorIncident,
    RoleAssignment,
    ScratchpadRevision,
    WarRoomTask,
)

LIST = "/api/major-incidents/"
ROOM = "/api/major-incidents/{number}/"
REFERENCE = {
    "major_incident_manager": "mona",
    "bridge_link": "https://meet.google.com/abc-defg-hij",
    "initial_impact_statement": "Production API gateway returning 503 for all users",
}


def room(major, tail=""):
    return ROOM.format(number=major.number) + tail


def warroom_events(incident):
    return list(
        IncidentEvent.objects.filter(incident=incident, type=EventType.WARROOM).values_list(
            "summary", flat=True
        )
    )


def as_json(payload):
    """A payload as a JSON client reads it: datetimes as the API writes them."""
    return json.loads(json.dumps(payload, cls=JSONEncoder))


@pytest.fixture
def as_manager(api, manager):
    return api.as_user(manager)


@pytest.fixture
def as_responder(api, responder):
    return api.as_user(responder)


# --- declaring ------------------------------------------------------------------------------


def test_the_reference_request_declares_and_answers_with_the_war_room(as_manager, p1):
    response = as_manager.post(LIST, {"incident_id": p1.number, **REFERENCE}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == p1.number
    assert body["title"] == p1.title
    assert body["state"] == "active"
    assert body["trigger"] == "manual"
    assert body["manager"] == {"username": "mona", "name": "mona"}
    assert body["declared_by"]["username"] == "mona"
    assert body["bridge_link"] == REFERENCE["bridge_link"]
    assert body["initial_impact_statement"] == REFERENCE["initial_impact_statement"]
    assert body["war_room_url"] == f"http://testserver/warroom/{p1.number}/"
    assert body["websocket_url"] == f"ws://testserver/ws/warroom/{p1.number}/"
    major = MajorIncident.objects.get(incident=p1)
    assert major.state == MajorIncidentState.ACTIVE
    assert major.history.get().history_change_reason == "declare by mona (api)"
    [declared] = IncidentEvent.objects.filter(incident=p1, type=EventType.WARROOM)
    assert declared.source == ChangeSource.API
    assert declared.summary.endswith(REFERENCE["initial_impact_statement"])


def test_a_secure_request_gets_https_and_wss_links(as_manager, p1):
    response = as_manager.post(
        LIST, {"incident_id": p1.number, **REFERENCE}, format="json", secure=True
    )

    assert response.json()["war_room_url"] == f"https://testserver/warroom/{p1.number}/"
    assert response.json()["websocket_url"] == f"wss://testserver/ws/warroom/{p1.number}/"


def test_the_bridge_link_may_be_left_out(as_manager, p1):
    body = {"incident_id": p1.number, **REFERENCE}
    del body["bridge_link"]

    response = as_manager.post(LIST, body, format="json")

    assert response.status_code == 201
    assert response.json()["bridge_link"] == ""


@pytest.fixture
def inactive(make_user):
    return make_user("gone", roles=[Role.RESPONDER], is_active=False)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("incident_id", "INC9999999"),
        ("incident_id", "inc0000001"),
        ("incident_id", "INC1"),
        ("incident_id", "INC0000001\x00"),
        ("incident_id", None),
        ("major_incident_manager", "ghost"),
        ("major_incident_manager", "stella"),  # a stakeholder is not staff
        ("major_incident_manager", "gone"),  # deactivated
        ("major_incident_manager", None),
        ("bridge_link", "meet.google.com/abc"),
        ("bridge_link", "ftp://files.example.com/bridge"),
        ("bridge_link", "https://" + "a" * 500 + ".com"),
        ("initial_impact_statement", "   "),
        ("initial_impact_statement", "x" * 2001),
        ("initial_impact_statement", None),
    ],
)
def test_each_bad_field_is_a_400_naming_it_and_writes_nothing(
    as_manager, p1, stakeholder, inactive, field, value
):
    body = {"incident_id": p1.number, **REFERENCE}
    if value is None:
        del body[field]
    else:
        body[field] = value

    response = as_manager.post(LIST, body, format="json")

    assert list(api_error(response, 400, "invalid")) == [field]
    assert not MajorIncident.objects.exists()
    assert warroom_events(p1) == []


def test_every_bad_field_is_named_at_once(as_manager, p1):
    response = as_manager.post(
        LIST,
        {"incident_id": "INC9999999", "major_incident_manager": "ghost"},
        format="json",
    )

    fields = api_error(response, 400, "invalid")
    assert set(fields) == {"incident_id", "major_incident_manager", "initial_impact_statement"}


@pytest.mark.parametrize("role", ["responder", "stakeholder"])
def test_only_managers_may_declare(request, api, p1, role):
    client = api.as_user(request.getfixturevalue(role))

    response = client.post(LIST, {"incident_id": p1.number, **REFERENCE}, format="json")

    api_error(response, 403, "permission_denied")
    assert not MajorIncident.objects.exists()


def test_declaring_twice_is_a_409(as_manager, major):
    before = list(IncidentEvent.objects.values_list("id", flat=True))

    response = as_manager.post(LIST, {"incident_id": major.number, **REFERENCE}, format="json")

    api_error(response, 409, "conflict")
    assert list(IncidentEvent.objects.values_list("id", flat=True)) == before
    assert MajorIncident.objects.get().history.count() == 1


@pytest.mark.parametrize(
    "path_to", [("cancel",), ("acknowledge", "start", "resolve"), ("acknowledge", "start", "close")]
)
def test_an_incident_no_longer_open_cannot_be_declared(as_manager, p1, responder, drive, path_to):
    if path_to[-1] == "close":
        path_to = (*path_to[:-1], "resolve", "close")
    drive(p1, responder, *path_to)

    response = as_manager.post(LIST, {"incident_id": p1.number, **REFERENCE}, format="json")

    api_error(response, 409, "conflict")
    assert not MajorIncident.objects.exists()


def test_a_demoted_major_incident_can_be_declared_again(as_manager, major, manager):
    services.major_incident_demote(
        major=major, actor=manager, source=ChangeSource.CLI, reason="one user only"
    )

    response = as_manager.post(LIST, {"incident_id": major.number, **REFERENCE}, format="json")

    assert response.status_code == 201
    assert response.json()["state"] == "active"
    assert response.json()["demotion_reason"] == ""


# --- reading -------------------------------------------------------------------------------------


def test_list_filters_by_state(as_responder, declare, responder, manager, service):
    live = declare(make_incident(actor=responder, services=[service.slug], priority="P1"))
    gone = declare(make_incident(actor=responder, services=[service.slug], priority="P1"))
    services.major_incident_demote(major=gone, actor=manager, source=ChangeSource.CLI, reason="r")

    everything = as_responder.get(LIST).json()
    active = as_responder.get(LIST, {"state": "active"}).json()
    demoted = as_responder.get(LIST, {"state": "demoted"}).json()

    assert [row["number"] for row in everything["results"]] == [gone.number, live.number]
    assert [row["number"] for row in active["results"]] == [live.number]
    assert [row["number"] for row in demoted["results"]] == [gone.number]
    assert list(api_error(as_responder.get(LIST, {"state": "lost"}), 400, "invalid")) == ["state"]


def test_detail_matches_what_the_war_room_page_receives(as_responder, major):
    body = as_responder.get(room(major)).json()

    payload = as_json(selectors.major_incident_payload(major))
    assert body.pop("war_room_url") == "http://testserver" + payload.pop("war_room_url")
    assert body.pop("websocket_url") == f"ws://testserver/ws/warroom/{major.number}/"
    assert body.pop("chat_webhooks") == []
    assert body == payload


@pytest.mark.parametrize(
    "path",
    [
        "/api/major-incidents/INC9999999/",
        "/api/major-incidents/inc0000001/",
        "/api/major-incidents/INC9999999/roles/",
        "/api/major-incidents/INC9999999/tasks/",
        "/api/major-incidents/INC9999999/timeline/",
        "/api/major-incidents/INC9999999/notes/",
        "/api/major-incidents/INC9999999/scratchpad/",
        "/api/major-incidents/INC9999999/bridge/",
        "/api/major-incidents/INC０００００01/",
        "/api/declaration-rules/sometimes/",
    ],
)
def test_unknown_things_are_404(as_responder, path):
    api_error(as_responder.get(path), 404, "not_found")


def test_an_incident_that_is_not_major_is_404(as_responder, p1):
    api_error(as_responder.get(f"/api/major-incidents/{p1.number}/"), 404, "not_found")
    api_error(as_responder.get(f"/api/major-incidents/{p1.number}/tasks/"), 404, "not_found")


# --- editing and demoting -----------------------------------------------------------------------


@pytest.fixture
def webhooks(db):
    return [
        ChatWebhook.objects.create(
            slug="ops", name="Ops", kind="slack", url_env="SLACK_WEBHOOK_OPS"
        ),
        ChatWebhook.objects.create(
            slug="execs", name="Execs", kind="teams", url_env="TEAMS_WEBHOOK_X"
        ),
    ]


def test_patch_changes_the_bridge_link(as_responder, major):
    response = as_responder.patch(
        room(major), {"bridge_link": "https://meet.example.com/new"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["bridge_link"] == "https://meet.example.com/new"
    assert warroom_events(major.incident)[-1] == "Bridge is now https://meet.example.com/new"


def test_patch_sets_the_chat_channels_by_slug(as_responder, major, webhooks):
    response = as_responder.patch(room(major), {"chat_webhooks": ["ops", "execs"]}, format="json")

    assert response.status_code == 200
    assert response.json()["chat_webhooks"] == ["execs", "ops"]  # by name
    assert warroom_events(major.incident)[-1] == "Chat channels are now Execs, Ops"

    cleared = as_responder.patch(room(major), {"chat_webhooks": []}, format="json")
    assert cleared.json()["chat_webhooks"] == []


def test_patch_refuses_an_unknown_chat_channel_and_changes_nothing(as_responder, major, webhooks):
    response = as_responder.patch(
        room(major),
        {"bridge_link": "https://meet.example.com/new", "chat_webhooks": ["ops", "nope"]},
        format="json",
    )

    assert list(api_error(response, 400, "invalid")) == ["chat_webhooks"]
    major.refresh_from_db()
    assert major.bridge_link == "https://meet.example.com/abc-defg-hij"
    assert list(major.chat_webhooks.all()) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bridge_link": "not a link"}, "bridge_link"),
        ({"major_incident_manager": "ghost"}, "major_incident_manager"),
        ({"major_incident_manager": "stella"}, "major_incident_manager"),
        ({"state": "closed"}, "state"),
    ],
)
def test_patch_refuses_bad_fields(as_manager, major, stakeholder, body, field):
    before = _written()

    response = as_manager.patch(room(major), body, format="json")

    assert list(api_error(response, 400, "invalid")) == [field]
    assert _written() == before


def test_only_managers_change_the_manager_and_nothing_else_is_written(
    as_responder, major, super_admin
):
    response = as_responder.patch(
        room(major),
        {"bridge_link": "https://meet.example.com/new", "major_incident_manager": "sam"},
        format="json",
    )

    api_error(response, 403, "permission_denied")
    major.refresh_from_db()
    assert major.manager.username == "mona"
    assert major.bridge_link == "https://meet.example.com/abc-defg-hij"


def test_a_manager_hands_the_major_incident_to_another_manager(as_manager, major, super_admin):
    response = as_manager.patch(room(major), {"major_incident_manager": "sam"}, format="json")

    assert response.status_code == 200
    assert response.json()["manager"]["username"] == "sam"


def test_demote_needs_a_reason(as_manager, major):
    api_error(as_manager.post(room(major, "demote/"), {}, format="json"), 400, "invalid")
    blank = as_manager.post(room(major, "demote/"), {"reason": "  "}, format="json")
    assert list(api_error(blank, 400, "invalid")) == ["reason"]

    response = as_manager.post(
        room(major, "demote/"), {"reason": "Only one office affected"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["state"] == "demoted"
    assert response.json()["demotion_reason"] == "Only one office affected"
    again = as_manager.post(room(major, "demote/"), {"reason": "again"}, format="json")
    api_error(again, 409, "invalid_transition")


def test_a_demoted_room_takes_no_more_work(as_responder, major, manager):
    services.major_incident_demote(major=major, actor=manager, source=ChangeSource.CLI, reason="r")

    response = as_responder.post(room(major, "tasks/"), {"title": "restart"}, format="json")

    api_error(response, 409, "invalid_transition")
    assert not WarRoomTask.objects.exists()


# --- roles -------------------------------------------------------------------------------------


def test_assign_hand_over_and_release_a_role(as_responder, major, responder, manager):
    first = as_responder.post(
        room(major, "roles/"), {"role": "incident_commander", "username": "rita"}, format="json"
    )
    assert first.status_code == 201, first.content
    assert first.json()["user"]["username"] == "rita"
    assert first.json()["role_label"] == "Incident commander"

    handed = as_responder.post(
        room(major, "roles/"), {"role": "incident_commander", "username": "mona"}, format="json"
    )
    assert handed.status_code == 201
    roles = as_responder.get(room(major, "roles/")).json()
    assert [(r["role"], r["user"]["username"]) for r in roles] == [("incident_commander", "mona")]
    assert "mona is now incident commander (handed over from rita)" in warroom_events(
        major.incident
    )

    released = as_responder.post(room(major, f"roles/{handed.json()['id']}/release/"))
    assert released.status_code == 200
    assert released.json() == []
    again = as_responder.post(room(major, f"roles/{handed.json()['id']}/release/"))
    api_error(again, 404, "not_found")


def test_roles_list_matches_what_the_war_room_page_receives(as_responder, major, responder):
    for role in (WarRoomRole.SCRIBE, WarRoomRole.SME):
        services.role_assign(
            major=major, actor=responder, source=ChangeSource.CLI, role=role, user=responder
        )

    assert as_responder.get(room(major, "roles/")).json() == as_json(selectors.roles_payload(major))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "captain", "username": "rita"}, "role"),
        ({"role": "scribe", "username": "ghost"}, "username"),
        ({"role": "scribe", "username": "stella"}, "username"),
        ({"role": "scribe"}, "username"),
    ],
)
def test_assigning_refuses_a_bad_role_or_user(as_responder, major, stakeholder, body, field):
    response = as_responder.post(room(major, "roles/"), body, format="json")

    assert list(api_error(response, 400, "invalid")) == [field]
    assert not RoleAssignment.objects.exists()


@pytest.mark.parametrize("assignment", ["999999", "abc", "99999999999999999999999"])
def test_releasing_an_unknown_assignment_is_404(as_responder, major, assignment):
    response = as_responder.post(room(major, f"roles/{assignment}/release/"))

    api_error(response, 404, "not_found")


# --- tasks -------------------------------------------------------------------------------------


def test_add_reassign_and_finish_a_task(as_responder, major, responder):
    created = as_responder.post(
        room(major, "tasks/"), {"title": "Fail over to EU-West", "assignee": "rita"}, format="json"
    )
    assert created.status_code == 201, created.content
    task = created.json()
    assert task["assignee"]["username"] == "rita"
    assert task["done"] is False

    done = as_responder.patch(
        room(major, f"tasks/{task['id']}/"), {"done": True, "assignee": None}, format="json"
    )

    assert done.status_code == 200
    assert done.json()["done"] is True
    assert done.json()["done_at"] is not None
    assert done.json()["assignee"] is None
    listed = as_responder.get(room(major, "tasks/")).json()
    assert listed == as_json(selectors.tasks_payload(major))
    assert [t["title"] for t in listed] == ["Fail over to EU-West"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "t", "assignee": "ghost"}, "assignee"),
        ({"title": "t", "assignee": "stella"}, "assignee"),
    ],
)
def test_adding_a_task_refuses_bad_fields(as_responder, major, stakeholder, body, field):
    response = as_responder.post(room(major, "tasks/"), body, format="json")

    assert list(api_error(response, 400, "invalid")) == [field]
    assert not WarRoomTask.objects.exists()


def test_changing_a_task_refuses_bad_fields(as_responder, major, responder):
    task = services.task_create(major=major, actor=responder, source=ChangeSource.CLI, title="t")
    before = _written()

    for body, field in (({"done": "maybe"}, "done"), ({"id": 5}, "id"), ({"title": " "}, "title")):
        response = as_responder.patch(room(major, f"tasks/{task.pk}/"), body, format="json")
        assert list(api_error(response, 400, "invalid")) == [field]
    assert _written() == before


@pytest.mark.parametrize("task_id", ["999999", "abc", "99999999999999999999999"])
def test_changing_an_unknown_task_is_404(as_responder, major, task_id):
    response = as_responder.patch(room(major, f"tasks/{task_id}/"), {"done": True}, format="json")

    api_error(response, 404, "not_found")


def test_a_task_of_another_room_is_404(as_responder, major, declare, responder, service):
    other = declare(make_incident(actor=responder, services=[service.slug], priority="P1"))
    task = services.task_create(major=other, actor=responder, source=ChangeSource.CLI, title="t")

    response = as_responder.patch(room(major, f"tasks/{task.pk}/"), {"done": True}, format="json")

    api_error(response, 404, "not_found")
    task.refresh_from_db()
    assert task.done is False


# --- timeline, notes, pins -------------------------------------------------------------------


def test_notes_land_on_the_timeline_and_can_be_pinned(as_responder, major):
    created = as_responder.post(room(major, "notes/"), {"text": "Rolled back 4.2"}, format="json")
    assert created.status_code == 201
    note = created.json()
    assert (note["type"], note["summary"], note["actor"]) == ("note", "Rolled back 4.2", "rita")

    notes = as_responder.get(room(major, "notes/")).json()
    assert [n["summary"] for n in notes["results"]] == ["Rolled back 4.2"]
    timeline = as_responder.get(room(major, "timeline/")).json()
    assert timeline["count"] == IncidentEvent.objects.filter(incident=major.incident).count()
    assert timeline["results"][-1]["id"] == note["id"]

    pinned = as_responder.post(
        room(major, f"timeline/{note['id']}/pin/"), {"pinned": True}, format="json"
    )
    assert pinned.status_code == 200
    assert pinned.json()["pinned"] is True
    assert IncidentEvent.objects.get(pk=note["id"]).pinned is True


def test_pinning_refuses_bad_input(as_responder, major, declare, responder, service):
    event = IncidentEvent.objects.filter(incident=major.incident).first()
    other = make_incident(actor=responder, services=[service.slug])
    elsewhere = IncidentEvent.objects.filter(incident=other).first()

    no_flag = as_responder.post(room(major, f"timeline/{event.pk}/pin/"), {}, format="json")
    assert list(api_error(no_flag, 400, "invalid")) == ["pinned"]
    for event_id in (elsewhere.pk, 999999, "abc", "99999999999999999999999"):
        response = as_responder.post(
            room(major, f"timeline/{event_id}/pin/"), {"pinned": True}, format="json"
        )
        api_error(response, 404, "not_found")
    assert not IncidentEvent.objects.filter(pinned=True).exists()


def test_a_note_needs_text(as_responder, major):
    before = _written()

    response = as_responder.post(room(major, "notes/"), {"text": ""}, format="json")

    assert list(api_error(response, 400, "invalid")) == ["text"]
    assert _written() == before


# --- scratchpad --------------------------------------------------------------------------------


def test_two_saves_from_the_same_base_are_merged_and_both_kept(as_responder, api, major, manager):
    as_manager = APIClient()
    as_manager.force_authenticate(manager)
    base = as_responder.put(
        room(major, "scratchpad/"),
        {"base_version": 0, "text": "Suspect: the gateway.\n"},
        format="json",
    )
    assert base.json() == {"version": 1, "text": "Suspect: the gateway.\n", "merged": False}

    mine = as_responder.put(
        room(major, "scratchpad/"),
        {"base_version": 1, "text": "Suspect: the gateway config.\n"},
        format="json",
    )
    theirs = as_manager.put(
        room(major, "scratchpad/"),
        {"base_version": 1, "text": "Suspect: the gateway.\nTODO: page the vendor\n"},
        format="json",
    )

    assert mine.json() == {"version": 2, "text": "Suspect: the gateway config.\n", "merged": False}
    assert theirs.status_code == 200
    assert theirs.json() == {
        "version": 3,
        "text": "Suspect: the gateway config.\nTODO: page the vendor\n",
        "merged": True,
    }
    current = as_responder.get(room(major, "scratchpad/")).json()
    assert current == {
        "version": 3,
        "text": "Suspect: the gateway config.\nTODO: page the vendor\n",
    }

    revisions = as_responder.get(room(major, "scratchpad/revisions/")).json()
    assert revisions["count"] == 3
    assert [(r["version"], r["author"]["username"], r["merged"]) for r in revisions["results"]] == [
        (3, "mona", True),
        (2, "rita", False),
        (1, "rita", False),
    ]
    assert revisions["results"][0]["at"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"base_version": 5, "text": "x"}, "base_version"),
        ({"base_version": -1, "text": "x"}, "base_version"),
        ({"base_version": "one", "text": "x"}, "base_version"),
        ({"text": "x"}, "base_version"),
        ({"base_version": 0}, "text"),
        ({"base_version": 0, "text": "x" * 100_001}, "text"),
    ],
)
def test_a_bad_scratchpad_save_is_a_400(as_responder, major, body, field):
    response = as_responder.put(room(major, "scratchpad/"), body, format="json")

    assert list(api_error(response, 400, "invalid")) == [field]
    assert not ScratchpadRevision.objects.exists()


def test_whitespace_in_the_scratchpad_is_kept(as_responder, major):
    response = as_responder.put(
        room(major, "scratchpad/"), {"base_version": 0, "text": "  indented\n\n"}, format="json"
    )

    assert response.json()["text"] == "  indented\n\n"
    assert as_responder.get(room(major, "scratchpad/")).json()["text"] == "  indented\n\n"


# --- bridge ------------------------------------------------------------------------------------


def test_join_and_leave_the_bridge(as_responder, major):
    joined = as_responder.post(room(major, "bridge/join/"))
    assert joined.status_code == 200
    assert joined.json()["link"] == "https://meet.example.com/abc-defg-hij"
    [stay] = joined.json()["attendees"]
    assert stay["user"]["username"] == "rita"
    assert stay["left_at"] is None

    as_responder.post(room(major, "bridge/join/"))  # already there: nothing new
    left = as_responder.post(room(major, "bridge/leave/"))

    [stay] = left.json()["attendees"]
    assert stay["left_at"] is not None
    bridge = as_responder.get(room(major, "bridge/")).json()
    assert bridge == as_json(selectors.bridge_payload(major))
    summaries = warroom_events(major.incident)
    assert summaries.count("rita joined the bridge") == 1
    assert summaries.count("rita left the bridge") == 1


# --- declaration rules ------------------------------------------------------------------------


def test_rules_are_listed_for_staff(as_responder):
    rules = as_responder.get("/api/declaration-rules/").json()

    assert rules == [
        {
            "kind": "affected_users",
            "description": "P1 with more than 50 affected users",
            "enabled": True,
            "priority": "P1",
            "threshold": 50,
            "manager_schedule": None,
            "manager": None,
        },
        {
            "kind": "unacknowledged",
            "description": "P1 not acknowledged within 15 minutes",
            "enabled": True,
            "priority": "P1",
            "threshold": 15,
            "manager_schedule": None,
            "manager": None,
        },
    ]


def test_a_manager_changes_a_rule(as_manager, manager):
    response = as_manager.patch(
        "/api/declaration-rules/unacknowledged/",
        {"threshold": 10, "priority": "P2", "manager": "mona"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["description"] == "P2 not acknowledged within 10 minutes"
    assert response.json()["manager"] == "mona"
    rule = DeclarationRule.objects.get(kind="unacknowledged")
    assert (rule.threshold, rule.priority, rule.manager) == (10, "P2", manager)
    assert (
        rule.history.first().history_change_reason
        == "edit priority, threshold, manager by mona (api)"
    )


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("unacknowledged", {"threshold": 0}, "threshold"),
        ("unacknowledged", {"threshold": 10081}, "threshold"),
        ("affected_users", {"threshold": -1}, "threshold"),
        ("affected_users", {"threshold": 2**40}, "threshold"),
        ("affected_users", {"priority": "P9"}, "priority"),
        ("affected_users", {"manager": "stella"}, "manager"),
        ("affected_users", {"manager": "ghost"}, "manager"),
        ("affected_users", {"enabled": "perhaps"}, "enabled"),
        ("affected_users", {"kind": "unacknowledged"}, "kind"),
    ],
)
def test_a_bad_rule_change_is_a_400_and_changes_nothing(as_manager, stakeholder, kind, body, field):
    history = get_history_model_for_model(DeclarationRule)
    before = history.objects.count()

    response = as_manager.patch(f"/api/declaration-rules/{kind}/", body, format="json")

    assert list(api_error(response, 400, "invalid")) == [field]
    assert history.objects.count() == before


# --- who may do what -----------------------------------------------------------------------------

ROLES = ["responder", "manager", "super_admin", "stakeholder", "nobody"]
READERS = {"responder", "manager", "super_admin", "stakeholder"}
WORKERS = {"responder", "manager", "super_admin"}
MANAGERS = {"manager", "super_admin"}


def _action(method, path, *, body=None, ok=200, who):
    return SimpleNamespace(method=method, path=path, body=body, ok=ok, who=who)


ACTIONS = {
    "list": _action("get", LIST, who=READERS),
    "retrieve": _action("get", ROOM, who=READERS),
    "create": _action(
        "post", LIST, body={"incident_id": "{other}", **REFERENCE}, ok=201, who=MANAGERS
    ),
    "partial_update": _action(
        "patch", ROOM, body={"bridge_link": "https://meet.example.com/new"}, who=WORKERS
    ),
    "partial_update_manager": _action(
        "patch", ROOM, body={"major_incident_manager": "rita"}, who=MANAGERS
    ),
    "demote": _action("post", ROOM + "demote/", body={"reason": "contained"}, who=MANAGERS),
    "roles": _action("get", ROOM + "roles/", who=READERS),
    "roles_create": _action(
        "post",
        ROOM + "roles/",
        body={"role": "incident_commander", "username": "rita"},
        ok=201,
        who=WORKERS,
    ),
    "roles_release": _action("post", ROOM + "roles/{assignment}/release/", who=WORKERS),
    "tasks": _action("get", ROOM + "tasks/", who=READERS),
    "tasks_create": _action("post", ROOM + "tasks/", body={"title": "t"}, ok=201, who=WORKERS),
    "tasks_partial_update": _action(
        "patch", ROOM + "tasks/{task}/", body={"done": True}, who=WORKERS
    ),
    "timeline": _action("get", ROOM + "timeline/", who=READERS),
    "timeline_pin": _action(
        "post", ROOM + "timeline/{event}/pin/", body={"pinned": True}, who=WORKERS
    ),
    "notes": _action("get", ROOM + "notes/", who=READERS),
    "notes_create": _action("post", ROOM + "notes/", body={"text": "n"}, ok=201, who=WORKERS),
    "scratchpad": _action("get", ROOM + "scratchpad/", who=READERS),
    "scratchpad_save": _action(
        "put", ROOM + "scratchpad/", body={"base_version": 0, "text": "t"}, who=WORKERS
    ),
    "scratchpad_revisions": _action("get", ROOM + "scratchpad/revisions/", who=READERS),
    "bridge": _action("get", ROOM + "bridge/", who=READERS),
    "bridge_join": _action("post", ROOM + "bridge/join/", who=WORKERS),
    "bridge_leave": _action("post", ROOM + "bridge/leave/", who=WORKERS),
    "rules": _action("get", "/api/declaration-rules/", who=WORKERS),
    "rules_retrieve": _action("get", "/api/declaration-rules/unacknowledged/", who=WORKERS),
    "rules_partial_update": _action(
        "patch", "/api/declaration-rules/unacknowledged/", body={"threshold": 20}, who=MANAGERS
    ),
}
CASES = [(role, name) for name in ACTIONS for role in ROLES]


def _written():
    return (
        list(MajorIncident.objects.values_list("pk", "state", "bridge_link", "manager")),
        IncidentEvent.objects.count(),
        RoleAssignment.objects.filter(ended_at__isnull=True).count(),
        list(WarRoomTask.objects.values_list("pk", "done")),
        ScratchpadRevision.objects.count(),
        list(BridgeAttendance.objects.values_list("pk", "left_at")),
        IncidentEvent.objects.filter(pinned=True).count(),
        list(DeclarationRule.objects.values_list("kind", "threshold")),
    )


@pytest.fixture
def prepared(major, responder, service):
    """The major incident with a role holder and a task, another open incident to declare, and
    (to leave it) the caller on the bridge; `prepare(action, user)` gives the path and body."""
    assignment = services.role_assign(
        major=major, actor=responder, source=ChangeSource.CLI, role="scribe", user=responder
    )
    task = services.task_create(major=major, actor=responder, source=ChangeSource.CLI, title="t")
    other = make_incident(actor=responder, services=[service.slug], priority="P1")
    names = {
        "number": major.number,
        "assignment": assignment.pk,
        "task": task.pk,
        "event": IncidentEvent.objects.filter(incident=major.incident).first().pk,
        "other": other.number,
    }

    def prepare(action, user):
        if action.path.endswith("bridge/leave/") and user.has_perm(WORK_PERMISSION):
            services.bridge_join(major=major, actor=user, source=ChangeSource.CLI)
        if action.body is None:
            return action.path.format(**names), None
        body = {
            key: value.format(**names) if isinstance(value, str) else value
            for key, value in action.body.items()
        }
        return action.path.format(**names), body

    return prepare


def _call(client, action, path, body):
    if body is None:
        return getattr(client, action.method)(path)
    return getattr(client, action.method)(path, body, format="json")


@pytest.mark.parametrize(("role", "name"), CASES)
def test_role_against_action(request, api, prepared, role, name):
    action = ACTIONS[name]
    user = request.getfixturevalue(role)
    path, body = prepared(action, user)
    before = _written()

    response = _call(api.as_user(user), action, path, body)

    if role in action.who:
        assert response.status_code == action.ok, response.content
        assert (_written() != before) is (action.method != "get")  # a write did write
    else:
        api_error(response, 403, "permission_denied")
        assert _written() == before


@pytest.mark.parametrize("name", ACTIONS)
def test_anonymous_caller_gets_401(api, prepared, responder, name):
    action = ACTIONS[name]
    path, body = prepared(action, responder)
    before = _written()

    response = _call(api, action, path, body)

    api_error(response, 401, "not_authenticated")
    assert _written() == before


def _routed_actions(patterns, module):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _routed_actions(pattern.url_patterns, module)
        elif getattr(pattern.callback, "actions", None) and (
            pattern.callback.cls.__module__ == module
        ):
            yield from ((pattern.callback.cls, a) for a in pattern.callback.actions.values())


def test_every_routed_action_is_in_the_table():
    """A new endpoint must join ACTIONS (the table names actions `<part>_<action>`)."""
    routed = set(_routed_actions(get_resolver().url_patterns, "warroom.api.views"))
    parts = {
        "RoleViewSet": "roles",
        "TaskViewSet": "tasks",
        "TimelineViewSet": "timeline",
        "NoteViewSet": "notes",
        "DeclarationRuleViewSet": "rules",
    }
    names = set()
    for cls, action in routed:
        part = parts.get(cls.__name__)
        names.add(action if part is None else part if action == "list" else f"{part}_{action}")
    names = {name.replace("save_scratchpad", "scratchpad_save") for name in names}

    assert names <= set(ACTIONS), sorted(names - set(ACTIONS))
    assert len(routed) == 24


# --- the schema ----------------------------------------------------------------------------


def test_the_schema_describes_every_endpoint_and_its_errors(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    error = {"$ref": "#/components/schemas/Error"}

    declare = paths["/api/major-incidents/"]["post"]
    assert set(declare["responses"]) == {
        "201",
        "400",
        "401",
        "403",
        "404",
        "409",
        "415",
        "422",  # an Idempotency-Key sent again with another request
        "429",
        "500",
    }
    assert declare["responses"]["409"]["content"]["application/json"]["schema"] == error
    assert set(schema["components"]["schemas"]["DeclareRequest"]["required"]) == {
        "incident_id",
        "major_incident_manager",
        "initial_impact_statement",
    }
    for path, method in (
        ("/api/major-incidents/{number}/", "patch"),
        ("/api/major-incidents/{number}/demote/", "post"),
        ("/api/major-incidents/{number}/roles/{id}/release/", "post"),
        ("/api/major-incidents/{number}/tasks/{id}/", "patch"),
        ("/api/major-incidents/{number}/timeline/{id}/pin/", "post"),
        ("/api/major-incidents/{number}/notes/", "post"),
        ("/api/major-incidents/{number}/scratchpad/", "put"),
        ("/api/major-incidents/{number}/scratchpad/revisions/", "get"),
        ("/api/major-incidents/{number}/bridge/join/", "post"),
        ("/api/declaration-rules/{kind}/", "patch"),
    ):
        operation = paths[path][method]
        assert "403" in operation["responses"] or method == "get", path
        number = [p for p in operation.get("parameters", []) if p["name"] == "number"]
        assert not number or number[0]["schema"]["pattern"] == "^INC[0-9]{7}$", path


# --- what a read costs ---------------------------------------------------------------------------

AUTH = 1  # the token with its user; the permissions are cached (itsm/permission_cache.py)
# The list: count, the page with each incident and its people, the page's chat channels.
LIST_QUERIES = AUTH + 3
# The detail: the major incident with its incident and people, its chat channels.
DETAIL_QUERIES = AUTH + 2


@pytest.fixture
def reader(api, responder):
    client = api.as_user(responder)
    client.get(LIST)  # the token's first use is recorded once; later uses are free
    return client


@pytest.fixture
def populate(declare, make_user, manager, service, webhooks):
    """`populate(n)`: n major incidents whose managers, states and chat channels vary, so a
    lazy read of any of them would show as extra queries."""
    people = [make_user(f"lead{i}", roles=[Role.ITSM_MANAGER]) for i in range(3)]

    def run(n):
        majors = []
        for i in range(n):
            incident = make_incident(actor=manager, services=[service.slug], priority="P2")
            major = declare(incident, manager=people[i % 3])
            services.major_incident_set_chat_webhooks(
                major=major, actor=manager, source=ChangeSource.CLI, webhooks=webhooks[: i % 3]
            )
            if i % 4 == 0:
                services.major_incident_demote(
                    major=major, actor=people[i % 3], source=ChangeSource.CLI, reason="minor"
                )
            majors.append(major)
        return majors

    return run


@pytest.mark.parametrize("n", [5, 50])
def test_list_costs_the_same_for_5_and_50(reader, populate, django_assert_num_queries, n):
    populate(n)

    with django_assert_num_queries(LIST_QUERIES):
        response = reader.get(LIST, {"page_size": 100})

    assert len(response.json()["results"]) == n
    assert {len(row["chat_webhooks"]) for row in response.json()["results"]} == {0, 1, 2}


def test_detail_has_a_fixed_count(reader, populate, django_assert_num_queries):
    [major] = populate(1)

    with django_assert_num_queries(DETAIL_QUERIES):
        response = reader.get(room(major))

    assert response.json()["demotion_reason"] == "minor"


@pytest.mark.parametrize(
    ("tail", "queries"),
    [
        ("roles/", AUTH + 2),  # the major incident; the roles with their holders
        ("tasks/", AUTH + 2),  # the major incident; the tasks with their assignees
        ("bridge/", AUTH + 2),  # the major incident; the attendance with the people
        ("timeline/", AUTH + 3),  # the major incident; count and page of events with actors
        ("scratchpad/revisions/", AUTH + 3),  # the major incident; count and page with authors
    ],
)
@pytest.mark.parametrize("n", [1, 6])
def test_each_part_costs_the_same_however_full(
    reader, major, make_user, django_assert_num_queries, tail, queries, n
):
    for i in range(n):
        person = make_user(f"expert{i}", roles=[Role.RESPONDER])
        services.role_assign(
            major=major, actor=person, source=ChangeSource.CLI, role="sme", user=person
        )
        services.task_create(
            major=major, actor=person, source=ChangeSource.CLI, title="t", assignee=person
        )
        services.bridge_join(major=major, actor=person, source=ChangeSource.CLI)
        services.scratchpad_update(major=major, actor=person, base_version=i, text=f"v{i}")

    with django_assert_num_queries(queries):
        response = reader.get(room(major, tail))

    assert response.status_code == 200
    body = response.content.decode()
    assert [i for i in range(n) if f'"expert{i}"' not in body] == []  # every row was read
