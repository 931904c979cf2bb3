"""The incident lists tell the truth: major incidents are marked, closed and cancelled incidents
are hidden unless asked for, and people are named by their full name."""

import re

import pytest
from django.urls import reverse

from incidents.choices import ChangeSource
from itsm.roles import Role
from tests.factories import make_incident
from warroom import services as warroom_services

MAJOR_MARK = '<span class="tag tag-major"'


def numbers(html: str) -> list[str]:
    return re.findall(r'<span class="num">(INC\d+)</span>', html)


def row_of(html: str, number: str) -> str:
    start = html.index(f'<span class="num">{number}</span>')
    return html[start : html.index("</li>", start)]


@pytest.fixture
def portal(signed_in, responder):
    return signed_in(responder)


@pytest.fixture
def finished(responder, drive):
    """A closed incident and a cancelled one."""
    closed = make_incident(actor=responder, title="Closed one")
    drive(closed, responder, "acknowledge", "start", "resolve")
    drive(closed, responder, "close")
    cancelled = make_incident(actor=responder, title="Cancelled one")
    drive(cancelled, responder, "cancel")
    return closed, cancelled


def declare(incident, manager):
    return warroom_services.major_incident_declare(
        incident=incident,
        actor=manager,
        source=ChangeSource.CLI,
        manager=manager,
        initial_impact_statement="Checkout fails for everyone",
        bridge_link="https://meet.example.com/abc",
    )


def test_major_incidents_are_marked_on_the_list_and_the_dashboard(portal, responder, manager):
    major = make_incident(actor=responder, title="Everything is down", assignee=responder)
    declare(major, manager)
    minor = make_incident(actor=responder, title="One printer", assignee=responder)
    demoted = make_incident(actor=responder, title="Was major", assignee=responder)
    warroom_services.major_incident_demote(
        major=declare(demoted, manager), actor=manager, source=ChangeSource.CLI, reason="small"
    )

    for url in (reverse("incidents:list"), reverse("incidents:dashboard")):
        html = portal.get(url).content.decode()
        assert MAJOR_MARK in row_of(html, major.number)
        assert MAJOR_MARK not in row_of(html, minor.number)
        assert MAJOR_MARK not in row_of(html, demoted.number)


def test_closed_and_cancelled_incidents_are_hidden_until_asked_for(portal, responder, finished):
    closed, cancelled = finished
    open_one = make_incident(actor=responder, title="Still open")
    url = reverse("incidents:list")

    default = portal.get(url).content.decode()
    shown = portal.get(url, {"closed": "true"}).content.decode()
    by_status = portal.get(url, {"status": "closed"}).content.decode()

    assert numbers(default) == [open_one.number]
    assert "1 incident" in default and "closed and cancelled hidden" in default
    assert set(numbers(shown)) == {open_one.number, closed.number, cancelled.number}
    assert numbers(by_status) == [closed.number]
    assert "closed and cancelled hidden" not in by_status


def test_the_dashboards_recent_list_leaves_out_closed_and_cancelled(portal, responder, finished):
    open_one = make_incident(actor=responder, title="Still open")

    html = portal.get(reverse("incidents:dashboard")).content.decode()
    recent = html[html.index('id="recent"') :]

    assert numbers(recent) == [open_one.number]


def test_the_api_still_lists_every_incident(api, responder, finished):
    make_incident(actor=responder, title="Still open")

    response = api.as_user(responder).get("/api/incidents/")

    assert response.json()["count"] == 3


def test_rows_name_the_assignee_in_full_with_the_username_on_hover(portal, make_user, responder):
    ada = make_user("ada", roles=[Role.RESPONDER], first_name="Ada", last_name="Lovelace")
    incident = make_incident(actor=responder, assignee=ada)

    html = portal.get(reverse("incidents:list")).content.decode()

    assert '<span class="person" title="ada">Ada Lovelace</span>' in row_of(html, incident.number)
    assert '<option value="ada">Ada Lovelace</option>' in html


# session, user, permissions (user + group), roles, the bell's unread count, count, page,
# services and SLA timers of the page, and the filter choices (services, teams, assignees): the
# major mark, the SLA filter and the hidden statuses cost no query of their own.
LIST_QUERIES = 13


@pytest.mark.parametrize("query", [{}, {"sla": "breaching"}, {"closed": "true"}])
@pytest.mark.parametrize("count", [3, 30])
def test_the_list_costs_the_same_whatever_the_filter_and_the_rows(
    portal, responder, manager, django_assert_num_queries, query, count
):
    majors = set()
    for n in range(count):
        incident = make_incident(actor=responder, title=f"Down {n}", priority="P1")
        if n % 3 == 0:
            majors.add(declare(incident, manager).number)

    with django_assert_num_queries(LIST_QUERIES):
        html = portal.get(reverse("incidents:list"), query).content.decode()

    shown = numbers(html)
    assert len(shown) == min(count, 25)  # a page
    assert html.count(MAJOR_MARK) == len(majors & set(shown)) > 0


def test_an_unknown_sla_window_is_a_400_naming_it(portal, responder):
    make_incident(actor=responder)

    response = portal.get(reverse("incidents:list"), {"sla": "someday"})

    assert response.status_code == 400
    assert "sla: Select a valid choice. someday is not one of the available choices." in (
        response.content.decode()
    )
