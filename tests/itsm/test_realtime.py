import asyncio
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from incidents import services
from incidents.choices import ChangeSource


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
