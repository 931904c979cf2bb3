"""The public status page at /status/: what anyone sees without signing in (the indicator,
components with their state and 90 days of uptime, open incidents with their updates newest
first, maintenances, 14 days of history), that it shows nothing internal, and that it answers
in the same number of queries however many incidents there are."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services as incident_services
from itsm.roles import Role
from tests.factories import ServiceFactory, make_incident
from tests.warroom.status_fixtures import CLI, make_component, post
from warroom import services as warroom
from warroom.status import services
from warroom.status.selectors import HISTORY_PER_DAY

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PAGE = "/status/"
# Statuspage's JSON and the feeds: each must be as clean as the page.
MACHINE_READABLE = [
    "/status/api/v2/summary.json",
    "/status/api/v2/status.json",
    "/status/api/v2/components.json",
    "/status/api/v2/incidents.json",
    "/status/api/v2/incidents/unresolved.json",
    "/status/api/v2/scheduled-maintenances.json",
    "/status/api/v2/scheduled-maintenances/upcoming.json",
    "/status/api/v2/scheduled-maintenances/active.json",
    "/status/history.rss",
    "/status/history.atom",
]


def text_of(response) -> str:
    return response.content.decode()


@pytest.fixture
def platform(manager):
    """Two public components in a group, and one with no group."""
    return {
        "api": make_component(manager, "API", group="Platform"),
        "web": make_component(manager, "Website", group="Platform", position=1),
        "mail": make_component(manager, "Email"),
    }


@time_machine.travel(T0, tick=False)
def test_anyone_sees_the_components_and_an_open_incident_newest_update_first(
    client, incident, manager, platform
):
    post(
        incident,
        manager,
        "investigating",
        "We are looking into **errors**.",
        [(platform["api"], "major_outage")],
        name="API errors",
    )
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        post(incident, manager, "identified", "A bad deploy; rolling back.")
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        page = client.get(PAGE)
    assert page.status_code == 200
    html = text_of(page)
    assert 'class="indicator indicator-critical"' in html
    assert "Major System Outage" in html
    assert re.search(r'id="component-api">.*?state-major_outage">Major outage', html, re.S)
    assert re.search(r'id="component-website">.*?state-operational">Operational', html, re.S)
    assert html.index("A bad deploy") < html.index("We are looking into")  # newest first
    assert "<strong>errors</strong>" in html  # Markdown, rendered
    assert html.count('class="day state-') == 3 * 90
    for feed in ("history.rss", "history.atom", "api/v2/summary.json"):
        assert re.search(
            rf'<link rel="alternate" type="[^"]+" title="[^"]+" href="/status/{feed}">', html
        )
    assert "<script" not in html  # works without JavaScript


def test_everything_operational_says_so(client, platform):
    html = text_of(client.get(PAGE))
    assert 'class="indicator indicator-none">All Systems Operational' in html
    assert html.count("<span>100.0% uptime</span>") == 3


@time_machine.travel(T0, tick=False)
def test_uptime_bars_show_each_days_worst_state_from_incident_windows(
    client, manager, responder, platform
):
    incident = make_incident(actor=responder, started_at=T0 - timedelta(days=3, hours=2))
    post(incident, manager, "investigating", "Slow.", [(platform["api"], "degraded_performance")])
    post(incident, manager, "identified", "Down.", [(platform["api"], "partial_outage")])
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        post(incident, manager, "resolved", "Fixed.")
        html = text_of(client.get(PAGE))
    api = html[html.index('id="component-api"') : html.index('id="component-website"')]
    days = re.findall(r'title="(\d+ \w+ \d+): ([\w ]+)"', api)
    assert len(days) == 90
    outage = [day for day, state in days if state != "Operational"]
    # 27 Feb 07:00 to 2 Mar 10:00: four days at the worst the incident reached.
    assert outage == ["27 Feb 2026", "28 Feb 2026", "1 Mar 2026", "2 Mar 2026"]
    assert {state for day, state in days if day in outage} == {"Partial outage"}
    down_hours = 3 * 24 + 3
    assert f"{round(100 * (1 - down_hours / (90 * 24)), 2)}% uptime" in api


@time_machine.travel(T0, tick=False)
def test_maintenances_and_fourteen_days_of_history(client, manager, responder, platform):
    services.maintenance_create(
        actor=manager,
        source=CLI,
        name="Database upgrade",
        body="Expect short pauses.",
        scheduled_for=T0 + timedelta(days=1),
        scheduled_until=T0 + timedelta(days=1, hours=2),
        components=[platform["mail"]],
    )
    old = make_incident(actor=responder, title="Old")
    with time_machine.travel(T0 - timedelta(days=20), tick=False):
        post(old, manager, "resolved", "An old story.", name="Long ago")
    recent = make_incident(actor=responder)
    with time_machine.travel(T0 - timedelta(days=2), tick=False):
        post(recent, manager, "investigating", "Mail is slow.", name="Slow email")
        post(recent, manager, "resolved", "Mail is fast again.")
    html = text_of(client.get(PAGE))
    assert "Database upgrade" in html and "Expect short pauses." in html
    assert "Slow email" in html and "Mail is fast again." in html
    assert "Long ago" not in html
    assert html.count('class="day-history"') == 14
    assert html.count("No incidents reported.") == 13


@pytest.fixture
def secretive_incident(manager, responder, make_user, platform):
    """An incident full of internal data, with one public update: none of the data may leak."""
    person = make_user(
        "quentin",
        roles=[Role.RESPONDER],
        first_name="Quentin",
        last_name="Internalname",
        email="quentin@corp.example",
    )
    hidden = ServiceFactory(slug="secret-ledger", name="SecretLedgerService")
    make_component(manager, "HiddenComponentName", service=hidden, public=False)
    incident = make_incident(
        actor=responder,
        title="INTERNAL-TITLE db-07 by Quentin",
        description="INTERNAL-DESCRIPTION root password rotated",
        services=[hidden.slug],
        impact=1,
        urgency=1,
    )
    incident_services.incident_acknowledge(
        incident=incident, actor=person, source=CLI, note="INTERNAL-ACK-NOTE"
    )
    incident_services.incident_add_note(
        incident=incident, actor=person, source=CLI, text="INTERNAL-NOTE blame Quentin"
    )
    major = warroom.major_incident_declare(
        incident=incident,
        actor=manager,
        source=CLI,
        manager=person,
        initial_impact_statement="INTERNAL-IMPACT-STATEMENT",
    )
    warroom.scratchpad_update(major=major, actor=person, base_version=0, text="INTERNAL-SCRATCHPAD")
    post(
        incident,
        manager,
        "identified",
        "Some customers see errors.",
        [(platform["api"], "partial_outage")],
        name="Errors for some customers",
    )
    return incident


INTERNAL = [
    "INTERNAL-",
    "Quentin",
    "Internalname",
    "quentin@corp.example",
    "SecretLedgerService",
    "secret-ledger",
    "HiddenComponentName",
    "mona",  # the manager who posted
    "rita",  # the reporter
]


@pytest.mark.parametrize("path", [PAGE, *MACHINE_READABLE])
def test_nothing_internal_appears_on_the_page_in_the_json_or_in_the_feeds(
    client, secretive_incident, path
):
    response = client.get(path)
    assert response.status_code == 200
    body = text_of(response)
    if (
        path not in ("/status/api/v2/status.json", "/status/api/v2/components.json")
        and "maintenances" not in path
    ):
        assert "Errors for some customers" in body or "Some customers see errors." in body
    leaked = [marker for marker in INTERNAL if marker.lower() in body.lower()]
    assert leaked == []


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(PAGE).status_code == 200
    return len(queries)


def _publish(count, *, manager, responder, platform):
    for n in range(count):
        incident = make_incident(actor=responder)
        post(
            incident,
            manager,
            "investigating",
            f"Problem {n}.",
            [(platform["api"], "degraded_performance")],
            name=f"Problem {n}",
        )
        post(incident, manager, "identified", f"Cause {n}.", [(platform["web"], "partial_outage")])
        if n % 2:
            post(incident, manager, "resolved", f"Fixed {n}.")


# Components, their states (2), open incidents, the history, maintenances (3), uptime (2);
# the uptime of resolved incidents when one changed; the HTML of incidents not yet cached (4).
PAGE_QUERIES = 10
RESOLVED_UPTIME_QUERIES = 1
INCIDENT_HTML_QUERIES = 4
COLD = PAGE_QUERIES + RESOLVED_UPTIME_QUERIES + INCIDENT_HTML_QUERIES


@time_machine.travel(T0, tick=False)
def test_the_page_answers_in_a_fixed_number_of_queries(
    client, committing, manager, responder, platform
):
    committing(
        services.maintenance_create,
        actor=manager,
        source=CLI,
        name="Upgrade",
        body="Soon.",
        scheduled_for=T0 + timedelta(days=400),
        scheduled_until=T0 + timedelta(days=401),
        components=[platform["mail"]],
    )
    committing(_publish, 3, manager=manager, responder=responder, platform=platform)
    assert _queries(client) == COLD
    assert _queries(client) == 0  # cached
    committing(_publish, 27, manager=manager, responder=responder, platform=platform)
    assert _queries(client) == COLD
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        assert _queries(client) == PAGE_QUERIES  # a new minute; each incident's HTML cached
        html = text_of(client.get(PAGE))
    # The 16 open incidents, and the day's latest 10 in the history with a word on the others.
    assert html.count('class="incident ') == 16 + HISTORY_PER_DAY
    assert "And 20 earlier incidents that day." in html


# --- the war room's form ------------------------------------------------------------------------


def test_a_manager_posts_an_update_from_the_war_room_and_the_page_shows_it(
    signed_in, client, manager, responder, platform
):
    incident = make_incident(actor=responder, impact=1, urgency=1)
    major = warroom.major_incident_declare(
        incident=incident,
        actor=manager,
        source=CLI,
        manager=manager,
        initial_impact_statement="Down",
    )
    room = signed_in(manager).get(major.get_absolute_url()).content.decode()
    assert 'id="status-update-form"' in room
    response = client.post(
        f"/warroom/{incident.number}/status-update/",
        {
            "status": "investigating",
            "body": "Logins fail for some users.",
            "name": "Login problems",
            "component_api": "partial_outage",
            "component_website": "",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == major.get_absolute_url()
    client.logout()
    html = text_of(client.get(PAGE))
    assert "Login problems" in html and "Logins fail for some users." in html
    assert re.search(r'id="component-api">.*?Partial outage', html, re.S)
    assert re.search(r'id="component-website">.*?Operational', html, re.S)


def test_responders_see_no_form_and_their_post_is_refused(signed_in, manager, responder, platform):
    incident = make_incident(actor=responder, impact=1, urgency=1)
    major = warroom.major_incident_declare(
        incident=incident,
        actor=manager,
        source=CLI,
        manager=manager,
        initial_impact_statement="Down",
    )
    client = signed_in(responder)
    assert 'id="status-update-form"' not in client.get(major.get_absolute_url()).content.decode()
    assert "Post status page update" not in client.get(incident.get_absolute_url()).content.decode()
    path = f"/warroom/{incident.number}/status-update/"
    assert client.get(path).status_code == 403
    assert client.post(path, {"status": "investigating", "body": "x"}).status_code == 403
    assert not incident.events.filter(public=True).exists()


def test_a_manager_posts_from_the_incident_page_and_bad_input_keeps_the_text(
    signed_in, manager, incident, platform
):
    client = signed_in(manager)
    detail = client.get(incident.get_absolute_url()).content.decode()
    path = f"/warroom/{incident.number}/status-update/"
    assert f'href="{path}">Post status page update</a>' in detail
    refused = client.post(
        path,
        {"status": "exploded", "body": "Half written words", "component_api": "partial_outage"},
    )
    assert refused.status_code == 400
    assert "Half written words" in refused.content.decode()
    posted = client.post(
        path,
        {
            "status": "investigating",
            "body": "Search is slow.",
            "component_api": "degraded_performance",
        },
    )
    assert posted.status_code == 302
    assert posted["Location"] == incident.get_absolute_url()
    html = text_of(client.get(PAGE))
    assert "Search is slow." in html
    assert re.search(r'id="component-api">.*?Degraded performance', html, re.S)
