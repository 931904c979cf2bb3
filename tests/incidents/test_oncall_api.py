"""The on-call and escalation API: who may do what, "who is on call at T", creating schedules,
overrides and policies, and an incident's escalation steps."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine

from incidents.models import EscalationPolicy, Rotation, RotationMember, Schedule, ScheduleOverride
from itsm.roles import Role
from tests.conftest import api_error
from tests.factories import make_incident

MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ROLES = ["responder", "manager", "super_admin", "stakeholder", "nobody"]
SCHEDULE_READERS = {"responder", "manager", "super_admin", "stakeholder"}
WORKERS = {"responder", "manager", "super_admin"}
MANAGERS = {"manager", "super_admin"}


@pytest.fixture
def alice(make_user):
    return make_user("alice", roles=[Role.RESPONDER], first_name="Alice", last_name="Archer")


@pytest.fixture
def bob(make_user):
    return make_user("bob", roles=[Role.RESPONDER])


@pytest.fixture
def schedule(alice, bob):
    schedule = Schedule.objects.create(slug="primary", name="Primary on-call")
    rotation = Rotation.objects.create(
        schedule=schedule, name="Daily", handoff_at=MONDAY, shift_length=timedelta(days=1)
    )
    RotationMember.objects.create(rotation=rotation, user=alice, position=1)
    RotationMember.objects.create(rotation=rotation, user=bob, position=2)
    return schedule


def _action(method, path, *, body=None, ok=200, who):
    return SimpleNamespace(method=method, path=path, body=body, ok=ok, who=who)


NEW_SCHEDULE = {
    "slug": "dba",
    "name": "DBA on-call",
    "rotations": [
        {
            "name": "Weekly",
            "layer": 1,
            "handoff_at": "2026-01-05T09:00:00Z",
            "shift_length": "7 00:00:00",
            "members": ["bob", "alice"],
        }
    ],
}
NEW_POLICY = {
    "slug": "dba",
    "name": "DBA escalation",
    "levels": [{"position": 1, "name": "DBA on call", "delay": "00:00:00"}],
}
OWN_OVERRIDE = {"starts_at": "2026-01-05T12:00:00Z", "ends_at": "2026-01-05T18:00:00Z"}

ACTIONS = {
    "schedules_list": _action("get", "/api/schedules/", who=SCHEDULE_READERS),
    "schedules_retrieve": _action("get", "/api/schedules/primary/", who=SCHEDULE_READERS),
    "schedules_oncall": _action("get", "/api/schedules/primary/oncall/", who=SCHEDULE_READERS),
    "schedules_create": _action("post", "/api/schedules/", body=NEW_SCHEDULE, ok=201, who=MANAGERS),
    "schedules_overrides": _action(
        "post", "/api/schedules/primary/overrides/", body=OWN_OVERRIDE, ok=201, who=WORKERS
    ),
    "policies_list": _action("get", "/api/escalation-policies/", who=WORKERS),
    "policies_retrieve": _action("get", "/api/escalation-policies/default/", who=WORKERS),
    "policies_create": _action(
        "post", "/api/escalation-policies/", body=NEW_POLICY, ok=201, who=MANAGERS
    ),
    "incident_escalation": _action("get", "/api/incidents/{number}/escalation/", who=WORKERS),
}


def _written():
    return (
        Schedule.objects.count(),
        ScheduleOverride.objects.count(),
        EscalationPolicy.objects.count(),
    )


def _call(client, action, incident):
    path = action.path.format(number=incident.number)
    if action.body is None:
        return getattr(client, action.method)(path)
    return getattr(client, action.method)(path, action.body, format="json")


@pytest.mark.parametrize(("role", "name"), [(r, n) for n in ACTIONS for r in ROLES])
def test_role_against_action(request, api, schedule, incident, role, name):
    action = ACTIONS[name]
    user = request.getfixturevalue(role)
    body = action.body
    if name == "schedules_overrides":
        body = {**OWN_OVERRIDE, "user": user.username}  # everyone asks for themselves
    before = _written()

    response = _call(api.as_user(user), SimpleNamespace(**{**vars(action), "body": body}), incident)

    if role in action.who:
        assert response.status_code == action.ok, response.content
    else:
        api_error(response, 403, "permission_denied")
        assert _written() == before


@pytest.mark.parametrize("name", ACTIONS)
def test_anonymous_callers_get_401(api, schedule, incident, name):
    before = _written()

    response = _call(api, ACTIONS[name], incident)

    api_error(response, 401, "not_authenticated")
    assert _written() == before


# --- who is on call ------------------------------------------------------------------------------


def test_oncall_answers_who_is_on_call_at_the_given_moment(api, responder, schedule):
    response = api.as_user(responder).get(
        "/api/schedules/primary/oncall/", {"at": "2026-01-06T10:00:00Z"}
    )

    assert response.status_code == 200
    assert response.json() == {
        "schedule": "primary",
        "at": "2026-01-06T10:00:00Z",
        "user": "bob",
        "name": "bob",
        "source": "Daily",
    }


def test_oncall_defaults_to_now_and_accepts_the_schedules_id(api, responder, schedule):
    with time_machine.travel(MONDAY + timedelta(hours=1), tick=False):
        response = api.as_user(responder).get(f"/api/schedules/{schedule.pk}/oncall/")

    body = response.json()
    assert (body["user"], body["name"], body["at"]) == (
        "alice",
        "Alice Archer",
        "2026-01-05T10:00:00Z",
    )


def test_oncall_names_an_override_as_the_source(api, responder, schedule, bob):
    ScheduleOverride.objects.create(
        schedule=schedule, user=bob, starts_at=MONDAY, ends_at=MONDAY + timedelta(hours=2)
    )

    body = (
        api.as_user(responder)
        .get("/api/schedules/primary/oncall/", {"at": "2026-01-05T10:00:00+00:00"})
        .json()
    )

    assert (body["user"], body["source"]) == ("bob", "override")


def test_oncall_before_the_first_handoff_is_nobody(api, responder, schedule):
    body = (
        api.as_user(responder)
        .get("/api/schedules/primary/oncall/", {"at": "2026-01-01T00:00:00Z"})
        .json()
    )

    assert (body["user"], body["name"], body["source"]) == (None, None, None)


@pytest.mark.parametrize("at", ["yesterday", "2026-13-01T00:00:00Z", "1736000000"])
def test_a_bad_at_answers_400_naming_it(api, responder, schedule, at):
    response = api.as_user(responder).get("/api/schedules/primary/oncall/", {"at": at})

    assert set(api_error(response, 400, "invalid")) == {"at"}


def test_an_unknown_schedule_answers_404(api, responder, schedule):
    response = api.as_user(responder).get("/api/schedules/nope/oncall/")

    api_error(response, 404, "not_found")


# --- schedules and overrides ---------------------------------------------------------------------


def test_a_manager_creates_a_schedule_with_its_rotation_in_turn_order(api, manager, alice, bob):
    response = api.as_user(manager).post("/api/schedules/", NEW_SCHEDULE, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "dba"
    assert body["rotations"][0]["members"] == ["bob", "alice"]
    assert body["rotations"][0]["shift_length"] == "7 00:00:00"
    oncall = api.get("/api/schedules/dba/oncall/", {"at": "2026-01-12T10:00:00Z"}).json()
    assert oncall["user"] == "alice"  # the second week: the second member


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"layer": 1}, "rotations"),  # a second rotation on layer 1
        ({"shift_length": "00:10:00"}, "rotations"),
        ({"members": ["ghost"]}, "rotations"),
        ({"members": []}, "rotations"),
    ],
)
def test_a_schedule_with_a_bad_rotation_is_refused(api, manager, alice, bob, change, field):
    rotation = {**NEW_SCHEDULE["rotations"][0], **change}
    rotations = [NEW_SCHEDULE["rotations"][0], rotation] if "layer" in change else [rotation]

    response = api.as_user(manager).post(
        "/api/schedules/", {**NEW_SCHEDULE, "rotations": rotations}, format="json"
    )

    assert field in api_error(response, 400, "invalid")
    assert not Schedule.objects.exists()


def test_a_schedule_with_an_unknown_time_zone_is_refused(api, manager):
    response = api.as_user(manager).post(
        "/api/schedules/", {"slug": "x", "name": "X", "time_zone": "Mars/Olympus"}, format="json"
    )

    assert "time_zone" in api_error(response, 400, "invalid")
    assert not Schedule.objects.exists()


def test_a_responder_adds_an_override_for_themselves_and_it_shows(api, responder, schedule):
    client = api.as_user(responder)

    response = client.post(
        "/api/schedules/primary/overrides/",
        {**OWN_OVERRIDE, "user": "rita", "reason": "swap"},
        format="json",
    )

    assert response.status_code == 201
    with time_machine.travel(MONDAY, tick=False):
        listed = client.get("/api/schedules/primary/").json()["overrides"]
        oncall = client.get("/api/schedules/primary/oncall/", {"at": "2026-01-05T13:00:00Z"})
    assert [(o["user"], o["reason"]) for o in listed] == [("rita", "swap")]
    assert oncall.json()["user"] == "rita"


def test_a_responder_may_not_put_someone_else_on_call(api, responder, schedule):
    response = api.as_user(responder).post(
        "/api/schedules/primary/overrides/", {**OWN_OVERRIDE, "user": "bob"}, format="json"
    )

    api_error(response, 403, "permission_denied")
    assert not ScheduleOverride.objects.exists()


def test_an_override_ending_before_it_starts_is_refused(api, manager, schedule):
    body = {
        "user": "bob",
        "starts_at": OWN_OVERRIDE["ends_at"],
        "ends_at": OWN_OVERRIDE["starts_at"],
    }

    response = api.as_user(manager).post("/api/schedules/primary/overrides/", body, format="json")

    assert set(api_error(response, 400, "invalid")) == {"ends_at"}
    assert not ScheduleOverride.objects.exists()


def test_past_overrides_are_left_out_of_the_schedule(api, responder, schedule, bob):
    ScheduleOverride.objects.create(
        schedule=schedule, user=bob, starts_at=MONDAY, ends_at=MONDAY + timedelta(hours=2)
    )

    with time_machine.travel(MONDAY + timedelta(hours=3), tick=False):
        body = api.as_user(responder).get("/api/schedules/primary/").json()

    assert body["overrides"] == []


# --- escalation policies -------------------------------------------------------------------------


def test_the_default_ladder_is_listed_with_its_levels(api, responder):
    body = api.as_user(responder).get("/api/escalation-policies/default/").json()

    assert body["is_default"] is True
    assert [(lv["position"], lv["delay"], lv["priorities"]) for lv in body["levels"]] == [
        (1, "00:00:00", []),
        (2, "00:10:00", []),
        (3, "00:20:00", []),
        (4, "00:30:00", []),
        (5, "00:45:00", ["P1"]),
    ]


def test_a_manager_creates_a_policy_with_targets(api, manager, schedule, alice, team):
    body = {
        "slug": "payments",
        "name": "Payments escalation",
        "repeat_count": 2,
        "levels": [
            {
                "position": 1,
                "name": "On call",
                "delay": "00:00:00",
                "target_schedules": ["primary"],
            },
            {
                "position": 2,
                "name": "Everyone",
                "delay": "00:15:00",
                "priorities": ["P1", "P2"],
                "target_users": ["alice"],
                "target_teams": ["payments"],
            },
        ],
    }

    response = api.as_user(manager).post("/api/escalation-policies/", body, format="json")

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["repeat_count"] == 2 and created["is_default"] is False
    assert created["levels"][0]["target_schedules"] == ["primary"]
    assert created["levels"][1] == {
        "position": 2,
        "name": "Everyone",
        "delay": "00:15:00",
        "priorities": ["P1", "P2"],
        "target_users": ["alice"],
        "target_teams": ["payments"],
        "target_schedules": [],
    }


def test_a_new_default_policy_takes_over_from_the_old_one(api, manager):
    response = api.as_user(manager).post(
        "/api/escalation-policies/", {**NEW_POLICY, "is_default": True}, format="json"
    )

    assert response.status_code == 201, response.content
    assert list(
        EscalationPolicy.objects.filter(is_default=True).values_list("slug", flat=True)
    ) == ["dba"]


@pytest.mark.parametrize(
    "levels",
    [
        [{"position": 1, "name": "A", "delay": "0"}, {"position": 1, "name": "B", "delay": "0"}],
        [{"position": 1, "name": "A", "delay": "0", "priorities": ["SEV1"]}],
        [{"position": 1, "name": "A", "delay": "-00:05:00"}],
    ],
)
def test_a_policy_with_bad_levels_is_refused(api, manager, levels):
    response = api.as_user(manager).post(
        "/api/escalation-policies/", {**NEW_POLICY, "levels": levels}, format="json"
    )

    assert "levels" in api_error(response, 400, "invalid")
    assert not EscalationPolicy.objects.filter(slug="dba").exists()


# --- an incident's escalation --------------------------------------------------------------------


def test_an_incidents_escalation_lists_each_level_and_its_state(api, responder, drive):
    with time_machine.travel(MONDAY, tick=False):
        incident = make_incident(actor=responder, priority="P2")
        drive(incident, responder, "acknowledge")

    body = api.as_user(responder).get(f"/api/incidents/{incident.number}/escalation/").json()

    assert [(s["level"], s["level_name"], s["state"]) for s in body] == [
        (1, "Primary on-call", "cancelled"),
        (2, "Secondary on-call", "cancelled"),
        (3, "Engineering manager", "cancelled"),
        (4, "Director of operations", "cancelled"),
    ]
    assert body[1]["due_at"] == "2026-01-05T09:10:00Z"


def test_an_unknown_incidents_escalation_answers_404(api, responder):
    response = api.as_user(responder).get("/api/incidents/INC9999999/escalation/")

    api_error(response, 404, "not_found")


@pytest.mark.parametrize("path", ["schedules/²", "escalation-policies/²"])
def test_a_non_ascii_digit_is_looked_up_as_a_slug(api, responder, path):
    """`"²".isdigit()` is true but int() refuses it; that was a 500."""
    response = api.as_user(responder).get(f"/api/{path}/")

    api_error(response, 404, "not_found")


def test_a_rotation_without_a_layer_gets_the_first_one(api, manager, alice, bob):
    rotation = {key: value for key, value in NEW_SCHEDULE["rotations"][0].items() if key != "layer"}
    body = {**NEW_SCHEDULE, "rotations": [rotation]}

    response = api.as_user(manager).post("/api/schedules/", body, format="json")

    assert response.status_code == 201, response.content
    assert [r["layer"] for r in response.json()["rotations"]] == [1]


@pytest.mark.parametrize(
    ("path", "body", "list_name", "field"),
    [
        (
            "schedules",
            {
                **NEW_SCHEDULE,
                "rotations": [{**NEW_SCHEDULE["rotations"][0], "shift_length": "999999999 0"}],
            },
            "rotations",
            "shift_length",
        ),
        (
            "escalation-policies",
            {**NEW_POLICY, "levels": [{**NEW_POLICY["levels"][0], "delay": "999999999 0"}]},
            "levels",
            "delay",
        ),
    ],
)
def test_a_duration_longer_than_a_year_is_refused(
    api, manager, alice, bob, path, body, list_name, field
):
    response = api.as_user(manager).post(f"/api/{path}/", body, format="json")

    assert field in api_error(response, 400, "invalid")[list_name]["0"]
    assert not Schedule.objects.filter(slug="dba").exists()
    assert not EscalationPolicy.objects.filter(slug="dba").exists()
