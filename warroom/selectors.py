"""Reads the war-room page, its websocket and the API share: the payloads of each part of the
room, and the snapshot a page receives when it (re)connects."""

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from incidents.models import Incident, IncidentEvent
from incidents.timeline import event_payload, events_since
from warroom.choices import MajorIncidentState
from warroom.models import (
    BridgeAttendance,
    MajorIncident,
    Presence,
    RoleAssignment,
    ScratchpadRevision,
    WarRoomTask,
)

# A page pings every 20 s; one not heard from for this long is gone (its process died).
PRESENCE_TIMEOUT = timedelta(seconds=60)
# A page that connects for the first time gets the latest events; one that reconnects gets
# every event after the last one it saw, up to this many (then it reloads the page).
SNAPSHOT_EVENTS = 200
CATCH_UP_LIMIT = 1000


def default_bridge_link(incident: Incident) -> str:
    """The call a major incident's room starts with (a rule's, or the declare form's first
    guess): the first of the incident's services (by name) that has a default bridge link,
    else its team's."""
    link = (
        incident.services.exclude(default_bridge_link="")
        .order_by("name")
        .values_list("default_bridge_link", flat=True)
        .first()
    )
    if link:
        return link
    return incident.team.default_bridge_link if incident.team_id else ""


def major_incident_queryset() -> QuerySet[MajorIncident]:
    return MajorIncident.objects.select_related("incident", "manager", "declared_by", "demoted_by")


def major_incident_list(*, state: str | None = None) -> QuerySet[MajorIncident]:
    queryset = major_incident_queryset()
    return queryset.filter(state=state) if state else queryset


def live_major_incidents() -> QuerySet[MajorIncident]:
    return major_incident_list().filter(
        state__in=[MajorIncidentState.ACTIVE, MajorIncidentState.RESOLVED]
    )


def _user(user) -> dict | None:
    if user is None:
        return None
    return {"username": user.get_username(), "name": user.get_full_name() or user.get_username()}


def major_incident_payload(major: MajorIncident) -> dict:
    incident = major.incident
    return {
        "number": incident.number,
        "title": incident.title,
        "incident_status": incident.status,
        "priority": incident.priority,
        "state": major.state,
        "manager": _user(major.manager),
        "bridge_link": major.bridge_link,
        "initial_impact_statement": major.initial_impact_statement,
        "trigger": major.trigger,
        "trigger_detail": major.trigger_detail,
        "declared_by": _user(major.declared_by),
        "declared_at": major.declared_at,
        "resolved_at": major.resolved_at,
        "closed_at": major.closed_at,
        "demoted_at": major.demoted_at,
        "demotion_reason": major.demotion_reason,
        "war_room_url": major.get_absolute_url(),
    }


def current_roles(major: MajorIncident) -> QuerySet[RoleAssignment]:
    return major.role_assignments.filter(ended_at__isnull=True).select_related("user")


def roles_payload(major: MajorIncident) -> list[dict]:
    return [
        {
            "id": row.pk,
            "role": row.role,
            "role_label": row.get_role_display(),
            "user": _user(row.user),
            "assigned_at": row.assigned_at,
        }
        for row in current_roles(major)
    ]


def tasks_payload(major: MajorIncident) -> list[dict]:
    tasks = WarRoomTask.objects.filter(major_incident=major).select_related("assignee")
    return [
        {
            "id": task.pk,
            "title": task.title,
            "assignee": _user(task.assignee),
            "done": task.done,
            "created_at": task.created_at,
            "done_at": task.done_at,
        }
        for task in tasks
    ]


def bridge_payload(major: MajorIncident) -> dict:
    stays = BridgeAttendance.objects.filter(major_incident=major).select_related("user")
    return {
        "link": major.bridge_link,
        "attendees": [
            {"user": _user(stay.user), "joined_at": stay.joined_at, "left_at": stay.left_at}
            for stay in stays
        ],
    }


def present_users(major: MajorIncident) -> list[dict]:
    """Who has the room open now: each person once, however many tabs."""
    since = timezone.now() - PRESENCE_TIMEOUT
    rows = (
        Presence.objects.filter(major_incident=major, seen_at__gte=since)
        .select_related("user")
        .order_by("connected_at", "pk")
    )
    people: dict[int, dict] = {}
    for row in rows:
        people.setdefault(row.user_id, _user(row.user) | {"since": row.connected_at})
    return list(people.values())


def scratchpad_payload(major: MajorIncident) -> dict:
    return {"version": major.scratchpad_version, "text": major.scratchpad}


def scratchpad_revisions(major: MajorIncident) -> QuerySet[ScratchpadRevision]:
    return major.scratchpad_revisions.select_related("author").order_by("-version")


def timeline_payload(major: MajorIncident, *, since_event: int | None = None) -> dict:
    """The events a page shows: the latest SNAPSHOT_EVENTS, or every event after
    `since_event` (a reconnecting page); `complete` says whether nothing was left out."""
    incident = major.incident
    events = IncidentEvent.objects.filter(incident=incident).select_related("actor")
    if since_event is not None:
        rows = list(events_since(events, since_event).order_by("pk")[: CATCH_UP_LIMIT + 1])
        complete = len(rows) <= CATCH_UP_LIMIT
        rows = rows[:CATCH_UP_LIMIT]
    else:
        rows = list(events.order_by("-pk")[: SNAPSHOT_EVENTS + 1])[::-1]
        complete = len(rows) <= SNAPSHOT_EVENTS
        rows = rows[-SNAPSHOT_EVENTS:]
    pinned = events.filter(pinned=True).order_by("pk")
    return {
        "events": [event_payload(e, incident)["event"] for e in rows],
        "pinned": [event_payload(e, incident)["event"] for e in pinned],
        "complete": complete,
    }


def snapshot(major: MajorIncident, *, since_event: int | None = None) -> dict:
    """Everything a war-room page shows, as one message."""
    return {
        "kind": "snapshot",
        "major_incident": major_incident_payload(major),
        "timeline": timeline_payload(major, since_event=since_event),
        "roles": roles_payload(major),
        "tasks": tasks_payload(major),
        "bridge": bridge_payload(major),
        "presence": present_users(major),
        "scratchpad": scratchpad_payload(major),
    }
