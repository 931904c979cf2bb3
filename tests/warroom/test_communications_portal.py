"""The Communications card on the incident page and in the war room: drafting each kind from the
incident, editing and sending a draft (recipients recorded, a timeline event), "Improve with AI"
against a local server (the `llm` fixture) and hidden when unset, who may do what (the API's
rules), plain form posts without JavaScript, and what the card costs in queries."""

import html
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.choices import ChangeSource, EventType
from warroom import services as warroom
from warroom.choices import CommunicationKind
from warroom.communications import services
from warroom.communications.rendering import incident_variables, render_template
from warroom.models import Communication, CommunicationTemplate

CLI = ChangeSource.CLI
IMPROVED = "Checkout is down for every customer; Rita Ross leads the fix."


def room_url(incident) -> str:
    return reverse("warroom:room", args=[incident.number])


def url(name: str, incident, communication=None) -> str:
    args = [incident.number] if communication is None else [incident.number, communication.pk]
    return reverse(f"warroom:communication-{name}", args=args)


def page_of(back: str, incident) -> str:
    return room_url(incident) if back == "room" else incident.get_absolute_url()


def draft(incident, actor, kind="initial") -> Communication:
    return services.communication_draft(incident=incident, kind=kind, actor=actor, source=CLI)


def sent(incident, actor, kind="update") -> Communication:
    return services.communication_send(
        communication=draft(incident, actor, kind), actor=actor, source=CLI
    )


def text(response) -> str:
    return response.content.decode()


def card_of(response) -> str:
    found = re.search(r'<section class="card comms".*?</section>', text(response), re.S)
    assert found, "no Communications card"
    return found.group(0)


def textarea(response, communication) -> str:
    """The body a draft's form shows."""
    found = re.search(
        rf'<textarea name="body"[^>]*id="id_communication_{communication.pk}_body"[^>]*>\n?(.*?)'
        r"</textarea>",
        text(response),
        re.S,
    )
    return html.unescape(found.group(1))


def what_changed(incident) -> tuple:
    """What a user could see change: the communications, their recipients, the timeline."""
    return (
        list(Communication.objects.values_list("kind", "status", "subject", "body")),
        list(Communication.objects.values_list("recipients__address", flat=True)),
        incident.events.count(),
    )


def edited(communication, **changes) -> dict:
    return {"subject": communication.subject, "body": communication.body, **changes}


@pytest.fixture
def comms_lead(commanded, make_comms_lead):
    """Cora, the communications lead of `commanded`'s war room."""
    return make_comms_lead(commanded.major_incident)


@pytest.fixture
def otto(make_user):
    """A responder with no role in the war room: drafts, does not send."""
    return make_user("otto", roles=["responder"])


@pytest.fixture
def unset(settings):
    settings.LLM_URL, settings.LLM_MODEL = "", ""


# --- drafting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("back", ["room", "incident"])
@pytest.mark.parametrize("kind", CommunicationKind.values)
def test_each_kind_is_drafted_from_the_page(signed_in, commanded, otto, stakeholder, back, kind):
    client = signed_in(otto)
    page = client.get(page_of(back, commanded))
    assert f'name="template" value="{kind}"' in card_of(page)

    response = client.post(url("draft", commanded), {"template": kind, "back": back})

    communication = Communication.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{page_of(back, commanded)}#communication-{communication.pk}"
    assert (communication.kind, communication.status, communication.created_by) == (
        kind,
        "draft",
        otto,
    )
    template = CommunicationTemplate.objects.get(kind=kind)
    assert (communication.subject, communication.body) == render_template(
        template, incident_variables(commanded)
    )
    shown = client.get(response["Location"])
    assert f"{CommunicationKind(kind).label} drafted" in text(shown)
    assert html.escape(communication.subject) in card_of(shown)
    assert textarea(shown, communication) == communication.body


def test_the_initial_notification_carries_the_incidents_facts(signed_in, commanded, otto):
    signed_in(otto).post(url("draft", commanded), {"template": "initial", "back": "room"})

    body = Communication.objects.get().body
    assert "Impact: Checkout fails for every customer\n" in body
    assert "Next Update: 2026-03-02 09:30 UTC\n" in body


def test_an_unknown_kind_names_the_field_and_drafts_nothing(signed_in, commanded, otto):
    response = signed_in(otto).post(url("draft", commanded), {"template": "gossip"})

    assert response.status_code == 400
    assert re.search(r'class="has-error".*?Select a valid choice', card_of(response), re.S)
    assert not Communication.objects.exists()


# --- editing and sending -----------------------------------------------------------------------


def test_a_draft_is_saved_with_its_edits(signed_in, commanded, otto):
    communication = draft(commanded, otto)
    changes = edited(communication, subject="Checkout  is down", body="Line one\r\nLine two")

    response = signed_in(otto).post(url("save", commanded, communication), changes)

    assert response.status_code == 302
    communication.refresh_from_db()
    assert (communication.subject, communication.body) == ("Checkout is down", "Line one\nLine two")
    assert "Draft saved." in text(signed_in(otto).get(response["Location"]))


@pytest.mark.parametrize(
    ("field", "changes", "reason"),
    [
        ("subject", {"subject": ""}, "This field is required."),
        ("subject", {"subject": "x" * 201}, "at most 200 characters"),
        ("body", {"body": "   "}, "This field is required."),
    ],
)
def test_bad_input_shows_the_field_and_the_reason_and_keeps_the_text(
    signed_in, commanded, otto, field, changes, reason
):
    communication = draft(commanded, otto)
    before = what_changed(commanded)
    data = {**edited(communication, body="My careful words"), **changes}

    response = signed_in(otto).post(url("save", commanded, communication), data)

    assert response.status_code == 400
    assert what_changed(commanded) == before
    errored = re.search(
        rf'<div class="field [^"]*has-error">\s*<label for="id_communication_{communication.pk}_'
        rf'{field}">.*?<p class="field-error">([^<]*)</p>',
        text(response),
        re.S,
    )
    assert reason in html.unescape(errored.group(1))
    if field == "subject":
        assert textarea(response, communication) == "My careful words"


def test_the_communications_lead_edits_and_sends_from_the_war_room(
    signed_in, commanded, comms_lead, it_leader, django_capture_on_commit_callbacks
):
    client = signed_in(comms_lead)
    client.post(url("draft", commanded), {"template": "initial", "back": "room"})
    communication = Communication.objects.get()
    body = communication.body.replace("Checkout fails", "Card payments fail")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("send", commanded, communication),
            {**edited(communication, body=body), "back": "room"},
        )

    assert response["Location"] == f"{room_url(commanded)}#communication-{communication.pk}"
    communication.refresh_from_db()
    assert (communication.status, communication.body, communication.sent_by) == (
        "sent",
        body.strip(),
        comms_lead,
    )
    assert {(r.kind, r.address) for r in communication.recipients.all()} == {
        ("person", "stella@example.org")
    }
    event = commanded.events.get(type=EventType.COMMUNICATION)
    assert event.actor == comms_lead
    assert event.summary.startswith("Initial notification sent to IT leadership")
    room = client.get(response["Location"])
    assert (
        "Initial notification sent to IT leadership and affected department heads (1 recipient)."
        in text(room)
    )
    card = card_of(room)
    assert 'class="chip comms-status-sent">Sent<' in card
    assert "sent by" in card and 'title="cora">Cora Lead<' in card
    assert "Received by (1)" in card and "stella@example.org" in card
    assert html.escape("Impact: Card payments fail for every customer") in card
    assert "<textarea" not in card  # a sent one is read, not edited


def test_sending_twice_is_refused_and_changes_nothing(signed_in, commanded, responder):
    communication = sent(commanded, responder)
    before = what_changed(commanded)

    response = signed_in(responder).post(
        url("send", commanded, communication), edited(communication, body="Again")
    )

    assert response.status_code == 409
    assert "already sent" in text(response)
    assert what_changed(commanded) == before


# --- who may do what ---------------------------------------------------------------------------


def test_a_responder_who_may_not_send_sees_no_send_button_and_is_refused(
    signed_in, commanded, otto
):
    communication = draft(commanded, otto)
    client = signed_in(otto)
    card = card_of(client.get(room_url(commanded)))
    assert "Save draft" in card and url("send", commanded, communication) not in card
    assert "The communications lead, the incident commander or a manager sends it." in card
    before = what_changed(commanded)

    response = client.post(
        url("send", commanded, communication), edited(communication, body="Sent anyway")
    )

    assert response.status_code == 403
    assert "Only the communications lead, the incident commander and managers send." in text(
        response
    )
    assert what_changed(commanded) == before  # not even the edit is saved


@pytest.mark.parametrize("who", ["responder", "manager"])
def test_the_commander_and_managers_see_the_send_button(signed_in, commanded, request, who):
    communication = draft(commanded, request.getfixturevalue("responder"))
    card = card_of(signed_in(request.getfixturevalue(who)).get(commanded.get_absolute_url()))
    assert url("send", commanded, communication) in card


@pytest.mark.parametrize("page", ["room", "incident"])
def test_stakeholders_read_sent_communications_only(
    signed_in, commanded, responder, it_leader, page
):
    delivered = sent(commanded, responder)
    pending = draft(commanded, responder, "resolution")

    card = card_of(signed_in(it_leader).get(page_of(page, commanded)))

    assert html.escape(delivered.subject) in card and "stella@example.org" in card
    assert html.escape(pending.subject) not in card
    assert "<form" not in card and "<button" not in card


def test_stakeholders_may_not_draft_edit_improve_or_send(
    signed_in, commanded, responder, stakeholder, llm
):
    communication = draft(commanded, responder)
    client = signed_in(stakeholder)
    before = what_changed(commanded)

    for name, target, data in [
        ("draft", None, {"template": "initial"}),
        ("save", communication, edited(communication, body="x")),
        ("improve", communication, edited(communication)),
        ("send", communication, edited(communication)),
    ]:
        response = client.post(url(name, commanded, target), data)
        assert response.status_code == 403, name

    assert what_changed(commanded) == before
    assert llm.requests == []


def test_an_ended_war_room_offers_no_form(
    signed_in, commanded, responder, manager, django_capture_on_commit_callbacks
):
    communication = draft(commanded, responder)
    warroom.major_incident_demote(
        major=commanded.major_incident, actor=manager, source=CLI, reason="Only one region"
    )

    card = card_of(signed_in(responder).get(room_url(commanded)))

    assert "<form" not in card
    assert html.escape(communication.subject) in card
    assert "draft and send from the" in card


# --- Improve with AI ---------------------------------------------------------------------------


def test_unset_there_is_no_ai_button_and_a_post_changes_nothing(
    signed_in, commanded, responder, unset
):
    communication = draft(commanded, responder)
    client = signed_in(responder)
    assert "Improve with AI" not in text(client.get(room_url(commanded)))
    before = what_changed(commanded)

    response = client.post(url("improve", commanded, communication), edited(communication))

    assert response.status_code == 409
    assert "AI drafting is not configured" in text(response)
    assert what_changed(commanded) == before


def test_improve_with_ai_rewrites_the_draft_as_it_was_edited(signed_in, commanded, responder, llm):
    llm.answers.append((200, IMPROVED))
    communication = draft(commanded, responder, "update")
    client = signed_in(responder)
    card = card_of(client.get(room_url(commanded)))
    assert f'formaction="{url("improve", commanded, communication)}"' in card

    response = client.post(
        url("improve", commanded, communication),
        {**edited(communication, body="Rita rolled back payments."), "back": "room"},
    )

    assert response.status_code == 302
    communication.refresh_from_db()
    assert communication.body == IMPROVED
    (request,) = llm.requests
    assert "Rita rolled back payments." in request["json"]["messages"][1]["content"]
    shown = client.get(response["Location"])
    assert "Rewritten by AI" in text(shown)
    assert textarea(shown, communication) == IMPROVED


def test_a_failing_endpoint_shows_its_error_and_leaves_the_draft(
    signed_in, commanded, responder, llm
):
    llm.answers.append((500, "boom"))
    communication = draft(commanded, responder, "update")
    before = what_changed(commanded)

    response = signed_in(responder).post(
        url("improve", commanded, communication), edited(communication, body="My own words")
    )

    assert response.status_code == 502
    assert "The AI endpoint answered 500; the draft is unchanged." in text(response)
    assert textarea(response, communication) == "My own words"  # the form keeps the text
    assert what_changed(commanded) == before


# --- without JavaScript ------------------------------------------------------------------------


def form_post(client, page: str, action: str, data: dict):
    """Submit a form of `page` as a browser without JavaScript does: to the form's action
    (or the button's formaction), with the page's CSRF token; follow the redirect."""
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert f'action="{action}"' in page or f'formaction="{action}"' in page, action
    return client.post(action, {"csrfmiddlewaretoken": token, **data}, follow=True)


def test_the_whole_flow_works_with_plain_form_posts(
    commanded, comms_lead, it_leader, django_capture_on_commit_callbacks
):
    client = Client(enforce_csrf_checks=True)
    client.force_login(comms_lead)
    room = text(client.get(room_url(commanded)))

    drafted = form_post(
        client, room, url("draft", commanded), {"template": "update", "back": "room"}
    )
    communication = Communication.objects.get()
    assert drafted.redirect_chain == [
        (f"{room_url(commanded)}#communication-{communication.pk}", 302)
    ]
    data = {"subject": "Checkout: card payments back", "body": "Fixed.", "back": "room"}
    saved = form_post(client, text(drafted), url("save", commanded, communication), data)
    assert "Draft saved." in text(saved)
    with django_capture_on_commit_callbacks(execute=True):
        done = form_post(client, text(saved), url("send", commanded, communication), data)

    assert "Status update sent to IT leadership (1 recipient)." in text(done)
    assert "Checkout: card payments back" in card_of(done)
    assert Communication.objects.get().status == "sent"


def test_a_post_without_the_csrf_token_is_refused(commanded, comms_lead):
    client = Client(enforce_csrf_checks=True)
    client.force_login(comms_lead)

    response = client.post(url("draft", commanded), {"template": "initial"})

    assert response.status_code == 403
    assert not Communication.objects.exists()


def test_a_get_on_a_write_goes_to_the_communications_page(signed_in, commanded, responder):
    communication = draft(commanded, responder)
    client = signed_in(responder)
    page = reverse("warroom:communications", args=[commanded.number])

    response = client.get(url("send", commanded, communication))

    assert (response.status_code, response["Location"]) == (302, page)
    assert html.escape(communication.subject) in card_of(client.get(page))


def test_the_card_escapes_what_people_wrote(signed_in, commanded, responder):
    communication = draft(commanded, responder)
    services.communication_update(
        communication=communication,
        actor=responder,
        source=CLI,
        subject="<script>alert(1)</script>",
        body="<img src=x onerror=alert(1)>",
    )
    card = card_of(signed_in(responder).get(commanded.get_absolute_url()))
    assert "<script>alert" not in card and "<img" not in card


# --- queries -----------------------------------------------------------------------------------


def _communications(incident, actor, n: int) -> None:
    for _ in range(n):
        sent(incident, actor)
        draft(incident, actor, "resolution")


# The room and the incident page without communications, then with them: their recipients in
# one query, and whether the reader may send (for the drafts' forms: a manager's permission
# answers it without a query, a war-room role asks once).
EXTRA = {"manager": 1, "cora": 2}


def queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


@pytest.mark.parametrize("who", ["manager", "cora"])
@pytest.mark.parametrize("page", ["room", "incident"])
def test_the_card_costs_the_same_for_1_and_5_communications(
    signed_in, commanded, comms_lead, manager, page, who
):
    reader = manager if who == "manager" else comms_lead
    client, path = signed_in(reader), page_of(page, commanded)
    client.get(path)  # notes the session's activity (once a minute)
    empty = queries(client, path)
    _communications(commanded, reader, 1)
    one = queries(client, path)
    _communications(commanded, reader, 4)
    five = queries(client, path)

    assert (one, five) == (empty + EXTRA[who], empty + EXTRA[who])
    assert card_of(client.get(path)).count('class="comms-item"') == 10
