"""The incident pages' websockets (docs/live-pages.md is their contract):

- `ws/incidents/`: the dashboard and the incident list, told of every incident's timeline
  events (the `incidents` group);
- `ws/incidents/<NUMBER>/`: one incident's page, told of its events (`incident.<NUMBER>`).

Events are published by incidents.services once their transaction commits, encoded once for
every page. A page whose user may not read internal events (a stakeholder,
selectors.sees_internal_events) never gets one: it is told only that the incident changed, with
its status and priority. A page that reconnects passes the last event it saw (`?since=<id>`),
or, the first time, when it was rendered (`?rendered=<unix seconds>`), and its snapshot carries
what it missed, from the database.
"""

import json
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from incidents import selectors
from incidents.models import Incident, IncidentEvent
from incidents.timeline import event_payload, events_since
from itsm import live, realtime
from itsm.consumers import ListeningConsumer

VIEW_PERMISSION = "incidents.view_incident"
NO_SUCH_INCIDENT = 4404
LIST_GROUP = "incidents"
# The most events a snapshot carries; a page that missed more is told to load afresh.
CATCH_UP_LIMIT = 100
# A number a page passes (longer ones are no key, nor a time); anything else is ignored.
NUMBER = re.compile(r"[0-9]{1,18}")
# The latest a page can have been rendered: anything later is no time a page saw.
LATEST_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


def _query_number(query_string: bytes, name: str) -> int | None:
    values = parse_qs(query_string.decode("latin-1")).get(name, [])
    return int(values[-1]) if values and NUMBER.fullmatch(values[-1]) else None


def shown(payload: dict, *, internal: bool) -> dict | None:
    """What a page is sent of a published `payload`: all of it for a reader of internal events;
    else a public event as it is, and of anything else only that the incident changed (no
    event: its id as `event_id`, for the page's next `since`), numbered as it was."""
    event = payload.get("event")
    if internal or (event is not None and event.get("public") is True):
        return payload
    if "incident" not in payload:
        return None
    numbered = {name: payload[name] for name in ("stream", "seq") if name in payload}
    return {
        "kind": "incident",
        "incident": payload["incident"],
        "status": payload.get("status"),
        "priority": payload.get("priority"),
        "event_id": event.get("id") if event else None,
        **numbered,
    }


# --- opening a page ------------------------------------------------------------------------------


def _admit(user, number: str | None) -> tuple[int | None, int | None, bool]:
    """(the close code refusing `user`, or None; the incident's id; whether the user reads
    internal events)."""
    refusal = live.refusal(user, VIEW_PERMISSION)
    if refusal is not None:
        return refusal, None, False
    incident_id = None
    if number is not None:
        incident_id = Incident.objects.filter(number=number).values_list("pk", flat=True).first()
        if incident_id is None:
            return NO_SUCH_INCIDENT, None, False
    return None, incident_id, selectors.sees_internal_events(user)


def _missed(events, *, since: int | None, rendered: int | None):
    """The events a page saw none of, oldest first: after event `since`, or at or after the
    time (unix seconds) it was `rendered`; none when it names neither."""
    if since is not None:
        return events_since(events, since).order_by("pk")
    if rendered is not None and rendered <= LATEST_SECONDS:
        # In the order of the index on (at, id): the newest few, not a walk from the oldest.
        return events.filter(at__gte=datetime.fromtimestamp(rendered, tz=UTC)).order_by("at", "pk")
    return events.none()


def snapshot(*, incident_id: int | None, internal: bool, since: int | None, rendered: int | None):
    """The first message of a page: the latest event's id (for its next `since`) and, up to
    CATCH_UP_LIMIT, the events it missed, as they would have been sent live; `complete` is
    false when it missed more (the page then loads afresh)."""
    events = IncidentEvent.objects.all()
    if incident_id is not None:
        events = events.filter(incident_id=incident_id)
    last = events.order_by("-pk").values_list("pk", flat=True).first()
    missed = list(
        _missed(events, since=since, rendered=rendered).select_related("incident", "actor")[
            : CATCH_UP_LIMIT + 1
        ]
    )
    return {
        "kind": "snapshot",
        "last_event": last,
        "events": [
            shown(event_payload(event, event.incident), internal=internal)
            for event in missed[:CATCH_UP_LIMIT]
        ],
        "complete": len(missed) <= CATCH_UP_LIMIT,
    }


class IncidentsConsumer(ListeningConsumer):
    view_permission = VIEW_PERMISSION
    internal = False
    incident_id: int | None = None

    async def connect(self):
        number = self.scope["url_route"]["kwargs"].get("number")
        user = self.scope["user"]
        refusal, incident_id, internal = await database_sync_to_async(_admit)(user, number)
        if refusal is not None:
            await self.refuse(refusal)
            return
        self.internal = internal
        self.incident_id = incident_id
        await self.accept()
        group = LIST_GROUP if number is None else realtime.group_name("incident", number)
        await self.listen(user, [group])

    def read_snapshot(self, query_string: bytes) -> dict:
        return snapshot(
            incident_id=self.incident_id,
            internal=self.internal,
            since=_query_number(query_string, "since"),
            rendered=_query_number(query_string, "rendered"),
        )

    async def live_access_changed(self, message):
        """A role changed: the page stays only if the user may still see it, and from now on
        gets internal events only if the user may still read them."""
        user = await self.current_user()
        if user is not None:
            self.internal = await database_sync_to_async(selectors.sees_internal_events)(user)

    async def realtime_event(self, message):
        """A change published by any process, already encoded: sent as it is to a reader of
        internal events, read and narrowed (`shown`) for anyone else."""
        if self.user is None:
            return
        if self.internal:
            await self.send(text_data=message["text"])
            return
        payload = shown(json.loads(message["text"]), internal=False)
        if payload is not None:
            await self.send_json(payload)
