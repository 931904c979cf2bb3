"""The incident pages' websockets (docs/live-pages.md), through the whole ASGI application:
`ws/incidents/` (dashboard and list) and `ws/incidents/<NUMBER>/` (one incident's page). Who
may connect, what reaches each, what a stakeholder never receives, and the catch-up of a page
that reconnects. The fragments the pages fetch are tested in test_live_fragments.py."""

import json
import time
from datetime import timedelta

import pytest

from incidents import clock, consumers, services
from incidents.choices import ChangeSource, EventType
from incidents.models import IncidentEvent
from tests.factories import make_incident
from tests.live_ws import close_code, listening, receives_nothing
from tests.warroom._ws import db, in_event_loop

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("fresh_channel_layers"),
]

LIST = "/ws/incidents/"
SECRET = "Rolled back the DB password rotation"
PUBLIC = "Payments are failing for some customers; we are on it"


def page_of(incident) -> str:
    return f"/ws/incidents/{incident.number}/"


def note(incident, actor, text: str, *, public: bool = False) -> IncidentEvent:
    """A note written elsewhere (the API, another web process): committed, then published."""
    return services.incident_add_note(
        incident=incident, actor=actor, source=ChangeSource.API, text=text, public=public
    )


def timeline(where=lambda event: True):
    """A `Page.next` filter: a timeline message whose event matches `where`."""
    return lambda message: where(message["event"])


def after(messages: list[dict], since: int, *, ids: bool = False) -> list[dict]:
    """A catch-up's messages about events after `since` (it also sends a few before it again,
    incidents.timeline.events_since): their events, with `ids`."""
    found = [m for m in messages if (m["event"]["id"] if "event" in m else m["event_id"]) > since]
    return [m["event"] for m in found] if ids else found


# --- who may connect -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["list", "incident"])
@in_event_loop
async def test_a_page_not_signed_in_is_refused_with_4401_and_one_without_a_role_with_4403(
    incident, nobody, path
):
    where = LIST if path == "list" else page_of(incident)
    assert await close_code(None, where) == 4401
    assert await close_code(nobody, where) == 4403


@in_event_loop
async def test_a_number_that_is_no_incident_is_refused_with_4404(responder):
    assert await close_code(responder, "/ws/incidents/INC9999999/") == 4404


@in_event_loop
async def test_every_reader_role_may_listen(incident, stakeholder, manager):
    for user in (stakeholder, manager):
        async with listening(user, page_of(incident)) as page:
            assert page.snapshot["complete"] is True


# --- what reaches the pages ----------------------------------------------------------------------


@in_event_loop
async def test_a_new_incident_reaches_the_list_and_its_acknowledgement_both_channels(
    responder, manager, service
):
    async with listening(manager, LIST) as dashboard:
        incident = await db(make_incident)(actor=responder, title="Checkout down", priority="P1")
        created = await dashboard.next("timeline", where=timeline(lambda e: e["type"] == "created"))
        assert (created["incident"], created["status"]) == (incident.number, "new")

        async with listening(manager, page_of(incident)) as incident_page:
            await db(services.incident_acknowledge)(
                incident=incident, actor=responder, source=ChangeSource.API
            )
            for page in (dashboard, incident_page):
                acknowledged = await page.next(
                    "timeline", where=timeline(lambda e: e["type"] == EventType.TRANSITION)
                )
                assert acknowledged["incident"] == incident.number
                assert acknowledged["status"] == "acknowledged"


@in_event_loop
async def test_a_note_and_an_assignment_reach_the_incident_page_and_not_another_incidents(
    incident, responder, manager
):
    other = await db(make_incident)(actor=responder, title="Another one")
    async with (
        listening(manager, page_of(incident)) as page,
        listening(manager, page_of(other)) as other_page,
    ):
        await db(note)(incident, responder, SECRET)
        noted = await page.next("timeline", where=timeline(lambda e: e["type"] == "note"))
        assert noted["event"]["data"]["text"] == SECRET

        await db(services.incident_update)(
            incident=incident, actor=manager, source=ChangeSource.API, assignee=manager
        )
        assigned = await page.next(
            "timeline", where=timeline(lambda e: e["type"] == "field_change")
        )
        assert assigned["event"]["summary"] == "Changed assignee"
        assert await receives_nothing(other_page)


@in_event_loop
async def test_sla_warnings_and_breaches_reach_the_pages(responder, manager):
    incident = await db(make_incident)(actor=responder, title="Down", priority="P1")
    async with listening(manager, LIST) as dashboard:
        await db(clock.tick)(now=incident.created_at + timedelta(minutes=16))
        warned = await dashboard.next("timeline", where=timeline(lambda e: e["type"] == "sla"))
        assert warned["incident"] == incident.number
        breached = await dashboard.next(
            "timeline", where=timeline(lambda e: e["type"] == "sla" and "breach" in e["summary"])
        )
        assert breached["incident"] == incident.number


# --- a stakeholder reads public events only ------------------------------------------------------


@in_event_loop
async def test_a_stakeholder_never_receives_an_internal_note_only_that_the_incident_changed(
    incident, responder, stakeholder
):
    async with (
        listening(stakeholder, LIST) as dashboard,
        listening(stakeholder, page_of(incident)) as page,
    ):
        await db(note)(incident, responder, SECRET)
        await db(note)(incident, responder, PUBLIC, public=True)
        for each in (dashboard, page):
            changed = await each.next("incident", "timeline")
            assert changed["kind"] == "incident"
            assert set(changed) == {
                *("kind", "incident", "status", "priority", "event_id", "stream", "seq")
            }
            assert SECRET not in json.dumps(changed)
            public = await each.next("incident", "timeline")
            assert public["kind"] == "timeline"
            assert public["event"]["data"]["text"] == PUBLIC


@in_event_loop
async def test_a_stakeholders_catch_up_holds_no_internal_note_either(
    incident, responder, stakeholder
):
    async with listening(stakeholder, page_of(incident)) as first:
        since = first.snapshot["last_event"]
    await db(note)(incident, responder, SECRET)

    async with listening(stakeholder, f"{page_of(incident)}?since={since}") as again:
        assert SECRET not in json.dumps(again.snapshot)
        [missed] = after(again.snapshot["events"], since)
        assert missed["kind"] == "incident"


@in_event_loop
async def test_a_responder_made_stakeholder_stops_receiving_internal_notes(
    incident, responder, manager
):
    async with listening(manager, page_of(incident)) as page:
        await db(_make_stakeholder)(manager)
        await db(note)(incident, responder, SECRET)
        changed = await page.next("incident", "timeline")
        assert changed["kind"] == "incident" and SECRET not in json.dumps(changed)


def _make_stakeholder(user) -> None:
    from django.contrib.auth.models import Group

    from itsm import live

    user.groups.set([Group.objects.get(name="stakeholder")])
    live.access_changed(user.pk)


# --- catching up ---------------------------------------------------------------------------------


@in_event_loop
async def test_a_reconnecting_page_gets_what_it_missed_from_the_database(
    incident, responder, manager
):
    async with listening(manager, page_of(incident)) as first:
        since = first.snapshot["last_event"]
        assert first.snapshot["events"] == []
    missed = [await db(note)(incident, responder, f"while away {n}") for n in range(2)]

    async with listening(manager, f"{page_of(incident)}?since={since}") as again:
        snapshot = again.snapshot
    assert [e["id"] for e in after(snapshot["events"], since, ids=True)] == [
        event.pk for event in missed
    ]
    assert snapshot["last_event"] == missed[-1].pk
    assert snapshot["complete"] is True


@in_event_loop
async def test_messages_are_numbered_and_a_page_that_sees_a_gap_resyncs_on_its_socket(
    incident, responder, manager
):
    stream = f"incident.{incident.number}"
    async with listening(manager, page_of(incident)) as page:
        start = page.snapshot["seqs"]
        assert set(start) == {stream}
        heard = await db(note)(incident, responder, "heard")
        assert (await page.next("timeline"))["seq"] == start[stream] + 1
        lost = await db(note)(incident, responder, "as if lost on its way")
        assert (await page.next("timeline"))["seq"] == start[stream] + 2

        await page.ws.send_json_to({"type": "resync", "query": {"since": str(heard.pk)}})
        again = await page.next("snapshot")
        assert [e["id"] for e in after(again["events"], heard.pk, ids=True)] == [lost.pk]
        assert again["seqs"] == {stream: start[stream] + 2}

        await page.ws.send_json_to({"type": "ping"})
        assert (await page.next("pong"))["seqs"] == {stream: start[stream] + 2}


@pytest.mark.parametrize("query", [["since", 1], {"since": None}, {"since": True}, "since=1"])
@in_event_loop
async def test_a_resync_with_a_malformed_query_is_an_error(incident, manager, query):
    async with listening(manager, page_of(incident)) as page:
        await page.ws.send_json_to({"type": "resync", "query": query})
        error = await page.next("error")
        assert "query" in error["error"]["fields"]


@in_event_loop
async def test_a_page_catches_up_from_when_it_was_rendered_on_its_first_connection(
    responder, manager
):
    rendered = int(time.time()) - 1
    incident = await db(make_incident)(actor=responder, title="Made after the page")

    async with listening(manager, f"{LIST}?rendered={rendered}") as page:
        kinds = [(e["incident"], e["event"]["type"]) for e in page.snapshot["events"]]
    assert (incident.number, "created") in kinds


@in_event_loop
async def test_a_page_that_missed_too_much_is_told_to_load_afresh(
    incident, responder, manager, monkeypatch
):
    monkeypatch.setattr(consumers, "CATCH_UP_LIMIT", 2)
    async with listening(manager, LIST) as first:
        since = first.snapshot["last_event"]
    for n in range(3):
        await db(note)(incident, responder, f"note {n}")

    async with listening(manager, f"{LIST}?since={since}") as again:
        assert again.snapshot["complete"] is False
        assert len(again.snapshot["events"]) == 2


@pytest.mark.parametrize(
    "query", ["?since=abc", "?since=-1", "?since=\u0664", "?rendered=99999999999999", "?x=1"]
)
@in_event_loop
async def test_a_bad_since_or_rendered_is_ignored(incident, manager, query):
    async with listening(manager, f"{page_of(incident)}{query}") as page:
        assert page.snapshot["events"] == []
        assert page.snapshot["last_event"] is not None


# --- what a page may send ------------------------------------------------------------------------


@in_event_loop
async def test_a_ping_is_answered_and_anything_else_refused_with_the_socket_kept(incident, manager):
    async with listening(manager, page_of(incident)) as page:
        await page.ws.send_to(text_data="not json")
        error = await page.next("error")
        assert error["error"]["code"] == "invalid"
        await page.ws.send_json_to({"type": "ping"})
        assert (await page.next("pong"))["kind"] == "pong"
