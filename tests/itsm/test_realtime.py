import asyncio
import json
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from redis.exceptions import ConnectionError as RedisConnectionError

from incidents import services
from incidents.choices import ChangeSource
from itsm import realtime


@pytest.fixture
def layer(fresh_channel_layers):
    return get_channel_layer()


def _subscribe(layer, group):
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def test_a_committed_write_reaches_the_incident_and_list_groups(
    layer, responder, incident, django_capture_on_commit_callbacks
):
    on_incident = _subscribe(layer, f"incident.{incident.number}")
    on_list = _subscribe(layer, "incidents")

    with django_capture_on_commit_callbacks(execute=True):
        services.incident_acknowledge(incident=incident, actor=responder, source=ChangeSource.API)

    for channel in (on_incident, on_list):
        message = async_to_sync(layer.receive)(channel)
        assert message["type"] == "realtime.event"
        event = json.loads(message["text"])
        assert event["incident"] == incident.number
        assert event["status"] == "acknowledged"
        assert event["event"]["summary"] == f"Acknowledged by {responder.username}"


def test_publishing_waits_for_the_commit(
    layer, responder, incident, django_capture_on_commit_callbacks
):
    channel = _subscribe(layer, f"incident.{incident.number}")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.incident_acknowledge(incident=incident, actor=responder, source=ChangeSource.API)
    message = async_to_sync(_silent_until_committed)(layer, channel, callbacks)
    assert json.loads(message["text"])["status"] == "acknowledged"


async def _silent_until_committed(layer, channel, callbacks):
    """One event loop throughout: a Redis layer's receive is bound to the loop it ran on."""
    with pytest.raises(TimeoutError):  # not committed yet: nothing has been sent
        await asyncio.wait_for(layer.receive(channel), 0.2)
    for callback in callbacks:
        await sync_to_async(callback)()
    return await asyncio.wait_for(layer.receive(channel), 2)


# --- numbered messages ---------------------------------------------------------------------------


def test_each_group_numbers_its_messages_one_by_one(
    layer, responder, incident, django_capture_on_commit_callbacks
):
    page = f"incident.{incident.number}"
    on_incident = _subscribe(layer, page)
    on_list = _subscribe(layer, "incidents")
    before = async_to_sync(realtime.positions)([page, "incidents"])
    started_ms = int(time.time() * 1000)

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            services.incident_add_note(
                incident=incident, actor=responder, source=ChangeSource.API, text="note"
            )

    last = {}
    for channel, stream in ((on_incident, page), (on_list, "incidents")):
        heard = [json.loads(async_to_sync(layer.receive)(channel)["text"]) for _ in range(2)]
        first, second = (message["seq"] for message in heard)
        assert [message["stream"] for message in heard] == [stream, stream]
        assert second == first + 1
        # A group Redis had no count for starts above any number it had: the time in ms.
        assert first == before[stream] + 1 or (before[stream] == 0 and first > started_ms)
        last[stream] = second
    assert async_to_sync(realtime.positions)([page]) == {page: last[page]}


def test_a_send_that_fails_leaves_a_gap_the_next_message_shows(layer, monkeypatch, caplog):
    channel = _subscribe(layer, "gap-test")
    realtime.send("gap-test", {"type": "test.message"})
    first = async_to_sync(layer.receive)(channel)

    real_send = layer.group_send

    async def broken(group, message):
        raise RuntimeError("the layer is broken")

    monkeypatch.setattr(layer, "group_send", broken)
    realtime.send("gap-test", {"type": "test.message"})  # logged, not raised
    assert "realtime publish to gap-test failed" in caplog.text
    monkeypatch.setattr(layer, "group_send", real_send)
    realtime.send("gap-test", {"type": "test.message"})

    third = async_to_sync(layer.receive)(channel)
    assert third["seq"] == first["seq"] + 2  # the page sees that one went missing
    assert async_to_sync(realtime.positions)(["gap-test"]) == {"gap-test": third["seq"]}


def test_a_send_whose_connection_fails_is_tried_again_and_arrives(layer, monkeypatch, caplog):
    channel = _subscribe(layer, "retry-test")
    real_send = layer.group_send
    failures = []

    async def dead_then_alive(group, message):
        if not failures:
            failures.append(group)
            raise RedisConnectionError("Connection closed by server.")
        await real_send(group, message)

    monkeypatch.setattr(layer, "group_send", dead_then_alive)
    realtime.send("retry-test", {"type": "test.message"})

    message = async_to_sync(layer.receive)(channel)
    assert (message["type"], message["stream"]) == ("test.message", "retry-test")
    assert failures == ["retry-test"]
    assert caplog.text.count("trying again on a fresh connection") == 1
    assert "failed" not in caplog.text


def test_a_send_that_fails_again_is_logged(layer, monkeypatch, caplog):
    async def dead(group, message):
        raise RedisConnectionError("Connection refused.")

    monkeypatch.setattr(layer, "group_send", dead)
    realtime.send("retry-test", {"type": "test.message"})
    assert caplog.text.count("trying again on a fresh connection") == 1
    assert "realtime publish to retry-test failed" in caplog.text


# --- coalesced work ------------------------------------------------------------------------------


def test_coalesced_work_runs_once_per_burst_and_again_after_it():
    async def burst():
        runs = []

        async def work():
            runs.append(len(runs))

        for _ in range(50):
            realtime.coalesced("burst", 0.05, work)
        await asyncio.sleep(0.2)
        realtime.coalesced("burst", 0.05, work)
        await asyncio.sleep(0.2)
        return runs

    assert async_to_sync(burst)() == [0, 1]


def test_a_publish_that_could_not_be_numbered_is_sent_before_the_next(layer, monkeypatch, caplog):
    """Redis unreachable from this process: no number was used, so no page could see a gap;
    the publish is kept and goes out, late and in order, before this process's next one."""
    channel = _subscribe(layer, "unnumbered-test")
    real_next_seq = realtime._next_seq

    async def unreachable(layer, group):
        raise RedisConnectionError("Connection refused.")

    monkeypatch.setattr(realtime, "_next_seq", unreachable)
    realtime.publish("unnumbered-test", {"kind": "first"})
    assert "not numbered; kept for later" in caplog.text
    monkeypatch.setattr(realtime, "_next_seq", real_next_seq)
    realtime.publish("unnumbered-test", {"kind": "second"})

    received = [json.loads(async_to_sync(layer.receive)(channel)["text"]) for _ in range(2)]
    assert [m["kind"] for m in received] == ["first", "second"]
    assert received[1]["seq"] == received[0]["seq"] + 1
