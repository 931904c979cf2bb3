"""The war room's websocket (docs/warroom-protocol.md), through the whole ASGI application:
origin check, session cookie, routing, consumer and channel layer (in memory, or Redis when
REDIS_URL is set)."""

import time
from contextlib import AsyncExitStack

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from incidents.choices import ChangeSource
from incidents.models import IncidentEvent
from itsm.roles import Role
from tests.factories import enrol_two_factor
from tests.warroom._ws import close_code, db, in_event_loop, opened, signed_in
from warroom import consumers, selectors, services
from warroom.models import MajorIncident, Presence
from warroom.routing import websocket_urlpatterns

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("fresh_channel_layers"),
]


def usernames(people: list[dict]) -> set[str]:
    return {person["username"] for person in people}


def summaries(events: list[dict]) -> list[str]:
    return [event["summary"] for event in events]


def add_note(incident, actor, text: str) -> IncidentEvent:
    """A note written elsewhere (the API, another web process): committed, then published."""
    return incident_services.incident_add_note(
        incident=incident, actor=actor, source=ChangeSource.API, text=text
    )


# --- who may connect -----------------------------------------------------------------------


@in_event_loop
async def test_a_page_that_is_not_signed_in_is_refused_with_4401(major):
    assert await close_code(None, major.number) == 4401


@in_event_loop
async def test_a_session_that_still_owes_its_two_factor_code_is_refused_with_4401(major, responder):
    await db(enrol_two_factor)(responder)
    assert await close_code(responder, major.number) == 4401


@in_event_loop
async def test_a_user_without_a_role_that_may_view_war_rooms_is_refused_with_4403(major, nobody):
    assert await close_code(nobody, major.number) == 4403


@in_event_loop
async def test_a_number_with_no_major_incident_is_refused_with_4404(responder, incident):
    assert await close_code(responder, "INC9999999") == 4404
    assert await close_code(responder, incident.number) == 4404  # an ordinary incident


@in_event_loop
async def test_a_page_from_another_origin_is_refused_at_the_handshake(major, responder):
    assert await close_code(responder, major.number, origin=b"https://evil.example") is None


def test_only_ascii_digits_make_a_room_number():
    """As in the API: `\\d` would also take other scripts' digits, such as U+0660 to U+0669."""
    (route,) = websocket_urlpatterns
    assert route.pattern.match("ws/warroom/INC0000042/")
    assert route.pattern.match("ws/warroom/INC" + "\u0664" * 7 + "/") is None  # Arabic-Indic 4


# --- the snapshot ----------------------------------------------------------------------------


@pytest.fixture
def busy_room(major, manager, responder):
    """A room with a commander, a task, someone on the bridge and a scratchpad."""
    args = {"major": major, "actor": manager, "source": ChangeSource.CLI}
    services.role_assign(**args, role="incident_commander", user=responder)
    services.task_create(**args, title="Roll back the deploy", assignee=responder)
    services.bridge_join(**args)
    services.scratchpad_update(major=major, actor=manager, base_version=0, text="TODO: status")
    return major


@in_event_loop
async def test_the_snapshot_on_connect_holds_the_whole_room(busy_room, responder, manager):
    async with opened(responder, busy_room.number) as page:
        snapshot = page.snapshot

    assert snapshot["major_incident"]["number"] == busy_room.number
    assert snapshot["major_incident"]["state"] == "active"
    assert snapshot["major_incident"]["manager"]["username"] == manager.username
    assert [(r["role"], r["user"]["username"]) for r in snapshot["roles"]] == [
        ("incident_commander", responder.username)
    ]
    assert [(t["title"], t["assignee"]["username"]) for t in snapshot["tasks"]] == [
        ("Roll back the deploy", responder.username)
    ]
    assert snapshot["bridge"]["link"] == "https://meet.example.com/abc-defg-hij"
    assert [a["user"]["username"] for a in snapshot["bridge"]["attendees"]] == [manager.username]
    assert usernames(snapshot["presence"]) == {responder.username}
    assert snapshot["scratchpad"] == {"version": 1, "text": "TODO: status"}
    timeline = snapshot["timeline"]
    assert timeline["complete"] is True
    assert any(s.startswith("Declared a major incident") for s in summaries(timeline["events"]))
    assert summaries(timeline["events"])[-1] == f"{manager.username} joined the bridge"
    ids = [event["id"] for event in timeline["events"]]
    assert ids == sorted(ids) and len(ids) == await db(_event_count)(busy_room)


def _event_count(major) -> int:
    return IncidentEvent.objects.filter(incident_id=major.incident_id).count()


@in_event_loop
async def test_since_catches_up_with_only_the_events_after_it(major, responder, manager):
    declared = await db(lambda: IncidentEvent.objects.filter(incident=major.incident).last())()
    await db(add_note)(major.incident, manager, "first note after")
    await db(add_note)(major.incident, manager, "second note after")

    async with opened(responder, major.number, query=f"?since={declared.pk}") as page:
        timeline = page.snapshot["timeline"]

    later = [e for e in timeline["events"] if e["id"] > declared.pk]  # a few before come again
    assert summaries(later) == ["first note after", "second note after"]
    assert timeline["complete"] is True


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "99999999999999999999", ""])
@in_event_loop
async def test_a_bad_since_is_ignored(major, responder, since):
    async with opened(responder, major.number, query=f"?since={since}") as page:
        events = page.snapshot["timeline"]["events"]

    assert len(events) == await db(_event_count)(major)
    assert any(s.startswith("Declared a major incident") for s in summaries(events))


# --- live changes ----------------------------------------------------------------------------


@in_event_loop
async def test_a_note_written_elsewhere_and_its_pinning_reach_every_page(major, responder, manager):
    async with opened(responder, major.number) as rita, opened(manager, major.number) as mona:
        note = await db(add_note)(major.incident, manager, "Failing over to eu-west")

        def is_note(message):
            return message["event"]["id"] == note.pk

        for page in (rita, mona):
            live = await page.next("timeline", where=is_note)
            assert live["event"]["summary"] == "Failing over to eu-west"
            assert live["event"]["actor"] == manager.username
            assert live["incident"] == major.number

        assert await rita.ack(type="pin", event=note.pk, pinned=True) == {
            "event": note.pk,
            "pinned": True,
        }
        for page in (rita, mona):
            pinned = await page.next("timeline.pinned", where=is_note)
            assert pinned["event"]["pinned"] is True

    assert await db(lambda: IncidentEvent.objects.get(pk=note.pk).pinned)() is True


@in_event_loop
async def test_a_note_sent_from_a_page_is_recorded_and_reaches_the_other(major, responder, manager):
    async with opened(responder, major.number) as rita, opened(manager, major.number) as mona:
        result = await rita.ack(type="note", text="Customers see 502s", ref="n-1")

        live = await mona.next("timeline", where=lambda m: m["event"]["id"] == result["event"])
        assert live["event"]["summary"] == "Customers see 502s"
        assert live["event"]["actor"] == responder.username
        assert live["event"]["source"] == ChangeSource.PORTAL


@in_event_loop
async def test_roles_sent_from_one_page_reach_the_other(major, responder, manager):
    async with opened(manager, major.number) as mona, opened(responder, major.number) as rita:
        assignment = await mona.ack(
            type="role.assign", role="incident_commander", username=responder.username
        )
        roles = await rita.next("roles", where=lambda m: m["roles"])
        assert [(r["id"], r["role"], r["user"]["username"]) for r in roles["roles"]] == [
            (assignment["id"], "incident_commander", responder.username)
        ]

        assert await mona.ack(type="role.release", id=assignment["id"]) is None
        roles = await rita.next("roles", where=lambda m: not m["roles"])
        assert roles["incident"] == major.number


@in_event_loop
async def test_tasks_sent_from_one_page_reach_the_other(major, responder, manager):
    async with opened(manager, major.number) as mona, opened(responder, major.number) as rita:
        task = await mona.ack(type="task.create", title="Page the DBA", assignee=responder.username)
        tasks = await rita.next("tasks", where=lambda m: m["tasks"])
        assert [
            (t["id"], t["title"], t["assignee"]["username"], t["done"]) for t in tasks["tasks"]
        ] == [(task["id"], "Page the DBA", responder.username, False)]

        await mona.ack(type="task.update", id=task["id"], done=True, assignee=None)
        tasks = await rita.next("tasks", where=lambda m: m["tasks"][0]["done"])
        assert tasks["tasks"][0]["assignee"] is None


@in_event_loop
async def test_the_bridge_joined_from_one_page_reaches_the_other(major, responder, manager):
    async with opened(manager, major.number) as mona, opened(responder, major.number) as rita:
        await mona.ack(type="bridge.join")
        bridge = await rita.next("bridge", where=lambda m: m["bridge"]["attendees"])
        [stay] = bridge["bridge"]["attendees"]
        assert stay["user"]["username"] == manager.username
        assert stay["left_at"] is None

        await mona.ack(type="bridge.leave")
        bridge = await rita.next("bridge", where=lambda m: m["bridge"]["attendees"][0]["left_at"])
        assert bridge["bridge"]["link"] == major.bridge_link


@in_event_loop
async def test_two_edits_against_the_same_version_keep_both_words(major, responder, manager):
    async with opened(responder, major.number) as rita, opened(manager, major.number) as mona:
        base = rita.snapshot["scratchpad"]["version"]
        first = await rita.ack(type="scratchpad", base_version=base, text="rollback")
        second = await mona.ack(type="scratchpad", base_version=base, text="failover")

        assert first == {"version": base + 1, "text": "rollback", "merged": False}
        assert second["version"] == base + 2 and second["merged"] is True
        assert "rollback" in second["text"] and "failover" in second["text"]
        for page in (rita, mona):
            seen = await page.next(
                "scratchpad", where=lambda m: m["scratchpad"]["version"] == base + 2
            )
            assert seen["scratchpad"]["text"] == second["text"]
            assert seen["author"] == manager.username

    saved = await db(lambda: MajorIncident.objects.get(pk=major.pk).scratchpad)()
    assert saved == second["text"]


@in_event_loop
async def test_presence_grows_and_shrinks_as_pages_open_and_close(major, responder, manager):
    async with opened(responder, major.number) as rita:
        assert usernames(rita.snapshot["presence"]) == {responder.username}
        async with opened(manager, major.number) as mona:
            assert usernames(mona.snapshot["presence"]) == {responder.username, manager.username}
            await rita.next("presence", where=lambda m: len(m["presence"]) == 2)
        present = await rita.next("presence", where=lambda m: len(m["presence"]) == 1)
        assert usernames(present["presence"]) == {responder.username}


@in_event_loop
async def test_many_pages_opening_at_once_make_one_presence_message_a_second(
    major, responder, monkeypatch
):
    monkeypatch.setattr(consumers, "PRESENCE_EVERY_SECONDS", 2.0)
    others = 6
    async with opened(responder, major.number) as first, AsyncExitStack() as stack:
        started = time.monotonic()
        for _ in range(others):
            await stack.enter_async_context(opened(responder, major.number))
        took = time.monotonic() - started
        heard = []  # the presence messages the first page got
        while not await first.ws.receive_nothing(timeout=2.5):
            message = await first.ws.receive_json_from()
            if message["kind"] == "presence":
                heard.append(message)
        pages = await db(Presence.objects.filter(major_incident=major).count)()
    assert pages == others + 1
    assert usernames(heard[-1]["presence"]) == {responder.username}
    # One message each 2 s at most (and one for the first page), not one per page opened.
    assert len(heard) <= took / 2 + 2
    assert len(heard) < others


@in_event_loop
async def test_a_war_room_page_resyncs_from_its_last_event(major, responder, manager):
    async with opened(responder, major.number) as rita:
        assert set(rita.snapshot["seqs"]) == {
            f"warroom.{major.number}",
            f"incident.{major.number}",
        }
        last = rita.snapshot["timeline"]["events"][-1]["id"]
        note = await db(add_note)(major.incident, manager, "missed")
        await rita.ws.send_json_to({"type": "resync", "query": {"since": last}})
        again = await rita.next("snapshot")
    assert [e["id"] for e in again["timeline"]["events"] if e["id"] > last] == [note.pk]
    assert again["seqs"][f"incident.{major.number}"] >= 1


@in_event_loop
async def test_a_page_that_pings_stays_present_and_a_silent_one_expires(
    major, responder, super_admin, manager
):
    with time_machine.travel(timezone.now(), tick=True) as clock:
        async with opened(responder, major.number) as rita, opened(super_admin, major.number):
            clock.shift(50)
            await rita.ws.send_json_to({"type": "ping"})
            await rita.next("pong")
            clock.shift(20)  # 70 s after both opened, 20 s after rita's ping
            async with opened(manager, major.number) as mona:
                present = usernames(mona.snapshot["presence"])

    assert present == {responder.username, manager.username}


# --- stakeholders ----------------------------------------------------------------------------


@in_event_loop
async def test_a_stakeholder_watches_but_every_write_is_refused(busy_room, stakeholder, manager):
    major = busy_room
    declared, role, task = await db(_room_ids)(major)
    writes = [
        {"type": "note", "text": "hello"},
        {"type": "pin", "event": declared, "pinned": True},
        {"type": "scratchpad", "base_version": 1, "text": "TODO: status, mine"},
        {"type": "role.assign", "role": "scribe", "username": manager.username},
        {"type": "role.release", "id": role},
        {"type": "task.create", "title": "Mine", "assignee": None},
        {"type": "task.update", "id": task, "done": True},
        {"type": "bridge.join"},
        {"type": "bridge.leave"},
    ]
    async with opened(stakeholder, major.number) as stella:
        assert stella.snapshot["major_incident"]["number"] == major.number
        assert stella.snapshot["tasks"][0]["title"] == "Roll back the deploy"
        note = await db(add_note)(major.incident, manager, "ETA 20 minutes")
        await stella.next("timeline", where=lambda m: m["event"]["id"] == note.pk)
        before = await db(_room_state)(major)

        for write in writes:
            error = await stella.error(**write)
            assert error["code"] == "permission_denied", (write, error)

        assert await stella.ws.receive_nothing(timeout=0.3)
        assert await db(_room_state)(major) == before


def _room_ids(major) -> tuple[int, int, int]:
    declared = IncidentEvent.objects.filter(incident_id=major.incident_id).last().pk
    return declared, major.role_assignments.get().pk, major.tasks.get().pk


def _room_state(major) -> dict:
    return selectors.snapshot(MajorIncident.objects.get(pk=major.pk))


# --- malformed messages ----------------------------------------------------------------------


@in_event_loop
async def test_malformed_messages_get_an_error_and_the_socket_stays_open(major, responder):
    async with opened(responder, major.number) as rita:
        for text in ("not json", "[1, 2]", '"note"', "null", "[" * 100_000 + "]" * 100_000):
            await rita.ws.send_to(text_data=text)
            reply = await rita.reply(None)
            assert reply["kind"] == "error" and reply["error"]["code"] == "invalid", text[:20]
        await rita.ws.send_to(bytes_data=b"\x00\x01")
        assert (await rita.reply(None))["error"]["code"] == "invalid"

        for message, field in [
            ({"type": "shout"}, "type"),
            ({"type": 7}, "type"),
            ({"type": "note", "text": 5}, "text"),
            ({"type": "note"}, "text"),
            ({"type": "pin", "event": "first", "pinned": True}, "event"),
            ({"type": "scratchpad", "base_version": "0", "text": "x"}, "base_version"),
            ({"type": "scratchpad", "base_version": 0, "text": ["x"]}, "text"),
            ({"type": "role.assign", "role": "scribe", "username": "ghost"}, "username"),
            ({"type": "role.assign", "role": "scribe", "username": None}, "username"),
            ({"type": "role.assign", "role": ["scribe"], "username": "rita"}, "role"),
            ({"type": "role.release", "id": {"id": 1}}, "id"),
            ({"type": "task.create", "title": "t", "assignee": "ghost"}, "assignee"),
            ({"type": "task.create", "title": None}, "title"),
            ({"type": "task.update", "id": True, "done": True}, "id"),
            ({"type": "note", "text": "nul \x00 byte"}, "text"),
            ({"type": "task.create", "title": "t", "assignee": "ri\x00ta"}, "assignee"),
        ]:
            error = await rita.error(**message)
            assert error["code"] == "invalid", (message, error)
            assert field in error["fields"], (message, error)

        error = await rita.error(type="task.update", id=999_999, done=True)
        assert error["code"] == "not_found"
        await rita.ws.send_json_to({"type": "ping"})
        pong = await rita.next("pong")
        assert set(pong["seqs"]) == {f"warroom.{major.number}", f"incident.{major.number}"}
        result = await rita.ack(type="note", text="still here", ref="n-42")
        assert await db(lambda: IncidentEvent.objects.get(pk=result["event"]).summary)() == (
            "still here"
        )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@in_event_loop
async def test_a_write_that_breaks_is_answered_and_the_socket_stays_open(
    major, responder, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "bridge_join", broken)
    async with opened(responder, major.number) as rita:
        error = await rita.error(type="bridge.join", ref="b-1")
        assert error["code"] == "server_error"
        result = await rita.ack(type="note", text="still connected")
        assert result["event"]


# --- when access ends (itsm/live.py) -------------------------------------------------------


def _notes(major, text: str) -> int:
    return IncidentEvent.objects.filter(incident_id=major.incident_id, summary=text).count()


def _deactivate(user) -> None:
    user.is_active = False
    user.save()


def _stakeholder_group() -> Group:
    return Group.objects.get(name=Role.STAKEHOLDER)


@in_event_loop
async def test_signing_out_closes_that_browsers_page_and_a_note_sent_after_is_not_saved(
    major, responder
):
    laptop, phone = await db(signed_in)(responder), await db(signed_in)(responder)
    async with (
        opened(responder, major.number, browser=laptop) as on_laptop,
        opened(responder, major.number, browser=phone) as on_phone,
    ):
        await db(laptop.post)(reverse("logout"))
        assert await on_laptop.closed() == 4401
        await on_laptop.ws.send_json_to({"type": "note", "text": "after signing out"})
        assert await on_laptop.ws.receive_nothing(timeout=0.5)

        result = await on_phone.ack(type="note", text="from the phone, still signed in")
        assert result["event"]
    assert await db(_notes)(major, "after signing out") == 0


@in_event_loop
async def test_a_deactivated_stakeholder_is_shut_out_and_receives_nothing_more(
    major, stakeholder, manager
):
    async with opened(stakeholder, major.number) as stella:
        await db(_deactivate)(stakeholder)
        assert await stella.closed() == 4401
        await db(add_note)(major.incident, manager, "after the deactivation")
        assert await stella.ws.receive_nothing(timeout=0.5)


@pytest.mark.parametrize(
    "take_away",
    [
        lambda user: user.groups.clear(),
        lambda user: Group.objects.get(name=Role.RESPONDER).user_set.remove(user),
        lambda user: Group.objects.get(name=Role.RESPONDER).user_set.clear(),
    ],
    ids=["user.groups.clear", "group.user_set.remove", "group.user_set.clear"],
)
@in_event_loop
async def test_a_responder_left_with_no_role_is_shut_out_with_4403(
    major, responder, manager, take_away
):
    async with opened(responder, major.number) as rita:
        await db(take_away)(responder)
        assert await rita.closed() == 4403
        await db(add_note)(major.incident, manager, "after the demotion")
        assert await rita.ws.receive_nothing(timeout=0.5)


@in_event_loop
async def test_a_responder_made_stakeholder_keeps_watching_but_may_no_longer_write(
    major, responder, manager
):
    async with opened(responder, major.number) as rita:
        await db(lambda: responder.groups.set([_stakeholder_group()]))()
        error = await rita.error(type="note", text="as a stakeholder now")
        assert error["code"] == "permission_denied"
        note = await db(add_note)(major.incident, manager, "still watched")
        await rita.next("timeline", where=lambda m: m["event"]["id"] == note.pk)
    assert await db(_notes)(major, "as a stakeholder now") == 0


@pytest.mark.parametrize(
    ("revoke", "code"),
    [
        (lambda user: Session.objects.all().delete(), 4401),
        (lambda user: get_user_model().objects.filter(pk=user.pk).update(is_active=False), 4401),
        (lambda user: user.groups.through.objects.filter(user_id=user.pk).delete(), 4403),
    ],
    ids=["session deleted", "deactivated in bulk", "role deleted in bulk"],
)
@in_event_loop
async def test_a_note_after_a_revocation_nobody_announced_is_refused_and_closes_the_page(
    major, responder, revoke, code
):
    """Queryset writes send no signal, so no socket hears of them: the page's next message
    finds out."""
    async with opened(responder, major.number) as rita:
        await db(revoke)(responder)
        await rita.ws.send_json_to({"type": "note", "text": "unannounced", "ref": "late"})
        assert await rita.closed() == code
        assert await rita.ws.receive_nothing(timeout=0.3)
    assert await db(_notes)(major, "unannounced") == 0


HOUR = 3600


@in_event_loop
async def test_a_page_past_the_idle_timeout_is_closed_and_its_note_not_saved(major, responder):
    with time_machine.travel(timezone.now(), tick=True) as clock:
        async with opened(responder, major.number) as rita:
            clock.shift(8 * HOUR + 60)  # SESSION_IDLE_TIMEOUT, without a request or a write
            await rita.ws.send_json_to({"type": "note", "text": "after hours", "ref": "late"})
            assert await rita.closed() == 4401
    assert await db(_notes)(major, "after hours") == 0


@in_event_loop
async def test_writing_keeps_a_page_from_the_idle_timeout_but_pings_do_not(major, responder):
    with time_machine.travel(timezone.now(), tick=True) as clock:
        async with opened(responder, major.number) as rita:
            clock.shift(7 * HOUR)
            await rita.ack(type="note", text="seven hours in")
            clock.shift(7 * HOUR)  # 14 h after sign-in, 7 h after the last write
            await rita.ack(type="note", text="fourteen hours in")
            await rita.ws.send_json_to({"type": "ping"})
            await rita.next("pong")
            clock.shift(8 * HOUR)  # 8 h after the last write, however many pings
            await rita.ws.send_json_to({"type": "ping"})
            assert await rita.closed() == 4401


@in_event_loop
async def test_a_page_past_the_session_lifetime_is_closed_however_busy(major, responder):
    """Each write saves the session (and so moves its stored expiry on): the lifetime holds
    all the same."""
    with time_machine.travel(timezone.now(), tick=True) as clock:
        async with opened(responder, major.number) as rita:
            for _ in range(3):
                clock.shift(7 * HOUR)
                await rita.ack(type="note", text="still at it")
            clock.shift(3 * HOUR + 60)  # SESSION_MAX_LIFETIME (24 h) after sign-in
            await rita.ws.send_json_to({"type": "note", "text": "one more", "ref": "late"})
            assert await rita.closed() == 4401
    assert await db(_notes)(major, "one more") == 0
