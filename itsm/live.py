"""What every live page's websocket shares: it stays open only while its user may see it.

A socket is authenticated once, by the session cookie of its handshake. Left at that, it would
outlive what ends a user's requests: signing out, being deactivated, losing a role. So every
consumer derives from LiveConsumer, which

- joins the user's channel-layer group, to which itsm.receivers send, after the change commits,
  `live.revoked` (signed out, deactivated: the socket closes with 4401) or
  `live.access_changed` (a role taken away: the socket closes with 4403 unless the user may
  still see the page);
- re-reads the user from the session, as a request would, before it acts on anything the page
  sends (`current_user`), so a message lost on its way cannot let a write through.

Neither costs a broadcast event anything: those never touch the database here.

It also keeps the page from missing anything: the groups the page follows (`follow`) number
their messages (itsm.realtime), and each snapshot and each answer to a ping carries the
groups' positions (`seqs`). A page that sees a gap, or a position ahead of what it heard,
asks for a snapshot again (`{"type": "resync", "query": {...}}`, the parameters of a
reconnection), which the subclass reads from the database (`read_snapshot`).
"""

import hashlib
import time
from importlib import import_module
from types import SimpleNamespace
from urllib.parse import urlencode

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from itsm import realtime
from itsm.errors import ValidationFailed
from itsm.sessions import expiry_reason, note_activity

NOT_SIGNED_IN, NO_ROLE = 4401, 4403


def user_group(user_id: int) -> str:
    return realtime.group_name("user", user_id)


def session_digest(session_key: str) -> str:
    """Names a session in a channel-layer message without its key, which would sign anyone in."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def revoke(user_id: int, *, session_key: str | None = None) -> None:
    """Once the transaction commits, close the user's sockets: those opened with the session
    `session_key`, or every one."""
    digest = session_digest(session_key) if session_key else None
    _tell(user_id, {"type": "live.revoked", "session": digest})


def access_changed(user_id: int) -> None:
    """Once the transaction commits, have the user's sockets check that the user may still see
    their pages."""
    _tell(user_id, {"type": "live.access_changed"})


def _tell(user_id: int, message: dict) -> None:
    transaction.on_commit(lambda: realtime.send(user_group(user_id), message))


def refusal(user, permission: str) -> int | None:
    """The close code that refuses `user` a page that needs `permission`, or None."""
    if not user.is_authenticated:
        return NOT_SIGNED_IN
    if not user.has_perm(permission):
        return NO_ROLE
    return None


class _SessionRecord(dict):
    """A session's data, for auth.get_user to judge. What get_user would change on the way
    (flush a session whose password hash is stale, re-key one signed with an old secret) is
    left to the browser's next request: a socket only reads the session."""

    def flush(self):
        pass

    def cycle_key(self):
        pass


def session_user(session_key: str | None, *, active: bool = False):
    """The session's user now, checked as for a request: AnonymousUser once the session is gone
    (signed out, expired), past its idle or absolute timeout (itsm.sessions), the user
    deactivated or their password changed. `active`: the page did something, which counts as
    activity against the idle timeout, as a request would."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    now = time.time()
    if SESSION_KEY in store and expiry_reason(store, now):
        return AnonymousUser()
    if active and SESSION_KEY in store:
        note_activity(store, now)
        if store.modified:
            store.save()
    return auth.get_user(SimpleNamespace(session=_SessionRecord(store.items())))


def _recheck(session_key: str | None, permission: str, active: bool):
    """(close code or None, the session's user now)."""
    user = session_user(session_key, active=active)
    return refusal(user, permission), user


def resync_query(message: dict) -> bytes:
    """The query string of a `resync` message's `query` (names and numbers or texts), to be
    read as a reconnection's."""
    query = message.get("query", {})
    if not isinstance(query, dict) or not all(
        isinstance(value, str | int) and not isinstance(value, bool) for value in query.values()
    ):
        raise ValidationFailed.for_fields({"query": "Must be an object of texts and numbers."})
    return urlencode(query).encode()


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """A websocket of a live page, open while its user may see the page.

    A subclass names the `view_permission` the page needs, admits the user with `refusal` when
    it connects, calls `open_for(user)` once admitted, `follow(groups)` and `send_snapshot`,
    and takes its user from `current_user()` for everything the page sends. `user` is None
    before and once the socket is closing: the subclass then sends the page nothing.
    """

    view_permission: str
    user = None
    groups: tuple[str, ...] = ()
    _access_group: str | None = None

    async def open_for(self, user) -> None:
        """From now on, the page is open for `user`, and closes when their access ends."""
        self.user = user
        self._access_group = user_group(user.pk)
        await self.channel_layer.group_add(self._access_group, self.channel_name)

    async def follow(self, groups) -> None:
        """The page hears every message to `groups`."""
        self.groups = tuple(groups)
        await self.rejoin()

    async def rejoin(self) -> None:
        """Join the page's groups (again: a Redis that restarted forgot them, and its
        members' sockets may have outlived the restart)."""
        for group in (self._access_group, *self.groups):
            if group is not None:
                await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code):
        for group in (self._access_group, *self.groups):
            if group is not None:
                await self.channel_layer.group_discard(group, self.channel_name)

    def read_snapshot(self, query_string: bytes) -> dict:
        """The page's snapshot, read from the database for a (re)connection with these
        parameters; run in the database thread."""
        raise NotImplementedError

    async def send_snapshot(self, query_string: bytes) -> None:
        """The snapshot, with the positions of the page's groups read first: whatever was
        numbered up to them had committed before the snapshot was read, so the page skips
        those messages."""
        seqs = await realtime.positions(self.groups)
        snapshot = await database_sync_to_async(self.read_snapshot)(query_string)
        await self.send_json({**snapshot, "seqs": seqs})

    async def pong(self) -> None:
        """The answer to a ping: the groups' positions, for a quiet page to compare (a lost
        last message shows there)."""
        await self.rejoin()
        await self.send_json({"kind": "pong", "seqs": await realtime.positions(self.groups)})

    async def shut(self, code: int) -> None:
        """Close the socket; the page gets nothing more."""
        self.user = None
        await self.close(code=code)

    async def current_user(self, *, active: bool = True):
        """The page's user as of now, or None (and the socket closing) when they may no longer
        see the page. A few queries: for what the page sends, never for what it receives.
        `active`: what the page sent was a person's doing (not a keep-alive ping), which keeps
        the session from its idle timeout."""
        if self.user is None:
            return None
        session_key = self.scope["session"].session_key
        code, user = await database_sync_to_async(_recheck)(
            session_key, self.view_permission, active
        )
        if code is not None:
            await self.shut(code)
            return None
        self.user = user
        return user

    async def dispatch(self, message):
        """Live events go straight to the page. Channels' dispatch would first hop to the
        database thread to close stale connections, for every page and every event: half the
        cost of a delivery, and every delivery queued behind one thread
        (docs/benchmarks.md)."""
        if message["type"] == "realtime.event":
            await self.realtime_event(message)
        else:
            await super().dispatch(message)

    async def realtime_event(self, message):
        """A change published by any process (itsm.realtime.publish), already encoded; none
        once the socket is closing."""
        if self.user is not None:
            await self.send(text_data=message["text"])

    async def live_revoked(self, message):
        if self.user is not None and message["session"] in (None, self._session_digest()):
            await self.shut(NOT_SIGNED_IN)

    async def live_access_changed(self, message):
        await self.current_user()

    def _session_digest(self) -> str | None:
        session_key = self.scope["session"].session_key
        return session_digest(session_key) if session_key else None
