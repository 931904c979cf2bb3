"""The REST API as an integration sees it: create, edit, notes, lists, services and teams."""

import re

import pytest
import time_machine
import yaml
from django.db import connection
from django.utils import timezone

from incidents.choices import EventType
from incidents.models import Incident, Service
from tests.conftest import api_error
from tests.factories import ServiceFactory, TeamFactory, make_incident

# SPEC §1's default matrix, cell by cell.
DEFAULT_MATRIX = [
    (1, 1, "P1"),
    (1, 2, "P2"),
    (2, 1, "P2"),
    (2, 2, "P3"),
    (1, 3, "P3"),
    (3, 1, "P3"),
    (2, 3, "P4"),
    (3, 2, "P4"),
    (3, 3, "P4"),
]


@pytest.fixture
def client(api, responder):
    return api.as_user(responder)


def _create(client, **body):
    response = client.post("/api/incidents/", {"title": "Checkout 500s", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _events(number):
    return list(Incident.objects.get(number=number).events.order_by("id"))


# --- create ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("impact", "urgency", "priority"), DEFAULT_MATRIX)
def test_priority_is_derived_from_impact_and_urgency(client, impact, urgency, priority):
    body = _create(client, impact=impact, urgency=urgency)

    assert body["priority"] == priority
    assert body["priority_overridden"] is False


def test_explicit_priority_is_taken_as_given(client):
    body = _create(client, priority="P1")

    assert body["priority"] == "P1"


def test_explicit_priority_over_impact_and_urgency_is_an_override(client):
    body = _create(client, impact=3, urgency=3, priority="P1")

    assert body["priority"] == "P1"
    assert body["priority_overridden"] is True


def test_create_records_who_what_and_where(client, responder, service, team):
    body = _create(
        client, impact=1, urgency=1, services=[service.slug], team=team.slug, affected_users=40
    )

    assert body["status"] == "new"
    assert body["reporter"] == responder.username
    assert body["source"] == "api"
    assert body["services"] == [service.slug]
    assert body["team"] == team.slug
    assert body["affected_users"] == 40
    [created] = _events(body["number"])
    assert created.type == EventType.CREATED
    assert created.actor == responder
    assert created.source == "api"


def test_numbers_are_inc_and_seven_digits_and_sequential(client):
    numbers = [_create(client, priority="P3")["number"] for _ in range(3)]

    assert all(re.fullmatch(r"INC\d{7}", number) for number in numbers)
    values = [int(number[3:]) for number in numbers]
    assert values == [values[0], values[0] + 1, values[0] + 2]


def test_created_incident_is_found_at_its_number(client):
    number = _create(client, priority="P3")["number"]

    response = client.get(f"/api/incidents/{number}/")

    assert response.status_code == 200
    assert response.json()["number"] == number
    assert response.json()["allowed_transitions"] == ["acknowledge", "cancel"]


# --- edit -----------------------------------------------------------------------------------


def test_priority_change_needs_a_reason(api, manager, incident):
    response = api.as_user(manager).patch(
        f"/api/incidents/{incident.number}/", {"priority": "P1"}, format="json"
    )

    assert "priority_reason" in api_error(response, 400, "invalid")
    assert Incident.objects.get(pk=incident.pk).priority == "P3"


def test_responder_may_not_override_the_priority(client, incident):
    events = len(_events(incident.number))

    response = client.patch(
        f"/api/incidents/{incident.number}/",
        {"priority": "P1", "priority_reason": "CEO noticed"},
        format="json",
    )

    api_error(response, 403, "permission_denied")
    assert Incident.objects.get(pk=incident.pk).priority == "P3"
    assert len(_events(incident.number)) == events


def test_refused_priority_override_undoes_the_rest_of_the_edit(client, incident):
    response = client.patch(
        f"/api/incidents/{incident.number}/",
        {"title": "Renamed", "priority": "P1", "priority_reason": "CEO noticed"},
        format="json",
    )

    assert response.status_code == 403
    assert Incident.objects.get(pk=incident.pk).title == incident.title


def test_manager_overrides_the_priority_with_a_reason(api, manager, incident):
    response = api.as_user(manager).patch(
        f"/api/incidents/{incident.number}/",
        {"priority": "P1", "priority_reason": "CEO noticed"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["priority"] == "P1"
    assert response.json()["priority_overridden"] is True
    event = _events(incident.number)[-1]
    assert event.type == EventType.PRIORITY_CHANGE
    assert event.actor == manager
    assert event.data["changes"]["priority"] == ["P3", "P1"]
    assert "CEO noticed" in event.summary


def test_impact_change_re_derives_the_priority_in_one_event(client, incident):
    events = len(_events(incident.number))

    response = client.patch(f"/api/incidents/{incident.number}/", {"impact": 1}, format="json")

    assert response.json()["priority"] == "P2"
    new_events = _events(incident.number)[events:]
    assert len(new_events) == 1
    assert new_events[0].type == EventType.PRIORITY_CHANGE
    assert new_events[0].data["changes"] == {"impact": [2, 1], "priority": ["P3", "P2"]}


def test_overridden_priority_survives_an_impact_change(api, manager, incident):
    client = api.as_user(manager)
    client.patch(
        f"/api/incidents/{incident.number}/",
        {"priority": "P4", "priority_reason": "no users yet"},
        format="json",
    )

    response = client.patch(f"/api/incidents/{incident.number}/", {"urgency": 1}, format="json")

    assert response.json()["priority"] == "P4"
    assert response.json()["urgency"] == 1


def test_field_edit_writes_one_event_and_one_history_row(client, incident, team, responder):
    history = incident.history.count()

    response = client.patch(
        f"/api/incidents/{incident.number}/",
        {"title": "Checkout slow", "team": team.slug, "assignee": responder.username},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["team"], body["assignee"]) == (
        "Checkout slow",
        team.slug,
        responder.username,
    )
    event = _events(incident.number)[-1]
    assert event.type == EventType.FIELD_CHANGE
    assert set(event.data["changes"]) == {"title", "team", "assignee"}
    assert incident.history.count() == history + 1
    assert "title" in incident.history.first().history_change_reason


def test_edit_that_changes_nothing_writes_nothing(client, incident):
    events = len(_events(incident.number))

    response = client.patch(
        f"/api/incidents/{incident.number}/", {"title": incident.title}, format="json"
    )

    assert response.status_code == 200
    assert len(_events(incident.number)) == events


def test_services_can_be_replaced(client, incident):
    other = ServiceFactory(slug="search")

    response = client.patch(
        f"/api/incidents/{incident.number}/", {"services": [other.slug]}, format="json"
    )

    assert response.json()["services"] == ["search"]


# --- notes ----------------------------------------------------------------------------------


def test_note_is_added_to_the_timeline(client, responder, incident):
    response = client.post(
        f"/api/incidents/{incident.number}/notes/",
        {"text": "Rolled back 4.2", "public": True},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["type"] == "note"
    assert response.json()["actor"] == responder.username
    timeline = client.get(f"/api/incidents/{incident.number}/timeline/").json()["results"]
    assert timeline[-1]["summary"] == "Rolled back 4.2"
    assert timeline[-1]["public"] is True


def test_timeline_is_oldest_first(client, incident):
    for text in ("first", "second"):
        client.post(f"/api/incidents/{incident.number}/notes/", {"text": text}, format="json")

    timeline = client.get(f"/api/incidents/{incident.number}/timeline/").json()["results"]

    assert [e["type"] for e in timeline] == ["created", "note", "note"]
    assert [e["summary"] for e in timeline[1:]] == ["first", "second"]


# --- list and filters -------------------------------------------------------------------------


@pytest.fixture
def spread(responder, make_user, service, team):
    """Four incidents that differ in every filterable way."""
    olga = make_user("olga")
    other_service = ServiceFactory(slug="search")
    other_team = TeamFactory(slug="network")
    return {
        "a": make_incident(
            actor=responder,
            title="Checkout 500s",
            priority="P1",
            services=[service.slug],
            team=team,
        ),
        "b": make_incident(
            actor=responder,
            title="Search slow",
            priority="P3",
            services=[other_service.slug],
            team=other_team,
            assignee=olga,
        ),
        "c": make_incident(actor=responder, title="VPN drops", priority="P3", assignee=responder),
        "d": make_incident(actor=responder, title="Printer jam", priority="P4"),
    }


def _numbers(client, query=""):
    response = client.get(f"/api/incidents/{query}")
    assert response.status_code == 200, response.content
    return {row["number"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "abcd"),
        ("?priority=P3", "bc"),
        ("?priority=P1&priority=P4", "ad"),
        ("?service=checkout", "a"),
        ("?team=network", "b"),
        ("?assignee=olga", "b"),
        ("?assignee=me", "c"),
        ("?assignee=none", "ad"),
        ("?q=slow", "b"),
        ("?q=printer", "d"),
    ],
)
def test_list_filters(client, spread, query, expected):
    assert _numbers(client, query) == {spread[key].number for key in expected}


def test_list_filters_by_status(client, spread, responder, drive):
    drive(spread["a"], responder, "acknowledge")

    assert _numbers(client, "?status=acknowledged") == {spread["a"].number}
    assert _numbers(client, "?status=new&status=acknowledged") == {
        incident.number for incident in spread.values()
    }


def test_search_finds_an_incident_by_number(client, spread):
    assert _numbers(client, f"?q={spread['c'].number}") == {spread["c"].number}


def test_list_rejects_an_unknown_status(client, spread):
    response = client.get("/api/incidents/?status=sleeping")

    assert "status" in api_error(response, 400, "invalid")


def test_list_is_newest_first_and_pages(client, spread):
    response = client.get("/api/incidents/?page_size=3").json()

    assert response["count"] == 4
    assert [row["number"] for row in response["results"]] == [spread[key].number for key in "dcb"]
    assert response["next"] is not None


def test_page_size_is_capped_at_200(client, responder):
    for _ in range(201):
        make_incident(actor=responder)

    response = client.get("/api/incidents/?page_size=500").json()

    assert response["count"] == 201
    assert len(response["results"]) == 200


# --- services and teams ----------------------------------------------------------------------


def test_manager_creates_a_service_with_dependencies(api, manager, service, team):
    client = api.as_user(manager)
    response = client.post(
        "/api/services/",
        {
            "slug": "payments-api",
            "name": "Payments API",
            "tier": "tier_1",
            "owner_team": team.slug,
            "user_count": 300,
            "depends_on": [service.slug],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = client.get("/api/services/payments-api/").json()
    assert body["depends_on"] == [service.slug]
    assert body["owner_team"] == team.slug
    assert body["tier"] == "tier_1"
    assert "payments-api" in {row["slug"] for row in client.get("/api/services/").json()["results"]}


def test_service_history_names_who_created_it(api, manager):
    api.as_user(manager).post("/api/services/", {"slug": "vpn", "name": "VPN"}, format="json")

    [row] = Service.objects.get(slug="vpn").history.all()
    assert row.history_user == manager
    assert row.history_change_reason == f"create by {manager.username} (api)"


def test_service_slugs_are_unique(api, manager, service):
    response = api.as_user(manager).post(
        "/api/services/", {"slug": service.slug, "name": "Another"}, format="json"
    )

    assert "slug" in api_error(response, 400, "invalid")
    assert list(Service.objects.values_list("slug", "name")) == [(service.slug, service.name)]


def test_manager_creates_a_team_with_members(api, manager, responder):
    client = api.as_user(manager)
    response = client.post(
        "/api/teams/",
        {"slug": "dba", "name": "Database admins", "members": [responder.username]},
        format="json",
    )

    assert response.status_code == 201, response.content
    [team] = [row for row in client.get("/api/teams/").json()["results"] if row["slug"] == "dba"]
    assert team["members"] == [responder.username]


# --- schema ---------------------------------------------------------------------------------


def test_schema_describes_the_fixed_paths(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    paths = yaml.safe_load(response.content)["paths"]
    for path in [
        "/api/incidents/",
        "/api/incidents/{number}/",
        "/api/incidents/{number}/notes/",
        "/api/incidents/{number}/timeline/",
        "/api/incidents/{number}/history/",
        "/api/services/",
        "/api/services/{slug}/",
        "/api/teams/",
        *[
            f"/api/incidents/{{number}}/{name}/"
            for name in (
                "acknowledge",
                "start",
                "hold",
                "resume",
                "mitigate",
                "resolve",
                "reopen",
                "close",
                "cancel",
            )
        ],
    ]:
        assert path in paths, path


def test_history_names_linked_records_instead_of_ids(api, responder, incident):
    client = api.as_user(responder)
    client.post(f"/api/incidents/{incident.number}/acknowledge/", {}, format="json")

    history = client.get(f"/api/incidents/{incident.number}/history/").json()

    changes = {c["field"]: c for c in history[0]["changes"]}
    assert changes["assignee"]["old"] is None
    assert changes["assignee"]["new"] == responder.username
    assert history[0]["reason"] == f"acknowledge by {responder.username} (api)"


@pytest.mark.parametrize("zone", ["UTC", "Europe/London"])
def test_incident_payloads_match_drf_field_by_field(
    api, responder, manager, incident, team, drive, settings, zone
):
    """The hand-built list and detail representations must stay what DRF's declared fields
    produce, for an incident with a team, people, services, timers and a duplicate."""
    from rest_framework import serializers as drf
    from rest_framework.test import APIRequestFactory

    from incidents import selectors, services
    from incidents.api.serializers import IncidentDetailSerializer, IncidentSerializer
    from incidents.choices import ChangeSource

    settings.TIME_ZONE = zone
    services.incident_update(incident=incident, actor=responder, source=ChangeSource.CLI, team=team)
    duplicate = make_incident(actor=responder)
    services.incident_cancel(
        incident=duplicate,
        actor=responder,
        source=ChangeSource.CLI,
        reason="same outage",
        duplicate_of=incident.number,
    )
    drive(incident, responder, "acknowledge", "start", "hold")
    request = APIRequestFactory().get("/")
    request.user = manager
    with time_machine.travel(timezone.now(), tick=False):
        for number in (incident.number, duplicate.number):
            row = selectors.incident_detail_queryset().get(number=number)
            for serializer_class in (IncidentSerializer, IncidentDetailSerializer):
                serializer = serializer_class(context={"request": request})
                fast = serializer.to_representation(row)
                slow = drf.ModelSerializer.to_representation(serializer, row)
                assert fast == dict(slow), serializer_class.__name__
                assert list(fast) != [] and fast["number"] == number


def test_list_and_detail_answers_match_drf_field_by_field(api, responder, incident, drive):
    """The API's own reads (services and timers as plain rows, a page's at once) give what
    DRF's declared fields give for the prefetched model instances."""
    from rest_framework import serializers as drf
    from rest_framework.test import APIRequestFactory

    from incidents import selectors
    from incidents.api.serializers import IncidentDetailSerializer, IncidentSerializer

    make_incident(actor=responder, services=[ServiceFactory(slug="web").slug])
    drive(incident, responder, "acknowledge", "start", "hold")
    client = api.as_user(responder)
    request = APIRequestFactory().get("/")
    request.user = responder
    with time_machine.travel(timezone.now(), tick=False):
        page = client.get("/api/incidents/").json()["results"]
        detail = client.get(f"/api/incidents/{incident.number}/").json()
        rows = list(selectors.incident_detail_queryset())
        serializer = IncidentSerializer(context={"request": request})
        slow = [dict(drf.ModelSerializer.to_representation(serializer, row)) for row in rows]
        detail_serializer = IncidentDetailSerializer(context={"request": request})
        [row] = [row for row in rows if row.number == incident.number]
        slow_detail = dict(drf.ModelSerializer.to_representation(detail_serializer, row))

    assert page == slow
    assert detail == slow_detail
    assert any(row["sla_timers"] for row in page) and any(row["services"] for row in page)


def _estimating_from(monkeypatch, responder, incidents: int) -> None:
    """`incidents` incidents in PostgreSQL's statistics, and every unfiltered list past the
    exact-count limit."""
    from itsm.api import pagination

    for _ in range(incidents):
        make_incident(actor=responder)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE incidents_incident")
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", incidents - 1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics")
def test_a_big_unfiltered_list_counts_from_the_estimate(api, responder, monkeypatch):
    client = api.as_user(responder)
    exact = client.get("/api/incidents/")  # nothing counted yet: exact
    _estimating_from(monkeypatch, responder, 3)

    estimated = client.get("/api/incidents/")
    filtered = client.get("/api/incidents/?status=new")

    assert (exact.json()["count"], exact.get("X-Count-Estimated")) == (0, None)
    assert (estimated.json()["count"], estimated["X-Count-Estimated"]) == (3, "true")
    assert (filtered.json()["count"], filtered.get("X-Count-Estimated")) == (3, None)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics")
def test_paging_past_an_estimate_reaches_every_row(api, responder, monkeypatch):
    """The estimate (3) is below the real count (4): paging goes on while pages are full."""
    _estimating_from(monkeypatch, responder, 3)
    oldest = Incident.objects.order_by("created_at", "id").first().number
    make_incident(actor=responder)
    client = api.as_user(responder)

    numbers, url = [], "/api/incidents/?page_size=1"
    while url:
        body = client.get(url).json()
        numbers += [row["number"] for row in body["results"]]
        url = body["next"]

    assert len(numbers) == len(set(numbers)) == 4
    assert numbers[-1] == oldest


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics")
def test_a_page_far_past_an_estimate_is_404_not_an_offset_postgresql_refuses(
    api, responder, monkeypatch
):
    _estimating_from(monkeypatch, responder, 3)
    client = api.as_user(responder)

    for page in ("99999999999999999999", "1000"):
        api_error(client.get(f"/api/incidents/?page={page}"), 404, "not_found")
    assert client.get("/api/incidents/?page=2&page_size=2").status_code == 200
