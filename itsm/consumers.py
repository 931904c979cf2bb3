"""Websockets of pages that only listen: the base of the incident pages' channels, and the
bell's (`ws/notifications/`). docs/live-pages.md is their contract.

A page sends nothing but `{"type": "ping"}` (answered `{"kind": "pong"}` with its groups'
positions, and the session checked again, as itsm.live explains) and `{"type": "resync"}`
(answered with a snapshot); everything else it may know arrives as messages, the first of
which is its snapshot.
"""

import json

from channels.db import database_sync_to_async
from django.core.serializers.json import DjangoJSONEncoder

from itsm import live
from itsm.errors import ValidationFailed
from itsm.notifications import inbox, inbox_group

# What the bell lists: the newest few; the notifications page has the rest.
LATEST = 8
NOTIFICATION_PERMISSION = "itsm.view_notification"


class ListeningConsumer(live.LiveConsumer):
    """A live page's socket that only receives. A subclass admits the user (`refusal`), then
    calls `listen(user, groups)` and sends its snapshot (`read_snapshot`)."""

    async def listen(self, user, groups) -> None:
        await self.open_for(user)
        await self.follow(groups)
        await self.send_snapshot(self.scope.get("query_string", b""))

    async def refuse(self, code: int) -> None:
        """Accept, then close with `code`: a browser sees the code only of a socket it had."""
        await self.accept()
        await self.close(code=code)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.user is None:  # refused or revoked, and closing
            return
        try:
            message = json.loads(text_data) if text_data is not None else None
        except (ValueError, RecursionError):
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        try:
            if kind not in ("ping", "resync"):
                raise ValidationFailed.for_fields(
                    {"type": "Must be ping or resync: this page only listens."}
                )
            query = live.resync_query(message) if kind == "resync" else None
        except ValidationFailed as error:
            await self.send_json({"kind": "error", **error.as_dict()})
            return
        if await self.current_user(active=False) is None:
            return
        if query is None:
            await self.pong()
        else:
            await self.send_snapshot(query)

    @classmethod
    async def encode_json(cls, content) -> str:
        return json.dumps(content, cls=DjangoJSONEncoder)


# --- the bell ------------------------------------------------------------------------------------


def inbox_snapshot(user) -> dict:
    """The bell's unread count and newest in-app notifications (two queries)."""
    notifications = inbox(user=user)
    latest = notifications.only("pk", "subject", "link", "created_at", "read_at")[:LATEST]
    return {
        "unread": notifications.filter(read_at__isnull=True).count(),
        "latest": [
            {
                "id": row.pk,
                "subject": row.subject,
                "link": row.link,
                "created_at": row.created_at,
                "unread": row.read_at is None,
            }
            for row in latest
        ],
    }


class NotificationsConsumer(ListeningConsumer):
    """`ws/notifications/`: the bell on every page. Its snapshot on (re)connecting, and the
    same again, as `notifications`, whenever the user's inbox changes (itsm.notifications
    tells the user's group `inbox.<id>`, after the change commits)."""

    view_permission = NOTIFICATION_PERMISSION

    async def connect(self):
        user = self.scope["user"]
        refusal = await database_sync_to_async(live.refusal)(user, self.view_permission)
        if refusal is not None:
            await self.refuse(refusal)
            return
        await self.accept()
        await self.listen(user, [inbox_group(user.pk)])

    def read_snapshot(self, query_string: bytes) -> dict:
        return {"kind": "snapshot", **inbox_snapshot(self.user)}

    async def inbox_changed(self, message):
        if self.user is not None:
            inbox = await database_sync_to_async(inbox_snapshot)(self.user)
            numbered = {"stream": message["stream"], "seq": message["seq"]}
            await self.send_json({"kind": "notifications", **inbox, **numbered})
