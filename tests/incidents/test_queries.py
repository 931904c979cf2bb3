"""Query counts, asserted exactly: what a request costs must not grow with the rows it shows.

Every authenticated request costs 1 query before the view runs: the token with its user. The
user's permissions come from the cache (itsm/permission_cache.py), filled by the client
fixture's first request.
"""

import pytest
from django.db import connection

from incidents import services
from incidents.choices import ChangeSource
from itsm.roles import Role
from tests.conftest import tick_all
from tests.factories import ServiceFactory, TeamFactory, make_incident

AUTH = 1
# The list: count, page, and the page's services and SLA timers.
LIST = AUTH + 4
# The detail: the incident with its team and people, its services, SLA timers, checklist.
DETAIL = AUTH + 4
# Starting the SLA timers: the policy, its targets for the priority, one insert of the timers.
ESCALATION_START = 3  # the policy, its levels, the steps' insert
SLA_START = 3
# The metrics rollup refreshed with the created event (postmortems): one upsert of its
# measures, in a savepoint and its release (a failing refresh never undoes the create).
ROLLUP = 3
# What the war room does inside the create's transaction (warroom/receivers.py): the
# declaration watch's insert (the relay knows a new incident has no war room, the watch that
# there is none yet), and whether the affected-users rule covers the incident's priority (it
# does not here: no check is recorded in the outbox for the worker).
WARROOM_ON_CREATE = 2
TIMELINE = AUTH + 1 + 2  # the incident; count and page of events with their actors
HISTORY = AUTH + 1 + 1  # the incident; its history rows with their users


def _create_queries():
    """Savepoint, services, matrix cell, number, incident, history, service links, event,
    the metrics rollup, the SLA timers, the escalation steps, the webhook subscriptions (none
    here, so no delivery rows), the war room's receivers, release; then the detail read, in
    the view's own transaction (a savepoint and its release more: the answer is read before
    the write commits). SQLite
    numbers from a counter row (3 queries), PostgreSQL from a sequence (1)."""
    number = 1 if connection.vendor == "postgresql" else 3
    return (
        AUTH
        + 9
        + number
        + ROLLUP
        + SLA_START
        + ESCALATION_START
        + WARROOM_ON_CREATE
        + DETAIL
        - AUTH
        + 2
    )


@pytest.fixture
def client(api, responder):
    client = api.as_user(responder)
    client.get("/api/incidents/")  # the token's first use is recorded once; later uses are free
    return client


@pytest.fixture
def populate(make_user, responder):
    """`populate(n)`: n incidents, each with services, a team, an assignee and a reporter that
    vary, so a lazy join on any of them would show as extra queries."""
    people = [make_user(f"person{i}", roles=[Role.RESPONDER]) for i in range(4)]
    slugs = [ServiceFactory(slug=f"svc-{i}").slug for i in range(4)]
    teams = [TeamFactory(slug=f"team-{i}") for i in range(3)]

    def run(n):
        return [
            make_incident(
                actor=people[i % 4],
                assignee=people[(i + 1) % 4],
                team=teams[i % 3],
                services=slugs[: i % 4 + 1],
                title=f"Incident {i}",
            )
            for i in range(n)
        ]

    return run


@pytest.mark.parametrize("n", [5, 200])
def test_list_costs_the_same_for_5_and_200_incidents(
    client, populate, django_assert_num_queries, n
):
    populate(n)

    with django_assert_num_queries(LIST):
        response = client.get("/api/incidents/?page_size=200")

    assert len(response.json()["results"]) == n
    assert all(row["assignee"] and row["services"] for row in response.json()["results"])


@pytest.mark.parametrize("query", ["?status=new", "?service=svc-1", "?team=team-1", "?q=Incident"])
def test_filtered_list_costs_the_same(client, populate, django_assert_num_queries, query):
    populate(20)

    with django_assert_num_queries(LIST):
        response = client.get(f"/api/incidents/{query}&page_size=200")

    assert response.json()["results"]


@pytest.mark.parametrize("ticked", [False, True])
def test_detail_has_a_fixed_count(client, populate, responder, django_assert_num_queries, ticked):
    [incident] = populate(1)
    if ticked:
        tick_all(incident, responder)

    with django_assert_num_queries(DETAIL):
        response = client.get(f"/api/incidents/{incident.number}/")

    assert response.status_code == 200
    assert [row["done"] for row in response.json()["checklist"]] == [ticked] * 7


@pytest.mark.parametrize("linked", [1, 4])
def test_create_has_a_fixed_count(client, populate, django_assert_num_queries, linked):
    populate(1)
    slugs = [f"svc-{i}" for i in range(linked)]

    with django_assert_num_queries(_create_queries()):
        response = client.post(
            "/api/incidents/",
            {"title": "Checkout 500s", "impact": 1, "urgency": 2, "services": slugs},
            format="json",
        )

    assert response.status_code == 201
    assert response.json()["services"] == slugs


@pytest.mark.parametrize("notes", [1, 40])
def test_timeline_has_a_fixed_count(client, incident, make_user, django_assert_num_queries, notes):
    authors = [make_user(f"author{i}", roles=[Role.RESPONDER]) for i in range(3)]
    for i in range(notes):
        services.incident_add_note(
            incident=incident, actor=authors[i % 3], source=ChangeSource.CLI, text=f"n{i}"
        )

    with django_assert_num_queries(TIMELINE):
        response = client.get(f"/api/incidents/{incident.number}/timeline/")

    assert len(response.json()["results"]) == notes + 1
    assert {row["actor"] for row in response.json()["results"][1:]} <= {a.username for a in authors}


@pytest.mark.parametrize("edits", [1, 20])
def test_history_has_a_fixed_count(client, incident, django_assert_num_queries, edits):
    for i in range(edits):
        client.patch(f"/api/incidents/{incident.number}/", {"title": f"t{i}"}, format="json")

    with django_assert_num_queries(HISTORY):
        response = client.get(f"/api/incidents/{incident.number}/history/")

    assert len(response.json()) == edits + 1


@pytest.mark.parametrize("n", [2, 30])
def test_services_list_costs_the_same(client, team, django_assert_num_queries, n):
    base = ServiceFactory(slug="base")
    for i in range(n):
        ServiceFactory(slug=f"svc-{i}", owner_team=team).depends_on.add(base)

    with django_assert_num_queries(AUTH + 3):  # count, page with owner teams, dependencies
        response = client.get("/api/services/?page_size=200")

    assert len(response.json()["results"]) == n + 1


@pytest.mark.parametrize("n", [2, 30])
def test_teams_list_costs_the_same(client, make_user, django_assert_num_queries, n):
    member = make_user("member")
    for i in range(n):
        TeamFactory(slug=f"team-{i}").members.add(member)

    with django_assert_num_queries(AUTH + 3):  # count, page, members
        response = client.get("/api/teams/?page_size=200")

    assert len(response.json()["results"]) == n
