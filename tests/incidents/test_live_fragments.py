"""The fragments the live pages fetch when their socket tells of a change (incidents/views_live.py
and the notifications list): rendered by the same templates as the pages, checked like them,
and at a fixed number of queries however many rows they show."""

import pytest
from django.urls import reverse

from incidents import services
from incidents.choices import ChangeSource
from itsm.notifications import notify
from tests.factories import make_incident

pytestmark = pytest.mark.django_db

# session, user, permissions (user + group), roles: every signed-in page's, as for the pages (no
# bell: a fragment has no top bar).
AUTH = 5
# The three lists with their services and SLA timers; breaching soon: one query for both
# counts, then the due-soon and overdue timers with their incidents' SLA timers.
DASHBOARD = AUTH + 12
# Count, page, the page's services and SLA timers.
LIST = AUTH + 4
# The incident with its team and people, its services and SLA timers; the events with their
# actors.
INCIDENT = AUTH + 3 + 1
NOTIFICATIONS = AUTH + 2  # count, page


def fragment(name: str, *args) -> str:
    return reverse(f"incidents:live_{name}", args=args)


def note(incident, actor, text: str, *, public: bool = False):
    return services.incident_add_note(
        incident=incident, actor=actor, source=ChangeSource.CLI, text=text, public=public
    )


@pytest.fixture
def incidents(responder, service, team):
    return [
        make_incident(
            actor=responder,
            title=f"Incident {n}",
            services=[service.slug],
            team=team,
            assignee=responder,
        )
        for n in range(12)
    ]


# --- who may fetch them --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dashboard", "list", "incident"])
def test_the_fragments_need_a_login_and_a_role(client, nobody, incident, name):
    url = fragment(name, incident.number) if name == "incident" else fragment(name)

    assert client.get(url).url.startswith(reverse("login"))
    client.force_login(nobody)
    assert client.get(url).status_code == 403
    assert client.post(url).status_code in (403, 405)


def test_an_unknown_incident_is_404_and_a_bad_since_400(signed_in, responder, incident):
    client = signed_in(responder)

    assert client.get(fragment("incident", "INC9999999")).status_code == 404
    for since in ("abc", "-1", "99999999999999999999"):
        response = client.get(fragment("incident", incident.number), {"since": since})
        assert response.status_code == 400, since


# --- what they show, at what cost ----------------------------------------------------------------


def test_the_dashboard_cards_cost_a_fixed_number_of_queries(
    signed_in, responder, incidents, django_assert_num_queries
):
    client = signed_in(responder)
    client.get(fragment("dashboard"))

    with django_assert_num_queries(DASHBOARD):
        html = client.get(fragment("dashboard")).content.decode()

    assert html.startswith('<div data-live-part="dashboard">')
    assert html.count('class="row"') == 30
    assert "<html" not in html  # a fragment, not a page


def test_the_list_rows_follow_the_pages_query_string(
    signed_in, responder, incidents, django_assert_num_queries
):
    client = signed_in(responder)
    client.get(fragment("list"))

    with django_assert_num_queries(LIST):
        html = client.get(fragment("list"), {"q": "Incident 1"}).content.decode()

    assert "3 incidents" in html  # Incident 1, 10 and 11
    assert html.count('class="row"') == 3
    assert client.get(fragment("list"), {"priority": "P9"}).status_code == 400


def test_the_incident_parts_hold_the_header_sla_and_the_events_after_since(
    signed_in, responder, incident, django_assert_num_queries
):
    seen = note(incident, responder, "Seen already")
    for n in range(20):
        note(incident, responder, f"New {n}")
    client = signed_in(responder)
    client.get(fragment("incident", incident.number))

    with django_assert_num_queries(INCIDENT):
        response = client.get(fragment("incident", incident.number), {"since": seen.pk})

    html = response.content.decode()
    assert 'data-live-part="head"' in html and 'data-live-part="sla"' in html
    assert 'class="chip status-new"' in html
    assert 'data-complete="true"' in html
    assert html.count('class="event event-note"') == 20
    assert "Seen already" not in html
    assert html.index("New 19") < html.index("New 0")  # newest first, as the page shows them


def test_a_stakeholder_gets_no_internal_note_in_the_parts_the_page_nor_the_api(
    signed_in, api, responder, stakeholder, incident
):
    note(incident, responder, "Internal: the DB password rotation broke it")
    note(incident, responder, "We are restoring checkout", public=True)
    client = signed_in(stakeholder)

    for url in (fragment("incident", incident.number), incident.get_absolute_url()):
        html = client.get(url).content.decode()
        assert "We are restoring checkout" in html
        assert "DB password rotation" not in html, url
    timeline = api.as_user(stakeholder).get(f"/api/incidents/{incident.number}/timeline/")
    assert [event["summary"] for event in timeline.json()["results"]] == [
        "We are restoring checkout"
    ]
    everything = api.as_user(responder).get(f"/api/incidents/{incident.number}/timeline/")
    assert len(everything.json()["results"]) == 3  # created, and both notes


def test_too_many_new_events_make_the_parts_incomplete(signed_in, responder, incident, monkeypatch):
    monkeypatch.setattr("incidents.views_live.CATCH_UP_LIMIT", 3)
    for n in range(4):
        note(incident, responder, f"New {n}")

    html = signed_in(responder).get(fragment("incident", incident.number)).content.decode()

    assert 'data-complete="false"' in html
    assert html.count('class="event event-note"') == 3


def test_the_notifications_list_costs_a_fixed_number_of_queries(
    signed_in, responder, nobody, django_assert_num_queries
):
    for n in range(30):
        notify(recipients=[responder], subject=f"Page {n}", body="", dedupe_key=f"t{n}")
    client = signed_in(responder)
    url = reverse("notifications-live")
    client.get(url)

    with django_assert_num_queries(NOTIFICATIONS):
        html = client.get(url).content.decode()

    assert html.startswith('<div data-live-part="notifications">')
    assert html.count('class="row notification notification-unread"') == 25
    assert signed_in(nobody).get(url).status_code == 403


def test_a_refreshed_rows_one_tap_action_comes_back_to_the_page_not_the_fragment(
    signed_in, responder, manager, service
):
    """The rows a live page swaps in carry the page's address in their forms' `next`."""
    make_incident(actor=manager, services=[service.slug], title="Fresh")
    client = signed_in(responder)

    dashboard = client.get(fragment("dashboard")).content.decode()
    rows = client.get(fragment("list"), {"q": "Fresh"}).content.decode()

    assert 'name="next" value="/"' in dashboard
    assert 'name="next" value="/incidents/?q=Fresh"' in rows
    assert "closed and cancelled hidden" in rows
    assert "/live/" not in dashboard + rows


def test_the_incident_parts_offer_the_actions_allowed_now(
    signed_in, responder, stakeholder, incident
):
    client = signed_in(responder)
    before = client.get(fragment("incident", incident.number)).content.decode()
    services.incident_acknowledge(incident=incident, actor=responder, source=ChangeSource.CLI)
    after = client.get(fragment("incident", incident.number)).content.decode()
    watching = signed_in(stakeholder).get(fragment("incident", incident.number)).content.decode()

    assert "action-acknowledge" in before and "action-start" not in before
    assert "action-acknowledge" not in after and "action-start" in after
    assert 'data-live-part="actions"' in watching and "action-form" not in watching
