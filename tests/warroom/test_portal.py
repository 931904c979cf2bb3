"""The war-room pages: who may see and do what, declaring and demoting from the portal, the
incident page's way in, escaping, and query counts."""

import json
import re

import pytest
from django.urls import reverse

from incidents.choices import ChangeSource, EventType
from tests.factories import make_incident
from warroom import services
from warroom.choices import MajorIncidentState, WarRoomRole
from warroom.models import MajorIncident

XSS = "<script>alert(1)</script>"
LOGOUT_FORM = 1  # every signed-in page has the log-out form
DRAFT_FORM = 1  # the Communications card's draft buttons, for those who draft
ABILITIES = ("ws_path", "username", "can_write")  # what static/js/warroom.js reads


def room_url(incident):
    return reverse("warroom:room", args=[incident.number])


def declare_url(incident):
    return reverse("warroom:declare", args=[incident.number])


def demote_url(incident):
    return reverse("warroom:demote", args=[incident.number])


def declare_input(**overrides):
    return {
        "major_incident_manager": "mona",
        "bridge_link": "https://meet.example.com/abc-defg-hij",
        "initial_impact_statement": "No customer can pay",
        **overrides,
    }


def page_config(response) -> dict:
    """The data the room's script starts from (its json_script)."""
    found = re.search(
        r'<script id="warroom-config" type="application/json">(.*?)</script>',
        response.content.decode(),
    )
    return json.loads(found.group(1))


def forms_on(response) -> int:
    return response.content.decode().count("<form")


def what_changed(incident) -> tuple:
    """What a user could see change: major incidents, their states, the timeline."""
    return (
        list(MajorIncident.objects.values_list("incident__number", "state")),
        incident.events.count(),
    )


@pytest.fixture
def pages(major):
    return {
        "list": reverse("warroom:list"),
        "room": room_url(major.incident),
        "declare": declare_url(major.incident),
    }


@pytest.fixture
def posts(major, p1):
    other = make_incident(actor=None, title="Search is slow")
    return {
        "declare": (declare_url(other), declare_input()),
        "demote": (demote_url(p1), {"reason": "Only one region"}),
    }


# --- who may see and do what ---------------------------------------------------------------------


@pytest.mark.parametrize("page", ["list", "room", "declare"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, pages, page):
    response = client.get(pages[page])

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("action", ["declare", "demote"])
def test_anonymous_posts_are_sent_to_the_login_page_and_change_nothing(client, p1, posts, action):
    before = what_changed(p1)
    url, data = posts[action]

    response = client.post(url, data)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert what_changed(p1) == before


@pytest.mark.parametrize("page", ["list", "room", "declare"])
def test_a_user_without_a_role_gets_the_403_page(signed_in, nobody, pages, page):
    response = signed_in(nobody).get(pages[page])

    assert response.status_code == 403
    assert "You do not have access to this" in response.content.decode()


@pytest.mark.parametrize("role", ["nobody", "stakeholder", "responder"])
@pytest.mark.parametrize("action", ["declare", "demote"])
def test_only_managers_may_declare_or_demote(signed_in, request, p1, posts, role, action):
    before = what_changed(p1)
    url, data = posts[action]

    response = signed_in(request.getfixturevalue(role)).post(url, data)

    assert response.status_code == 403
    assert what_changed(p1) == before


@pytest.mark.parametrize("role", ["stakeholder", "responder"])
def test_the_declare_form_is_403_below_manager(signed_in, request, pages, role):
    assert signed_in(request.getfixturevalue(role)).get(pages["declare"]).status_code == 403


@pytest.mark.parametrize("role", ["stakeholder", "responder", "manager", "super_admin"])
def test_staff_and_stakeholders_see_the_list_and_the_room(signed_in, request, pages, role):
    client = signed_in(request.getfixturevalue(role))

    for page in ("list", "room"):
        response = client.get(pages[page])
        assert response.status_code == 200, page
        assert "Checkout returns 500" in response.content.decode(), page


def test_stakeholders_get_a_read_only_room(signed_in, stakeholder, major):
    response = signed_in(stakeholder).get(room_url(major.incident))

    content = response.content.decode()
    assert forms_on(response) == LOGOUT_FORM
    assert re.search(r'<textarea id="wr-scratchpad"[^>]* readonly', content)
    assert "Add note" not in content and "I joined the bridge" not in content
    config = page_config(response)
    assert {name: config[name] for name in ABILITIES} == {
        "ws_path": f"/ws/warroom/{major.number}/",
        "username": "stella",
        "can_write": False,
    }
    assert config["states"] == dict(MajorIncidentState.choices)
    assert config["event_types"]["note"] == "Note"


def test_responders_get_the_writing_forms_but_cannot_demote(signed_in, responder, major):
    response = signed_in(responder).get(room_url(major.incident))

    content = response.content.decode()
    config = page_config(response)
    assert config["can_write"] is True
    assert 'id="wr-note-form"' in content and 'id="wr-task-form"' in content
    assert content.count('class="wr-role-form wr-write"') == len(WarRoomRole)
    assert 'value="rita"' in content and 'value="mona"' in content  # the staff picker
    assert 'value="stella"' not in content  # stakeholders are not staff
    assert demote_url(major.incident) not in content
    assert forms_on(response) == LOGOUT_FORM + 2 + len(WarRoomRole) + DRAFT_FORM


def test_managers_get_the_demote_form_while_the_room_is_active(
    signed_in, manager, major, responder, drive, django_capture_on_commit_callbacks
):
    client = signed_in(manager)

    active = client.get(room_url(major.incident))
    with django_capture_on_commit_callbacks(execute=True):  # the room follows its incident
        drive(major.incident, responder, "acknowledge", "start", "resolve")
    resolved = client.get(room_url(major.incident))

    assert demote_url(major.incident) in active.content.decode()
    assert demote_url(major.incident) not in resolved.content.decode()
    assert 'data-field="state">Resolved<' in resolved.content.decode()


def test_an_incident_that_is_not_major_has_no_room(signed_in, responder, incident):
    client = signed_in(responder)

    assert client.get(room_url(incident)).status_code == 404
    assert client.get("/warroom/INC9999999/").status_code == 404


def test_the_room_shows_what_the_server_knows_before_the_socket_opens(signed_in, responder, major):
    content = signed_in(responder).get(room_url(major.incident)).content.decode()

    assert 'data-field="state">Active<' in content
    mona = '<span class="person" title="mona">mona</span>'
    assert f'data-field="manager">{mona}<' in content
    assert "Checkout fails for every customer" in content
    assert f"by {mona}" in content
    assert 'href="https://meet.example.com/abc-defg-hij"' in content
    assert 'data-status="connecting"' in content
    assert "js/warroom.js" in content


# --- the list ------------------------------------------------------------------------------------


def test_the_list_puts_live_rooms_first(signed_in, responder, declare, drive, major):
    older = make_incident(actor=responder, title="Old outage")
    declare(older)
    older = MajorIncident.objects.get(incident=older)
    services.major_incident_demote(
        major=older, actor=older.manager, source=ChangeSource.CLI, reason="Only one user"
    )
    newest = make_incident(actor=responder, title="Newest outage")
    declare(newest)

    content = signed_in(responder).get(reverse("warroom:list")).content.decode()

    positions = [content.index(t) for t in ("Newest outage", "Checkout returns 500", "Old outage")]
    assert positions == sorted(positions)
    assert 'class="chip state-demoted">Demoted<' in content


def test_the_list_counts_the_people_in_each_room(signed_in, responder, stakeholder, major):
    for n, user in enumerate([responder, responder, stakeholder]):
        services.presence_enter(major=major, user=user, channel_name=f"channel-{n}")

    content = signed_in(responder).get(reverse("warroom:list")).content.decode()

    assert "2 in the room" in content


@pytest.mark.parametrize(
    ("role", "shown"), [("responder", True), ("stakeholder", True), ("nobody", False)]
)
def test_the_nav_links_to_the_war_rooms_for_those_who_may_see_them(
    db, signed_in, request, role, shown
):
    page = signed_in(request.getfixturevalue(role)).get(reverse("incidents:dashboard"))

    assert (f'href="{reverse("warroom:list")}"' in page.content.decode()) is shown


# --- declaring -----------------------------------------------------------------------------------


def test_the_declare_form_names_the_manager_by_default(signed_in, manager, p1):
    response = signed_in(manager).get(declare_url(p1))

    assert response.status_code == 200
    assert response.context["form"]["major_incident_manager"].value() == "mona"
    assert re.search(r'<option value="mona" selected>', response.content.decode())


@pytest.mark.parametrize("role", ["manager", "super_admin"])
def test_declaring_from_the_portal_opens_the_war_room(signed_in, request, p1, responder, role):
    client = signed_in(request.getfixturevalue(role))

    response = client.post(declare_url(p1), declare_input(major_incident_manager="rita"))

    major = MajorIncident.objects.get(incident=p1)
    assert response.status_code == 302
    assert response["Location"] == room_url(p1)
    assert (major.state, major.manager, major.declared_by) == (
        MajorIncidentState.ACTIVE,
        responder,
        request.getfixturevalue(role),
    )
    assert major.bridge_link == "https://meet.example.com/abc-defg-hij"
    assert major.initial_impact_statement == "No customer can pay"
    event = p1.events.get(type=EventType.WARROOM)
    assert (event.source, event.data["action"]) == (ChangeSource.PORTAL, "declared")
    room = client.get(response["Location"]).content.decode()
    assert f"{p1.number} is a major incident; its war room is open." in room


def test_declaring_an_incident_that_is_already_major_answers_409_and_changes_nothing(
    signed_in, manager, major
):
    incident = major.incident
    before = what_changed(incident)

    response = signed_in(manager).post(declare_url(incident), declare_input())

    assert response.status_code == 409
    assert f"{incident.number} is already a major incident." in response.content.decode()
    assert what_changed(incident) == before


def test_declaring_a_resolved_incident_answers_409_and_creates_nothing(
    signed_in, manager, responder, p1, drive
):
    incident = drive(p1, responder, "acknowledge", "start", "resolve")
    before = what_changed(incident)

    response = signed_in(manager).post(declare_url(incident), declare_input())

    assert response.status_code == 409
    assert "only an open incident can be declared major" in response.content.decode()
    assert what_changed(incident) == before
    assert not MajorIncident.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("initial_impact_statement", "  ", "This field is required."),
        ("bridge_link", "ftp://files.example.com/x", "Enter an http:// or https:// link."),
        ("major_incident_manager", "stella", "Select a valid choice."),
    ],
)
def test_bad_declare_input_answers_400_on_its_field_and_creates_nothing(
    signed_in, manager, stakeholder, p1, field, value, message
):
    before = what_changed(p1)

    response = signed_in(manager).post(declare_url(p1), declare_input(**{field: value}))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["form"].errors[field]
    assert what_changed(p1) == before


def test_declaring_an_unknown_incident_answers_404(signed_in, manager):
    assert signed_in(manager).get("/warroom/declare/INC9999999/").status_code == 404


# --- demoting ------------------------------------------------------------------------------------


def test_demoting_needs_a_reason(signed_in, manager, major):
    before = what_changed(major.incident)

    response = signed_in(manager).post(demote_url(major.incident), {"reason": "   "})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert '<details class="panel" open>' in response.content.decode()
    assert what_changed(major.incident) == before


def test_demoting_with_a_reason_returns_to_the_room(signed_in, manager, major):
    client = signed_in(manager)

    response = client.post(demote_url(major.incident), {"reason": "Only one region affected"})

    major.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == room_url(major.incident)
    assert (major.state, major.demotion_reason) == (
        MajorIncidentState.DEMOTED,
        "Only one region affected",
    )
    room = client.get(response["Location"]).content.decode()
    assert f"{major.number} is no longer a major incident." in room
    assert demote_url(major.incident) not in room
    assert 'data-live="false"' in room  # the page hides its writing controls


def test_demoting_twice_answers_409(signed_in, manager, major):
    client = signed_in(manager)
    client.post(demote_url(major.incident), {"reason": "Only one region affected"})
    before = what_changed(major.incident)

    response = client.post(demote_url(major.incident), {"reason": "again"})

    assert response.status_code == 409
    assert f"Cannot demote {major.number}: it is demoted." in response.content.decode()
    assert what_changed(major.incident) == before


# --- the incident page's way in ------------------------------------------------------------------


def incident_page(client, incident) -> str:
    return client.get(reverse("incidents:detail", args=[incident.number])).content.decode()


@pytest.mark.parametrize("role", ["manager", "super_admin"])
def test_managers_see_the_declare_button_on_an_open_incident(signed_in, request, p1, role):
    content = incident_page(signed_in(request.getfixturevalue(role)), p1)

    assert f'href="{declare_url(p1)}"' in content
    assert f'href="{room_url(p1)}"' not in content


@pytest.mark.parametrize("role", ["responder", "stakeholder"])
def test_others_see_no_declare_button(signed_in, request, p1, role):
    content = incident_page(signed_in(request.getfixturevalue(role)), p1)

    assert declare_url(p1) not in content
    assert "Declare major incident" not in content


def test_no_declare_button_once_the_incident_is_resolved(signed_in, manager, responder, p1, drive):
    incident = drive(p1, responder, "acknowledge", "start", "resolve")

    assert declare_url(incident) not in incident_page(signed_in(manager), incident)


@pytest.mark.parametrize("role", ["manager", "responder", "stakeholder"])
def test_a_major_incident_links_to_its_war_room_instead(signed_in, request, major, role):
    content = incident_page(signed_in(request.getfixturevalue(role)), major.incident)

    assert f'href="{room_url(major.incident)}"' in content
    assert "major incident · active" in content
    assert declare_url(major.incident) not in content


def test_a_demoted_incident_can_be_declared_again(signed_in, manager, major):
    services.major_incident_demote(
        major=major, actor=manager, source=ChangeSource.CLI, reason="Only one region"
    )

    content = incident_page(signed_in(manager), major.incident)

    assert f'href="{declare_url(major.incident)}"' in content
    assert "Earlier war room" in content


# --- escaping ------------------------------------------------------------------------------------


def test_user_text_is_escaped_on_the_war_room_pages(signed_in, manager, responder, declare):
    incident = make_incident(actor=responder, title=XSS, impact=1, urgency=1)
    declare(incident, initial_impact_statement=f"{XSS} impact")
    client = signed_in(manager)

    for url in (reverse("warroom:list"), room_url(incident)):
        content = client.get(url).content.decode()
        assert XSS not in content, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content, url


# --- query counts --------------------------------------------------------------------------------


# session, user, permissions (user + group), roles, the bell's unread count, the major
# incidents with their incidents and people and the count of who is present.
LIST_QUERIES = 7


@pytest.mark.parametrize("rooms", [1, 6])
def test_the_list_costs_the_same_for_1_or_6_rooms(
    signed_in, responder, declare, django_assert_num_queries, rooms
):
    for n in range(rooms):
        declare(make_incident(actor=responder, title=f"Outage {n}", impact=1, urgency=1))
    client = signed_in(responder)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(reverse("warroom:list"))

    assert response.content.decode().count('class="row"') == rooms


# session, user, permissions (user + group), roles, the bell's unread count, the major
# incident with its incident and people, the incident's post-incident review (for its link),
# its SLA timers (when the next stakeholder update is due), its communications (the
# Communications card; none yet, so no recipients to fetch); writers also get the staff picker,
# and whether they may post the status page update (its communications lead or commander).
ROOM_QUERIES = {"responder": 12, "stakeholder": 10}


@pytest.mark.parametrize("role", ["responder", "stakeholder"])
def test_the_room_costs_a_fixed_number_of_queries(
    signed_in, request, major, make_user, django_assert_num_queries, role
):
    for n in range(5):
        make_user(f"extra{n}", roles=["responder"])
    client = signed_in(request.getfixturevalue(role))

    with django_assert_num_queries(ROOM_QUERIES[role]):
        response = client.get(room_url(major.incident))

    assert response.status_code == 200
