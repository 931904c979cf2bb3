"""Redis restarts with live pages open: every event written before, during and after the
restart reaches every page, in order, once (docs/operations.md, "When Redis restarts"); and a
publish whose pooled connection died with the restart is tried again and arrives.

The Redis is the test's own (tests/faults.py), holding the channel layer only; the pages are
the portal's incident pages through the whole ASGI application, each followed as
static/js/live.js follows one: numbered messages in order, a resync after a gap or behind a
pong, a reconnection with `since` when the socket drops."""

import asyncio
import contextlib
import json
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels_redis.core import RedisChannelLayer

from incidents import services
from incidents.choices import ChangeSource
from incidents.models import IncidentEvent
from itsm import realtime
from tests.browser import free_port
from tests.faults import MISSING_REDIS, REDIS_SERVER, PrivateRedis
from tests.live_ws import communicator
from tests.warroom._ws import WAIT, db, in_event_loop

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(REDIS_SERVER is None, reason=MISSING_REDIS),
]

PAGES = 3  # incident pages, besides one dashboard
PING_EVERY = 0.3  # seconds: a page's ping (live.js: 20 s), so that the test is short
IN_FLIGHT = 0.6  # a pong ahead of the page by a message still on its way: wait this long
NOTES = 4  # written before, during and after the restart, each


@pytest.fixture
def private_redis(settings):
    """A Redis of this test's own behind the channel layer, as production configures it."""
    redis = PrivateRedis(free_port(range(19400, 19500)))
    redis.start()
    settings.CHANNEL_LAYERS = layer_settings(settings, redis.url)
    channel_layers.backends.clear()
    try:
        yield redis
    finally:
        channel_layers.backends.clear()
        redis.stop()


def layer_settings(settings, url: str, **options) -> dict:
    host = {"address": url, **settings.CHANNEL_REDIS_OPTIONS, **options}
    config = {"hosts": [host], "prefix": "fault"}
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}


async def restart(redis: PrivateRedis, *, down: float = 0.0) -> None:
    """Kill Redis (it keeps nothing: groups and counts go too), and start it again `down`
    seconds later on the same port."""
    redis.stop()
    await asyncio.sleep(down)
    await asyncio.to_thread(redis.start)


# --- a publish on a dead pooled connection ---------------------------------------------------


@pytest.mark.parametrize("layer_retries", [True, False], ids=["as-configured", "no-layer-retry"])
@in_event_loop
async def test_a_publish_on_a_connection_redis_dropped_is_tried_again_and_arrives(
    private_redis, settings, layer_retries, caplog
):
    """Without the channel layer's own retry, itsm.realtime's alone carries the publish."""
    if not layer_retries:
        settings.CHANNEL_LAYERS = layer_settings(settings, private_redis.url, retry=None)
        channel_layers.backends.clear()
    publish = sync_to_async(realtime.send)
    await publish("warm", {"type": "test.message"})  # the pool holds a connection now
    await restart(private_redis)

    # Another process's page: a layer with a pool of its own, opened after the restart.
    page = RedisChannelLayer(hosts=[private_redis.url], prefix="fault")
    channel = await page.new_channel()
    await page.group_add("after-restart", channel)
    await publish("after-restart", {"type": "test.message"})

    message = await asyncio.wait_for(page.receive(channel), WAIT)
    assert message["stream"] == "after-restart"
    assert message["seq"] == (await realtime.positions(["after-restart"]))["after-restart"]
    assert "failed" not in caplog.text
    if not layer_retries:
        assert "trying again on a fresh connection" in caplog.text
    await page.flush()
    await get_channel_layer().close_pools()


# --- pages through a restart -----------------------------------------------------------------


class FollowedPage:
    """One live page, kept as static/js/live.js keeps it, that records the timeline events it
    shows (each once, as the pages do: by id)."""

    def __init__(self, user, path: str):
        self.user = user
        self.path = path
        self.shown: list[int] = []
        self.seqs: dict[str, int] = {}
        self.ahead: dict[str, tuple[int, float]] = {}  # a pong's position, and when it came
        self.resyncing = False
        self.reconnections = -1
        self.resyncs = 0
        self.ws = None

    def show(self, event_id: int) -> None:
        if event_id not in self.shown:
            self.shown.append(event_id)

    def query(self) -> dict:
        return {"since": str(max(self.shown))} if self.shown else {}

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.connect()
                await self.listen(stop)
            except Exception:  # the socket dropped (its consumer lost Redis): reconnect
                await asyncio.sleep(0.2)
            finally:
                with contextlib.suppress(Exception):
                    await self.ws.disconnect()

    async def connect(self) -> None:
        self.reconnections += 1
        query = "&".join(f"{name}={value}" for name, value in self.query().items())
        self.ws = await db(communicator)(self.user, f"{self.path}?{query}")
        connected, _ = await self.ws.connect(timeout=WAIT)
        assert connected
        self.resyncing = False

    async def listen(self, stop: asyncio.Event) -> None:
        pinged = 0.0
        while not stop.is_set():
            if self.ws.future.done():
                self.ws.future.result()  # raises what ended the consumer
                return
            if time.monotonic() - pinged > PING_EVERY:
                pinged = time.monotonic()
                await self.ws.send_json_to({"type": "ping"})
            if await self.ws.receive_nothing(timeout=0.05):
                continue
            output = await self.ws.receive_output()
            if output["type"] == "websocket.close":
                return
            await self.heard(json.loads(output["text"]))

    async def heard(self, message: dict) -> None:
        kind = message["kind"]
        if kind == "snapshot":
            self.seqs = dict(message["seqs"])
            self.ahead.clear()
            self.resyncing = False
            for payload in message["events"]:
                self.show(payload["event"]["id"])
        elif kind == "pong":
            if self.behind(message["seqs"]):
                await self.resync()
        elif kind == "timeline" and await self.in_order(message):
            self.show(message["event"]["id"])

    async def in_order(self, message: dict) -> bool:
        if self.resyncing:
            return False
        stream, seq = message["stream"], message["seq"]
        last = self.seqs.get(stream, 0)
        if seq <= last:
            return False
        if seq > last + 1:
            await self.resync()
            return False
        self.seqs[stream] = seq
        return True

    def behind(self, positions: dict) -> bool:
        """A pong's positions: lower than the page's (Redis lost its counts), or ahead of it
        for longer than a message takes to arrive."""
        now = time.monotonic()
        for stream, seq in positions.items():
            last = self.seqs.get(stream, 0)
            if seq < last:
                return True
            if seq == last:
                self.ahead.pop(stream, None)
                continue
            seen, since = self.ahead.setdefault(stream, (seq, now))
            if now - since > IN_FLIGHT and last < seen:
                return True
        return False

    async def resync(self) -> None:
        if self.resyncing:
            return
        self.resyncing = True
        self.resyncs += 1
        self.ahead.clear()
        await self.ws.send_json_to({"type": "resync", "query": self.query()})


def note(incident, actor, text: str) -> int:
    return services.incident_add_note(
        incident=incident, actor=actor, source=ChangeSource.API, text=text
    ).pk


def since(page: FollowedPage, first: int) -> list[int]:
    """The events `page` shows that were written after event `first` (the page was rendered
    with those before; a catch-up sends a few of them again: incidents.timeline.events_since)."""
    return [event_id for event_id in page.shown if event_id > first]


def events_after(event_id: int) -> list[int]:
    return list(
        IncidentEvent.objects.filter(pk__gt=event_id).order_by("pk").values_list("pk", flat=True)
    )


@pytest.mark.parametrize("down", [0.0, 1.5], ids=["blip", "down-1.5s"])
@in_event_loop
async def test_every_event_reaches_every_page_in_order_once_through_a_redis_restart(
    private_redis, incident, responder, manager, down
):
    """Down for a moment, the pages' sockets mostly outlive the restart (the layer's receive
    reconnects) but their groups and counts are gone: they rejoin and resync at their next
    ping. Down for longer, the sockets drop and the pages reconnect."""
    first = await db(
        lambda: IncidentEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    )()
    path = f"/ws/incidents/{incident.number}/"
    pages = [FollowedPage(manager, path) for _ in range(PAGES)]
    pages.append(FollowedPage(manager, "/ws/incidents/"))
    stop = asyncio.Event()
    tasks = [asyncio.ensure_future(page.follow(stop)) for page in pages]
    try:
        await asyncio.sleep(1)  # every page open
        for n in range(NOTES):
            await db(note)(incident, responder, f"before {n}")
        await asyncio.sleep(0.5)

        private_redis.stop()  # the pages' consumers lose Redis, and the publishes fail
        for n in range(NOTES if down else 0):
            await db(note)(incident, responder, f"while down {n}")
        await asyncio.sleep(down)
        await asyncio.to_thread(private_redis.start)
        for n in range(NOTES):
            await db(note)(incident, responder, f"after {n}")

        written = await db(events_after)(first)
        assert len(written) == (3 if down else 2) * NOTES
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(since(p, first) != written for p in pages):
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    for page in pages:
        assert since(page, first) == written, (page.path, page.reconnections, page.resyncs)
    print("reconnections and resyncs:", [(p.reconnections, p.resyncs) for p in pages])
