"""The SLA API: timers in the incident payload, `/api/sla-policies/` and `/api/calendars/`."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents.models import BusinessCalendar, SlaPolicy
from incidents.sla.presets import load_preset
from tests.conftest import api_error
from tests.factories import make_incident

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
READERS = {"responder", "manager", "super_admin", "stakeholder"}
STAFF = {"responder", "manager", "super_admin"}
MANAGERS = {"manager", "super_admin"}
ROLES = [*sorted(READERS), "nobody"]

NEW_POLICY = {
    "slug": "gold",
    "name": "Gold support",
    "targets": [
        {"priority": "P1", "kind": "acknowledge", "duration": "00:10:00"},
        {"priority": "P1", "kind": "resolve", "duration": "PT2H"},
    ],
}
NEW_CALENDAR = {
    "slug": "berlin",
    "name": "Berlin office",
    "time_zone": "Europe/Berlin",
    "hours": [{"weekday": 0, "start": "08:00", "end": "16:00"}],
    "holidays": [{"date": "2026-10-03", "name": "Unity day"}],
}

# name: (method, path, body, status on success, who may)
ACTIONS = {
    "policies_list": ("get", "/api/sla-policies/", None, 200, READERS),
    "policies_retrieve": ("get", "/api/sla-policies/response-workflow/", None, 200, READERS),
    "policies_create": ("post", "/api/sla-policies/", NEW_POLICY, 201, MANAGERS),
    "policies_update": (
        "patch",
        "/api/sla-policies/response-workflow/",
        {"warning_percent": 80},
        200,
        MANAGERS,
    ),
    "calendars_list": ("get", "/api/calendars/", None, 200, STAFF),
    "calendars_retrieve": ("get", "/api/calendars/business-hours/", None, 200, STAFF),
    "calendars_create": ("post", "/api/calendars/", NEW_CALENDAR, 201, MANAGERS),
    "calendars_update": (
        "patch",
        "/api/calendars/business-hours/",
        {"name": "Office hours"},
        200,
        MANAGERS,
    ),
}


@pytest.fixture
def configured(db):
    """The techflow preset loaded, so the business-hours calendar exists."""
    return load_preset("techflow")


def _state():
    return (
        sorted(SlaPolicy.objects.values_list("slug", "warning_percent", "is_default")),
        sorted(BusinessCalendar.objects.values_list("slug", "name")),
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", ACTIONS)
def test_role_against_sla_action(request, api, configured, role, name):
    method, path, body, ok, who = ACTIONS[name]
    before = _state()

    client = api.as_user(request.getfixturevalue(role))
    response = getattr(client, method)(path, body, format="json")

    if role in who:
        assert response.status_code == ok, response.content
    else:
        api_error(response, 403, "permission_denied")
        assert _state() == before


@pytest.mark.parametrize("name", ACTIONS)
def test_anonymous_callers_get_401(api, configured, name):
    method, path, body, _, _ = ACTIONS[name]
    before = _state()

    api_error(getattr(api, method)(path, body, format="json"), 401, "not_authenticated")
    assert _state() == before


@pytest.mark.parametrize("method", ["put", "delete"])
def test_policies_are_edited_with_patch_and_never_deleted(api, manager, method):
    client = api.as_user(manager)

    response = getattr(client, method)("/api/sla-policies/response-workflow/", {}, format="json")

    api_error(response, 405, "method_not_allowed")
    assert SlaPolicy.objects.filter(slug="response-workflow").exists()


# --- the incident payload ---------------------------------------------------------------------


def test_the_incident_payload_carries_its_timers(api, responder):
    with time_machine.travel(T0, tick=False) as clock:
        incident = make_incident(actor=responder, priority="P1")
        clock.move_to(T0 + timedelta(minutes=5))
        client = api.as_user(responder)
        client.post(f"/api/incidents/{incident.number}/acknowledge/", {}, format="json")
        clock.move_to(T0 + timedelta(minutes=10))

        detail = client.get(f"/api/incidents/{incident.number}/").json()
        listed = client.get("/api/incidents/").json()["results"][0]

    assert detail["sla_timers"] == listed["sla_timers"]
    assert detail["sla_timers"] == [
        {
            "kind": "acknowledge",
            "state": "met",
            "started_at": "2026-03-02T10:00:00Z",
            "target_at": "2026-03-02T10:15:00Z",
            "warn_at": "2026-03-02T10:11:15Z",
            "warned_at": None,
            "breached_at": None,
            "stopped_at": "2026-03-02T10:05:00Z",
            "paused": False,
            "seconds_left": None,
        },
        {
            "kind": "mitigate",
            "state": "running",
            "started_at": "2026-03-02T10:00:00Z",
            "target_at": "2026-03-02T11:00:00Z",
            "warn_at": "2026-03-02T10:45:00Z",
            "warned_at": None,
            "breached_at": None,
            "stopped_at": None,
            "paused": False,
            "seconds_left": 50 * 60,
        },
        {
            "kind": "resolve",
            "state": "running",
            "started_at": "2026-03-02T10:00:00Z",
            "target_at": "2026-03-02T14:00:00Z",
            "warn_at": "2026-03-02T13:00:00Z",
            "warned_at": None,
            "breached_at": None,
            "stopped_at": None,
            "paused": False,
            "seconds_left": 230 * 60,
        },
    ]


def test_a_paused_timer_shows_the_time_it_had_left_and_an_overdue_one_a_negative_count(
    api, responder, drive
):
    with time_machine.travel(T0, tick=False) as clock:
        incident = make_incident(actor=responder, priority="P1")
        clock.move_to(T0 + timedelta(minutes=20))
        drive(incident, responder, "acknowledge", "hold")
        clock.move_to(T0 + timedelta(hours=3))

        timers = api.as_user(responder).get(f"/api/incidents/{incident.number}/").json()
    by_kind = {timer["kind"]: timer for timer in timers["sla_timers"]}

    assert by_kind["mitigate"]["paused"] is True
    assert by_kind["mitigate"]["seconds_left"] == 40 * 60  # frozen at the hold
    assert by_kind["acknowledge"]["state"] == "breached"
    assert by_kind["acknowledge"]["seconds_left"] is None  # stopped (acknowledged) late


# --- policies ---------------------------------------------------------------------------------


def test_a_manager_creates_a_policy_with_its_targets(api, manager):
    response = api.as_user(manager).post("/api/sla-policies/", NEW_POLICY, format="json")

    assert response.status_code == 201, response.content
    assert response.json() == {
        "slug": "gold",
        "name": "Gold support",
        "description": "",
        "is_default": False,
        "warning_percent": 75,
        "pause_on_hold": True,
        "calendar": None,
        "targets": [
            {
                "priority": "P1",
                "kind": "acknowledge",
                "duration": "00:10:00",
                "business_time": False,
            },
            {"priority": "P1", "kind": "resolve", "duration": "02:00:00", "business_time": False},
        ],
    }


def test_making_a_policy_the_default_moves_the_flag(api, manager, configured):
    response = api.as_user(manager).patch(
        "/api/sla-policies/techflow/", {"is_default": True}, format="json"
    )

    assert response.status_code == 200, response.content
    assert list(SlaPolicy.objects.filter(is_default=True).values_list("slug", flat=True)) == [
        "techflow"
    ]


def test_patching_targets_replaces_them(api, manager):
    targets = [{"priority": "P2", "kind": "resolve", "duration": "08:00:00"}]

    response = api.as_user(manager).patch(
        "/api/sla-policies/response-workflow/", {"targets": targets}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["targets"] == [{**targets[0], "business_time": False}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "targets": [
                    {
                        "priority": "P1",
                        "kind": "resolve",
                        "duration": "8:00:00",
                        "business_time": True,
                    }
                ]
            },
            "calendar",
        ),
        ({"calendar": None}, "calendar"),
        (
            {
                "targets": [
                    {"priority": "P1", "kind": "resolve", "duration": "1:00:00"},
                    {"priority": "P1", "kind": "resolve", "duration": "2:00:00"},
                ]
            },
            "targets",
        ),
        ({"targets": [{"priority": "P1", "kind": "resolve", "duration": "0:00:00"}]}, "targets"),
        ({"warning_percent": 100}, "warning_percent"),
        ({"calendar": "no-such-calendar"}, "calendar"),
    ],
)
def test_an_invalid_policy_is_refused_and_nothing_changes(api, manager, configured, body, field):
    slug = "techflow" if "calendar" in body and body["calendar"] is None else "response-workflow"
    before = _state()

    response = api.as_user(manager).patch(f"/api/sla-policies/{slug}/", body, format="json")

    assert field in api_error(response, 400, "invalid")
    assert _state() == before


def test_the_policy_list_costs_the_same_for_few_and_many_policies(
    api, responder, django_assert_num_queries
):
    client = api.as_user(responder)
    client.get("/api/sla-policies/")  # the token's first use is recorded once
    for name in ("techflow", "workflow-guide"):
        load_preset(name)

    # token (the permissions are cached); count, page with calendars, targets
    with django_assert_num_queries(4):
        response = client.get("/api/sla-policies/")

    assert len(response.json()["results"]) == 3
    assert sum(len(policy["targets"]) for policy in response.json()["results"]) == 12 + 15 + 8


# --- calendars --------------------------------------------------------------------------------


def test_a_manager_creates_a_calendar_with_hours_and_holidays(api, manager):
    response = api.as_user(manager).post("/api/calendars/", NEW_CALENDAR, format="json")

    assert response.status_code == 201, response.content
    assert response.json() == {
        **NEW_CALENDAR,
        "hours": [{"weekday": 0, "start": "08:00:00", "end": "16:00:00"}],
    }


def test_patching_holidays_replaces_them_and_keeps_the_hours(api, manager, configured):
    holidays = [{"date": "2026-12-25", "name": "Christmas"}]

    response = api.as_user(manager).patch(
        "/api/calendars/business-hours/", {"holidays": holidays}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["holidays"] == holidays
    assert len(response.json()["hours"]) == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW_CALENDAR, "time_zone": "Mars/Olympus"}, "time_zone"),
        ({**NEW_CALENDAR, "time_zone": "x" * 300}, "time_zone"),  # too long a file name
        ({**NEW_CALENDAR, "hours": []}, "hours"),
        ({**NEW_CALENDAR, "hours": [{"weekday": 0, "start": "17:00", "end": "09:00"}]}, "hours"),
        ({**NEW_CALENDAR, "hours": [{"weekday": 9, "start": "09:00", "end": "17:00"}]}, "hours"),
        (
            {**NEW_CALENDAR, "holidays": [{"date": "2026-10-03", "name": "a"}] * 2},
            "holidays",
        ),
    ],
)
def test_an_invalid_calendar_is_refused(api, manager, body, field):
    response = api.as_user(manager).post("/api/calendars/", body, format="json")

    assert field in api_error(response, 400, "invalid")
    assert not BusinessCalendar.objects.filter(slug="berlin").exists()


@pytest.mark.parametrize("zone", ["UTC", "Europe/London"])
def test_timer_payload_matches_drf_field_by_field(incident, settings, zone):
    """The hand-built timer representation must stay what DRF's declared fields produce."""
    from rest_framework import serializers as drf

    from incidents.sla.api import SlaTimerSerializer

    settings.TIME_ZONE = zone
    timers = list(incident.sla_timers.all())
    assert timers
    with time_machine.travel(timezone.now(), tick=False):  # seconds_left read at one instant
        for timer in timers:
            fast = SlaTimerSerializer().to_representation(timer)
            slow = drf.ModelSerializer.to_representation(SlaTimerSerializer(), timer)
            assert fast == dict(slow)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("sla-policies/response-workflow", {"targets": [{"duration": "01:00:00"}]}, "priority"),
        ("calendars/business-hours", {"hours": [{"weekday": 0}]}, "start"),
        ("calendars/business-hours", {"holidays": [{"name": "Party"}]}, "date"),
    ],
)
def test_a_patched_list_item_still_needs_every_field(api, manager, configured, path, body, field):
    """A PATCH replaces the list whole; an incomplete item used to be a 500."""
    before = _state()

    response = api.as_user(manager).patch(f"/api/{path}/", body, format="json")

    fields = api_error(response, 400, "invalid")
    (name,) = body
    assert field in fields[name]["0"]
    assert _state() == before


def test_a_target_longer_than_a_year_is_refused(api, manager):
    body = {
        **NEW_POLICY,
        "targets": [{"priority": "P1", "kind": "resolve", "duration": "999999999 00:00:00"}],
    }

    response = api.as_user(manager).post("/api/sla-policies/", body, format="json")

    assert "duration" in api_error(response, 400, "invalid")["targets"]["0"]
    assert not SlaPolicy.objects.filter(slug="gold").exists()
