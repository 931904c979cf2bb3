"""Words a responder understands: a refused transition says what is missing, a button whose
guard is unmet is shown disabled with that reason; a GET on a form's POST URL goes to the
form's page; people are named by their full name; the admin's history reads as the portal's."""

import re
from html import unescape

import pytest
from django.urls import reverse

from incidents import services
from incidents.choices import ChangeSource, ChecklistItem
from itsm.roles import Role
from tests.conftest import api_error
from tests.factories import make_incident

LEFT = (
    "Tick the 3 checklist items left: Monitoring confirms stability, "
    "Follow-up actions created, Knowledge base updated."
)


def detail_url(incident):
    return reverse("incidents:detail", args=[incident.number])


def tick(incident, actor, items):
    for item in items:
        services.incident_tick_checklist(
            incident=incident, actor=actor, source=ChangeSource.CLI, item=item
        )


@pytest.fixture
def resolved(responder, incident, drive):
    """A resolved incident with four of its seven checklist items ticked."""
    incident = drive(incident, responder, "acknowledge", "start", "resolve")
    tick(incident, responder, ChecklistItem.values[:4])
    return incident


@pytest.fixture
def ada(make_user):
    return make_user("ada", roles=[Role.RESPONDER], first_name="Ada", last_name="Lovelace")


def action(html: str, name: str) -> str:
    start = html.index(f'class="action action-{name}')
    return html[start : html.index("</div>", start) + 6]


def test_close_is_shown_disabled_with_the_items_left_while_the_checklist_is_open(
    signed_in, responder, resolved
):
    html = signed_in(responder).get(detail_url(resolved)).content.decode()

    close = action(html, "close")
    assert "action-blocked" in close
    assert re.search(r'<button type="button" class="btn" disabled aria-disabled="true"', close)
    assert f'title="{LEFT}"' in close
    assert f'<small class="help" id="blocked-close">{LEFT}</small>' in close
    assert reverse("incidents:transition", args=[resolved.number, "close"]) not in html
    assert "action-blocked" not in action(html, "reopen")  # other buttons stay offered


def test_close_is_offered_once_every_item_is_ticked(signed_in, responder, resolved):
    tick(resolved, responder, ChecklistItem.values[4:])

    html = signed_in(responder).get(detail_url(resolved)).content.decode()

    assert "action-blocked" not in html
    assert reverse("incidents:transition", args=[resolved.number, "close"]) in html


def test_the_last_item_left_is_named_alone(signed_in, responder, resolved):
    tick(resolved, responder, ChecklistItem.values[4:6])

    html = signed_in(responder).get(detail_url(resolved)).content.decode()

    assert "Tick the last checklist item left: Knowledge base updated." in html


def test_a_refused_close_says_what_is_missing_in_the_portal_and_the_api(
    signed_in, api, responder, resolved
):
    url = reverse("incidents:transition", args=[resolved.number, "close"])
    page = signed_in(responder).post(url, {"note": ""})
    answer = api.as_user(responder).post(f"/api/incidents/{resolved.number}/close/", {})

    assert page.status_code == 409
    assert LEFT in page.content.decode()
    api_error(answer, 409, "invalid_transition")
    assert answer.json()["error"]["message"] == LEFT
    resolved.refresh_from_db()
    assert resolved.status == "resolved"


# --- GET on a form's POST URL -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [("transition", ["close"]), ("note", []), ("checklist", []), ("priority", []), ("edit", [])],
)
def test_a_get_on_a_form_url_goes_to_the_incident_page(signed_in, responder, incident, name, args):
    url = reverse(f"incidents:{name}", args=[incident.number, *args])
    client = signed_in(responder)

    got = client.get(url)
    put = client.put(url)

    assert (got.status_code, got["Location"]) == (302, detail_url(incident))
    assert put.status_code == 405
    assert incident.events.count() == 1  # the creation only: nothing was written


def test_a_get_on_a_form_url_sends_a_signed_out_visitor_through_the_login(client, incident):
    response = client.get(reverse("incidents:note", args=[incident.number]), follow=True)

    assert response.redirect_chain[0] == (detail_url(incident), 302)
    assert response.request["PATH_INFO"] == reverse("login")


def test_a_get_on_the_two_factor_off_switch_goes_to_the_two_factor_page(signed_in, responder):
    response = signed_in(responder).get(reverse("two-factor-disable"))

    assert (response.status_code, response["Location"]) == (302, reverse("two-factor"))


def test_a_get_on_sign_out_signs_nobody_out(signed_in, responder):
    client = signed_in(responder)

    response = client.get(reverse("logout"))

    assert (response.status_code, response["Location"]) == (302, reverse("incidents:dashboard"))
    assert client.get(reverse("incidents:dashboard")).status_code == 200


def test_api_routes_still_answer_405_in_json(api, responder, incident):
    response = api.as_user(responder).get(f"/api/incidents/{incident.number}/close/")

    api_error(response, 405, "method_not_allowed")


# --- names ----------------------------------------------------------------------------------------


def test_the_incident_page_names_people_in_full_with_the_username_on_hover(
    signed_in, responder, ada, drive
):
    incident = make_incident(actor=ada, assignee=ada)
    drive(incident, ada, "acknowledge")
    tick(incident, ada, [ChecklistItem.USERS_NOTIFIED])

    html = signed_in(responder).get(detail_url(incident)).content.decode()

    ada_shown = '<span class="person" title="ada">Ada Lovelace</span>'
    assert f"assigned to {ada_shown}" in html
    assert f"<dt>Reporter</dt><dd>{ada_shown}</dd>" in html
    assert f"ticked by {ada_shown}" in html
    assert f'<span class="event-by">{ada_shown} · ' in html  # the timeline
    assert f'<span class="event-by">{ada_shown}</span>' in html  # the history
    assert ">ada<" not in html


def test_the_history_names_a_new_assignee_in_full_in_the_portal_and_by_username_in_the_api(
    signed_in, api, responder, ada, incident
):
    services.incident_update(incident=incident, actor=responder, source="cli", assignee=ada)

    html = signed_in(responder).get(detail_url(incident)).content.decode()
    rows = api.as_user(responder).get(f"/api/incidents/{incident.number}/history/").json()

    assert "<ins>Ada Lovelace</ins>" in html
    assert {"field": "assignee", "old": None, "new": "ada"} in rows[0]["changes"]


# --- the admin's history --------------------------------------------------------------------------


def test_the_admin_history_shows_labels_and_names_as_the_portal_does(client, manager, ada, drive):
    incident = make_incident(actor=manager, impact=1, urgency=1)
    services.incident_update(incident=incident, actor=manager, source="cli", assignee=ada)
    drive(incident, manager, "acknowledge")
    client.force_login(manager)

    page = client.get(reverse("admin:incidents_incident_history", args=[incident.pk]))

    html = page.content.decode()
    changes = " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())
    assert "Status: New → Acknowledged" in changes
    assert "Assignee: — → Ada Lovelace" in changes
    assert '<th scope="col">Status</th>' in html
    assert "<td>Acknowledged</td>" in html and "<td>P1 – critical</td>" in html
    assert "acknowledged →" not in changes
    assert re.search(r"Acknowledged at: — → \d+ \w{3} \d{4} \d\d:\d\d:\d\d ", changes)


def test_the_admin_shows_a_blocked_close_without_a_link_and_with_its_reason(
    client, manager, resolved
):
    client.force_login(manager)

    html = client.get(reverse("admin:incidents_incident_change", args=[resolved.pk])).content
    html = html.decode()

    close_url = reverse("admin:incidents_incident_transition", args=[resolved.pk, "close"])
    assert (
        '<a class="transition-link" data-transition="close" aria-disabled="true" '
        f'title="{LEFT}">Close</a>'
    ) in html
    assert close_url not in html
    assert 'data-transition="reopen">Reopen</a>' in html
