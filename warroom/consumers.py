"""The war room's websocket: docs/warroom-protocol.md is its contract.

A page joins the room's groups, gets one snapshot, then every change live. What it writes goes
through warroom.services like any other write, so permissions, validation, the timeline and
the pushes to every other page are the services' business; this only translates messages.
Whether the page may stay open at all (its user signed out, deactivated, demoted) is
itsm.live's: every message the page sends is acted on as the session's user of that moment.
"""

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder

from incidents.choices import ChangeSource
from itsm import live, realtime
from itsm.errors import ApplicationError, ValidationFailed
from warroom import selectors, services
from warroom.models import VIEW_PERMISSION, MajorIncident

logger = logging.getLogger(__name__)

NO_SUCH_ROOM = 4404
# The room hears who is present at most this often (`presence_changed`).
PRESENCE_EVERY_SECONDS = 1.0
SOURCE = ChangeSource.PORTAL
# An event id a reconnecting page passes; anything else (or a number too big for a key) is
# ignored and the page gets the latest events.
EVENT_ID = re.compile(r"\d{1,18}")
# Half of a UTF-16 surrogate pair: JSON can carry one ("\ud800"), but no UTF-8 text can, so no
# database can store it or compare with it.
SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Page:
    """Who is writing, from which socket, in which room."""

    major: MajorIncident
    user: object
    channel_name: str

    @property
    def service_args(self) -> dict:
        """The room, the writer and the source: what most war-room services take (pinning and
        the scratchpad record no source)."""
        return {"major": self.major, "actor": self.user, "source": SOURCE}


# --- reading a message's fields ----------------------------------------------------------------


def _invalid(name: str, reason: str) -> ValidationFailed:
    return ValidationFailed.for_fields({name: reason})


def _id(message: dict, name: str) -> int:
    value = message.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, "Must be an id (a whole number).")
    return value


def _user(message: dict, name: str, *, nullable: bool):
    """The user a username field names (None for null when `nullable`)."""
    username = message.get(name)
    if username is None and nullable:
        return None
    if not isinstance(username, str) or "\x00" in username:
        raise _invalid(name, "Must be a username.")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise _invalid(name, f"No user {username!r}.")
    return user


def _changes(message: dict) -> dict:
    """The fields a task.update changes: only those present in the message."""
    changes = {name: message[name] for name in ("title", "done") if name in message}
    if "assignee" in message:
        changes["assignee"] = _user(message, "assignee", nullable=True)
    return changes


# --- one function per message type: each returns the `result` of its ack --------------------


def _ping(page: Page, message: dict) -> None:
    services.presence_touch(channel_name=page.channel_name)


def _note(page: Page, message: dict) -> dict:
    event = services.note_add(**page.service_args, text=message.get("text"))
    return {"event": event.pk}


def _pin(page: Page, message: dict) -> dict:
    event = services.event_pin(
        major=page.major,
        actor=page.user,
        event_id=_id(message, "event"),
        pinned=message.get("pinned"),
    )
    return {"event": event.pk, "pinned": event.pinned}


def _scratchpad(page: Page, message: dict) -> dict:
    return services.scratchpad_update(
        major=page.major,
        actor=page.user,
        base_version=message.get("base_version"),
        text=message.get("text"),
    )


def _role_assign(page: Page, message: dict) -> dict:
    assignment = services.role_assign(
        **page.service_args,
        role=message.get("role"),
        user=_user(message, "username", nullable=False),
    )
    return {"id": assignment.pk}


def _role_release(page: Page, message: dict) -> None:
    services.role_release(**page.service_args, assignment_id=_id(message, "id"))


def _task_create(page: Page, message: dict) -> dict:
    task = services.task_create(
        **page.service_args,
        title=message.get("title"),
        assignee=_user(message, "assignee", nullable=True),
    )
    return {"id": task.pk}


def _task_update(page: Page, message: dict) -> dict:
    task = services.task_update(
        **page.service_args, task_id=_id(message, "id"), **_changes(message)
    )
    return {"id": task.pk}


def _bridge_join(page: Page, message: dict) -> None:
    services.bridge_join(**page.service_args)


def _bridge_leave(page: Page, message: dict) -> None:
    services.bridge_leave(**page.service_args)


HANDLERS = {
    "ping": _ping,
    "note": _note,
    "pin": _pin,
    "scratchpad": _scratchpad,
    "role.assign": _role_assign,
    "role.release": _role_release,
    "task.create": _task_create,
    "task.update": _task_update,
    "bridge.join": _bridge_join,
    "bridge.leave": _bridge_leave,
}


def _handler(message) -> Callable[[Page, dict], object]:
    if not isinstance(message, dict):
        raise ValidationFailed("Messages are JSON objects.")
    kind = message.get("type")
    handler = HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        raise _invalid("type", f"Must be one of {', '.join(HANDLERS)}.")
    _refuse_surrogates(message)
    return handler


def _refuse_surrogates(message: dict) -> None:
    """A field's text with an unpaired surrogate is refused, as the API refuses it, rather
    than failing at the write (`server_error`)."""
    for name, value in message.items():
        found = SURROGATE.search(value) if isinstance(value, str) else None
        if found:
            raise _invalid(name, f"Surrogate characters are not allowed: U+{ord(found[0]):04X}.")


def _handler_name(message) -> str | None:
    return message.get("type") if isinstance(message, dict) else None


class ServerError(ApplicationError):
    status = 500
    code = "server_error"


# --- opening the room ------------------------------------------------------------------------


def _since(query_string: bytes) -> int | None:
    values = parse_qs(query_string.decode("latin-1")).get("since", [])
    return int(values[-1]) if values and EVENT_ID.fullmatch(values[-1]) else None


def _admit(user, number: str) -> tuple[int | None, MajorIncident | None]:
    """The close code that refuses this user, or the room they may enter."""
    refusal = live.refusal(user, VIEW_PERMISSION)
    if refusal is not None:
        return refusal, None
    major = selectors.major_incident_queryset().filter(incident__number=number).first()
    return (NO_SUCH_ROOM, None) if major is None else (None, major)


def _enter(page: Page) -> None:
    services.presence_enter(major=page.major, user=page.user, channel_name=page.channel_name)


def _leave(page: Page) -> None:
    services.presence_leave(major=page.major, channel_name=page.channel_name)


def presence_changed(major: MajorIncident) -> None:
    """Tell the room who is present, once per PRESENCE_EVERY_SECONDS however many pages came
    and went meanwhile: a hundred pages opening at once make one message to each page, not a
    hundred (each longer than the last)."""
    publish = database_sync_to_async(services.presence_publish)
    realtime.coalesced(
        f"presence.{major.number}",
        PRESENCE_EVERY_SECONDS,
        lambda: publish(major_id=major.pk, number=major.number),
    )


class WarRoomConsumer(live.LiveConsumer):
    view_permission = VIEW_PERMISSION
    page: Page | None = None

    async def connect(self):
        number = self.scope["url_route"]["kwargs"]["number"]
        refusal, major = await database_sync_to_async(_admit)(self.scope["user"], number)
        await self.accept()
        if refusal is not None:
            await self.close(code=refusal)
            return
        self.page = Page(major=major, user=self.scope["user"], channel_name=self.channel_name)
        await self.open_for(self.page.user)
        await self.follow([services.warroom_group(number), realtime.group_name("incident", number)])
        await database_sync_to_async(_enter)(self.page)
        await self.send_snapshot(self.scope.get("query_string", b""))
        presence_changed(major)

    def read_snapshot(self, query_string: bytes) -> dict:
        """Read fresh: the room may have changed since the page was admitted."""
        major = selectors.major_incident_queryset().get(pk=self.page.major.pk)
        return selectors.snapshot(major, since_event=_since(query_string))

    async def disconnect(self, code):
        await super().disconnect(code)
        if self.page is None:
            return
        await database_sync_to_async(_leave)(self.page)
        presence_changed(self.page.major)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Text that is not JSON (or a binary frame) is answered like any malformed message."""
        if self.user is None:  # refused or revoked, and closing
            return
        try:
            message = json.loads(text_data) if text_data is not None else None
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            message = None
        await self.receive_json(message)

    async def receive_json(self, content, **kwargs):
        kind = _handler_name(content)
        try:
            user = await self.current_user(active=kind not in ("ping", "resync"))
            if user is None:  # the user's access has ended: the socket is closing
                return
            if kind == "resync":
                await self.send_snapshot(live.resync_query(content))
                return
            handler = _handler(content)
            result = await database_sync_to_async(handler)(replace(self.page, user=user), content)
        except ApplicationError as error:
            await self._send_error(content, error)
            return
        except Exception:
            # A bug or a database outage: this write failed, but the page keeps its socket.
            logger.exception("war-room message %r failed", kind)
            await self._send_error(content, ServerError("The server could not do this; try again."))
            return
        if kind == "ping":
            await self.pong()
        else:
            await self.send_json({"kind": "ack", "ref": content.get("ref"), "result": result})

    async def _send_error(self, content, error: ApplicationError) -> None:
        ref = content.get("ref") if isinstance(content, dict) else None
        await self.send_json({"kind": "error", "ref": ref, **error.as_dict()})

    @classmethod
    async def encode_json(cls, content) -> str:
        return json.dumps(content, cls=DjangoJSONEncoder)
