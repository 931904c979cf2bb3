"""Driving the war room's websocket in tests, through the whole ASGI application: a signed-in
page that has received its snapshot (`opened`), the messages it sends and waits for, and the
close code of a refused one. A test that uses them is transactional, runs `in_event_loop`, and
uses `fresh_channel_layers`."""

import asyncio
import functools
from contextlib import asynccontextmanager

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from itsm.asgi import application

WAIT = 5  # seconds a page waits for a message that should come
HOST = b"testserver"
TESTSERVER = b"http://testserver"  # the origin of the portal's pages, served on HOST
db = database_sync_to_async


def in_event_loop(test):
    """Run an async test in one event loop (a Redis layer's connections belong to the loop
    they were made on); its database calls come back to this thread, the test database's."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        async_to_sync(test)(*args, **kwargs)

    return run


def signed_in(user) -> Client:
    """A browser signed in as `user`, with a session of its own."""
    browser = Client()
    browser.force_login(user)
    return browser


def session_cookie(browser: Client) -> bytes:
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={browser.cookies[name].value}".encode()


def communicator(
    user,
    number: str,
    *,
    query: str = "",
    origin: bytes | None = TESTSERVER,
    host: bytes = HOST,
    scheme: str = "ws",
    headers=(),
    browser: Client | None = None,
    client: tuple[str, int] | None = None,
):
    """A handshake from a page at `origin` (none: None) to the portal at `host` over `scheme`
    (wss: TLS), with `headers` (name and value pairs) besides, carrying the session cookie of
    `browser`, or of a new browser signed in as `user` (None: no cookie), from the peer address
    `client` (None: none given)."""
    headers = [(b"host", host), *headers]
    if origin is not None:
        headers.append((b"origin", origin))
    if browser is None and user is not None:
        browser = signed_in(user)
    if browser is not None:
        headers.append((b"cookie", session_cookie(browser)))
    ws = WebsocketCommunicator(application, f"/ws/warroom/{number}/{query}", headers=headers)
    ws.scope["scheme"] = scheme  # no argument for it; the application starts on first use
    if client is not None:
        ws.scope["client"] = client
    return ws


class Page:
    """One open war-room page."""

    def __init__(self, ws: WebsocketCommunicator):
        self.ws = ws
        self.snapshot: dict = {}

    async def next(self, *kinds: str, where=lambda message: True) -> dict:
        """The next message of one of `kinds` that matches `where`, skipping the others."""
        skipped = []
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    message = await self.ws.receive_json_from(timeout=WAIT)
                    if message["kind"] in kinds and where(message):
                        return message
                    skipped.append(message)
        except TimeoutError:
            pytest.fail(f"no {' or '.join(kinds)} message came; got {skipped}")

    async def closed(self) -> int:
        """The code the server closes the socket with, skipping the messages before it."""
        skipped = []
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    output = await self.ws.receive_output(timeout=WAIT)
                    if output["type"] == "websocket.close":
                        return output["code"]
                    skipped.append(output)
        except TimeoutError:
            pytest.fail(f"the socket stayed open; got {skipped}")

    async def reply(self, ref=None) -> dict:
        return await self.next("ack", "error", where=lambda message: message["ref"] == ref)

    async def send(self, **message) -> dict:
        """Send a message; its ack or error."""
        message.setdefault("ref", message["type"])
        await self.ws.send_json_to(message)
        return await self.reply(message["ref"])

    async def ack(self, **message):
        reply = await self.send(**message)
        assert reply["kind"] == "ack", reply
        return reply["result"]

    async def error(self, **message) -> dict:
        reply = await self.send(**message)
        assert reply["kind"] == "error", reply
        assert set(reply["error"]) == {"code", "message", "fields"}, reply
        return reply["error"]


@asynccontextmanager
async def opened(user, number: str, *, query: str = "", browser: Client | None = None):
    """A page of the room, signed in as `user` (in `browser`, or a new one), that has received
    its snapshot (the first message)."""
    ws = await db(communicator)(user, number, query=query, browser=browser)
    async with connected_page(ws) as page:
        yield page


@asynccontextmanager
async def connected_page(ws: WebsocketCommunicator):
    """The page of the handshake `ws`, connected, once it has received its snapshot (the first
    message); disconnected at the end."""
    connected, _ = await ws.connect(timeout=WAIT)
    assert connected
    page = Page(ws)
    try:
        page.snapshot = await ws.receive_json_from(timeout=WAIT)
        assert page.snapshot["kind"] == "snapshot", page.snapshot
        yield page
    finally:
        await ws.disconnect()


async def close_code(user, number: str, **handshake) -> int | None:
    """The code the server closes the socket with, or None when it never accepted it.
    `handshake`: as for `communicator`."""
    ws = await db(communicator)(user, number, **handshake)
    connected, _ = await ws.connect(timeout=WAIT)
    if not connected:
        return None
    closed = await ws.receive_output(timeout=WAIT)
    assert closed["type"] == "websocket.close", closed
    await ws.disconnect()
    return closed["code"]
