"""A war room that ended (closed with its incident, or demoted) is read-only: the page offers
no write, a socket's write is refused in plain words and nothing is written; a GET on the
room's demote URL goes to the room; people are named in full."""

import re
from html import unescape

import pytest
from django.urls import reverse

from incidents.choices import ChangeSource
from incidents.models import IncidentEvent
from itsm.roles import Role
from tests.warroom._ws import db, in_event_loop, opened
from warroom import services

WRITE_CONTROLS = ('id="wr-note-form"', 'id="wr-task-form"', "wr-role-form", 'id="wr-bridge-join"')


def room_url(incident):
    return reverse("warroom:room", args=[incident.number])


def config_can_write(html: str) -> bool:
    return '"can_write": true' in html


@pytest.fixture
def ended(p1, major, manager, responder, drive, committing, request):
    """The room, closed with its incident (cancelled) or demoted (`request.param`)."""
    if request.param == "demoted":
        services.major_incident_demote(
            major=major, actor=manager, source=ChangeSource.CLI, reason="small after all"
        )
    else:
        committing(drive, p1, responder, "cancel")
    major.refresh_from_db()
    assert major.state == request.param
    return major


@pytest.mark.parametrize("ended", ["closed", "demoted"], indirect=True)
@pytest.mark.parametrize("role", ["responder", "manager"])
def test_the_page_of_a_room_that_ended_offers_no_write(signed_in, request, ended, role):
    html = signed_in(request.getfixturevalue(role)).get(room_url(ended.incident)).content.decode()

    assert [control for control in WRITE_CONTROLS if control in html] == []
    assert not config_can_write(html)
    assert f"This war room is {ended.get_state_display().lower()}: it is read-only." in html
    assert reverse("warroom:demote", args=[ended.number]) not in html


def test_a_live_room_offers_its_writes(signed_in, responder, major):
    html = signed_in(responder).get(room_url(major.incident)).content.decode()

    assert [control for control in WRITE_CONTROLS if control in html] == list(WRITE_CONTROLS)
    assert config_can_write(html)
    assert "read-only" not in html


@pytest.mark.parametrize("ended", ["closed"], indirect=True)
def test_the_page_of_a_closed_room_costs_no_more_than_a_live_one(
    signed_in, responder, ended, django_assert_num_queries
):
    client = signed_in(responder)
    client.get(room_url(ended.incident))  # notes the session's activity (once a minute)

    # session, user, permissions (user + group), roles, the bell's unread count, the major
    # incident, its post-incident review (for its link), its communications (read-only); no
    # staff list for the write forms it does not show.
    with django_assert_num_queries(9):
        response = client.get(room_url(ended.incident))

    assert response.status_code == 200


def test_a_get_on_the_demote_url_goes_to_the_room(signed_in, manager, major):
    response = signed_in(manager).get(reverse("warroom:demote", args=[major.number]))

    assert (response.status_code, response["Location"]) == (302, room_url(major.incident))
    major.refresh_from_db()
    assert major.state == "active"


def test_the_room_list_names_people_in_full(signed_in, make_user, responder, p1, declare):
    mary = make_user("mary", roles=[Role.ITSM_MANAGER], first_name="Mary", last_name="Major")
    declare(p1, actor=mary, manager=mary)

    html = signed_in(responder).get(reverse("warroom:list")).content.decode()

    mary_shown = '<span class="person" title="mary">Mary Major</span>'
    assert f"manager {mary_shown}" in html
    assert f"by {mary_shown}" in html


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("fresh_channel_layers")
@in_event_loop
async def test_a_note_sent_to_a_closed_room_is_refused_in_plain_words(major, responder, manager):
    async with opened(responder, major.number) as rita:
        await db(services.major_incident_follow)(incident_id=major.incident_id, to_status="closed")
        before = await db(IncidentEvent.objects.count)()

        error = await rita.error(type="note", text="too late", ref="n-1")

        assert error["code"] == "invalid_transition"
        assert error["message"] == (
            f"The war room of {major.number} is closed; it takes no more changes."
        )
        assert await db(IncidentEvent.objects.count)() == before


def test_the_admin_history_of_a_room_shows_states_and_names_as_the_portal_does(
    signed_in, make_user, manager, major
):
    mary = make_user("mary", roles=[Role.ITSM_MANAGER], first_name="Mary", last_name="Major")
    services.major_incident_update(
        major=major, actor=manager, source=ChangeSource.CLI, manager=mary
    )
    services.major_incident_demote(major=major, actor=manager, source=ChangeSource.CLI, reason="no")

    url = reverse("admin:warroom_majorincident_history", args=[major.pk])
    html = signed_in(manager).get(url).content.decode()

    changes = " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())
    assert "State: Active → Demoted" in changes
    assert "Major incident manager: mona → Mary Major" in changes
    assert "<td>Demoted</td>" in html and "<td>Mary Major</td>" in html
    assert "active →" not in changes
