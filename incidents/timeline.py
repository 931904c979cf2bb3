"""Writing the timeline: one `IncidentEvent`, published to live pages once its transaction
commits. Below incidents/services.py, sla/services.py, oncall/escalation.py and every app above,
which all record events through it, so none of them imports another to write one."""

from functools import partial

from django.db import transaction
from django.db.models import Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from incidents import signals
from incidents.choices import ChangeSource
from incidents.models import Incident, IncidentEvent
from itsm import realtime


def event_payload(event: IncidentEvent, incident: Incident) -> dict:
    """What live pages receive for a timeline event."""
    return {
        "kind": "timeline",
        "incident": incident.number,
        "status": incident.status,
        "priority": incident.priority,
        "event": {
            "id": event.pk,
            "type": event.type,
            "summary": event.summary,
            "actor": event.actor.get_username() if event.actor_id else None,
            "source": event.source,
            "at": event.at.isoformat(),
            "data": event.data,
            "public": event.public,
            "pinned": event.pinned,
        },
    }


def record_event(
    incident: Incident, *, type: str, actor, source: str, summary: str, data=None, public=False
) -> IncidentEvent:
    """Write one timeline event and publish it to live pages once the transaction commits."""
    event = IncidentEvent.objects.create(
        incident=incident,
        type=type,
        actor=actor,
        source=source,
        summary=summary[:300],
        data=data or {},
        public=public,
    )
    signals.timeline_event_written.send(sender=IncidentEvent, incident_id=incident.pk, type=type)
    payload = event_payload(event, incident)
    transaction.on_commit(partial(publish_to_pages, incident.number, payload))
    signals.timeline_event_recorded.send(
        sender=IncidentEvent,
        event=event,
        event_id=event.pk,
        incident_id=incident.pk,
        type=type,
    )
    return event


def publish_to_pages(number: str, payload: dict) -> None:
    realtime.publish([realtime.group_name("incident", number), "incidents"], payload)


def incident_record_event(
    *,
    incident: Incident,
    type: str,
    summary: str,
    data: dict | None = None,
    actor=None,
    source: str = ChangeSource.JOB,
    public: bool = False,
) -> IncidentEvent:
    """A timeline event for something that is not a field change: an SLA warning or breach,
    a page, a notification sent. Call it inside the transaction that made the change."""
    return record_event(
        incident,
        type=type,
        actor=actor,
        source=source,
        summary=summary,
        data=data,
        public=public,
    )


# How many events before the newest a page holds are sent again with what came after it: an
# event's id is taken when it is written, not when it commits, so one written before that
# newest event may commit (and be published) after it, under concurrent writers.
RESENT_BEFORE_SINCE = 16


def events_since(events: QuerySet, since: int) -> QuerySet:
    """The events of `events` a page that holds event `since` may still lack: those after it,
    and the RESENT_BEFORE_SINCE before it (the page skips those it shows)."""
    earlier = events.filter(pk__lt=since).order_by("-pk").values("pk")
    floor = Subquery(earlier[RESENT_BEFORE_SINCE - 1 : RESENT_BEFORE_SINCE])
    return events.filter(Q(pk__gt=since) | Q(pk__lt=since, pk__gte=Coalesce(floor, Value(0))))
