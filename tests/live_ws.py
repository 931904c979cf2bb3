"""Driving the live pages' websockets (`ws/incidents/`, `ws/incidents/<NUMBER>/`,
`ws/notifications/`) in tests, through the whole ASGI application, as tests/warroom/_ws.py does
the war room's. A test that uses them is transactional, runs `in_event_loop`, and uses
`fresh_channel_layers`."""

from contextlib import asynccontextmanager

from channels.testing import WebsocketCommunicator

from itsm.asgi import application
from tests.warroom._ws import (
    HOST,
    TESTSERVER,
    WAIT,
    Page,
    connected_page,
    db,
    session_cookie,
    signed_in,
)

QUIET = 0.5  # seconds a page waits to be sure nothing comes


def communicator(user, path: str) -> WebsocketCommunicator:
    """A handshake from a portal page to `path`, with the session cookie of a new browser
    signed in as `user` (None: no cookie)."""
    headers = [(b"host", HOST), (b"origin", TESTSERVER)]
    if user is not None:
        headers.append((b"cookie", session_cookie(signed_in(user))))
    return WebsocketCommunicator(application, path, headers=headers)


@asynccontextmanager
async def listening(user, path: str):
    """A page at `path` signed in as `user` that has received its snapshot."""
    ws = await db(communicator)(user, path)
    async with connected_page(ws) as page:
        yield page


async def close_code(user, path: str) -> int:
    """The code the server closes a page at `path` signed in as `user` with."""
    ws = await db(communicator)(user, path)
    connected, _ = await ws.connect(timeout=WAIT)
    assert connected
    closed = await ws.receive_output(timeout=WAIT)
    assert closed["type"] == "websocket.close", closed
    await ws.disconnect()
    return closed["code"]


async def receives_nothing(page: Page) -> bool:
    return await page.ws.receive_nothing(timeout=QUIET)
