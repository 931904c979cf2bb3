"""The review's first draft, generated from the record rather than typed: the facts, the
timeline of key events, the scratchpad's TODO / FIXME / ACTION lines as proposed action items,
and the sections pre-filled with the facts as Markdown for the owner to edit.

A fixed number of queries, whatever the number of events: the incident with its team and
services, the major incident, its role assignments, the SLA timers and the key events (each
with its actor) are read once each.
"""

import re
from datetime import datetime, timedelta

from django.db.models import Prefetch, Q
from django.utils import timezone

from incidents.choices import EventType, Transition
from incidents.models import Incident, IncidentEvent, Service, SlaTimer
from incidents.sla.services import describe_duration
from itsm.templatetags.people import display_name
from postmortems.models.action_items import ACTION_TITLE_MAX_LENGTH
from warroom.choices import MajorIncidentState, WarRoomRole
from warroom.models import MajorIncident, RoleAssignment

# The lifecycle's steps a reader of the review wants to see; the rest (start, hold, resume)
# are noise in a review.
KEY_TRANSITIONS = {
    Transition.ACKNOWLEDGE: "Acknowledged",
    Transition.MITIGATE: "Mitigated",
    Transition.RESOLVE: "Resolved",
    Transition.REOPEN: "Reopened",
    Transition.CLOSE: "Closed",
}
KEY_WARROOM_ACTIONS = {
    "declared": "Major incident declared",
    "role_assigned": "Role change",
    "role_released": "Role change",
    "demoted": "Major incident demoted",
}
EVENT_LABELS = {
    EventType.CREATED: "Detected",
    EventType.NOTE: "Key note",
    EventType.PRIORITY_CHANGE: "Priority changed",
}
# A scratchpad line that is an action item: optionally a list bullet or a checkbox, then the
# marker in capitals as a word of its own.
ACTION_LINE = re.compile(
    r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?(?:\[[ xX]\]\s*)?(?:TODO|FIXME|ACTION)\b[\s:.\-–—]*(?P<text>.*)$"
)
TO_FILL = "_To be written._"


def generate(incident: Incident) -> dict:
    """The draft of `incident`'s review: `facts`, `timeline`, `proposed_action_items` and the
    pre-filled sections, as field name → value."""
    incident = (
        Incident.objects.select_related("team", "assignee")
        .prefetch_related(Prefetch("services", queryset=Service.objects.order_by("name")))
        .get(pk=incident.pk)
    )
    major = major_incident_of(incident)
    assignments = _assignments(major)
    facts = incident_facts(incident, major=major, assignments=assignments)
    return {
        "facts": facts,
        "timeline": timeline_rows(incident),
        "proposed_action_items": proposed_action_items(major.scratchpad if major else ""),
        "summary": summary_markdown(incident, facts),
        "impact": impact_markdown(facts),
        "root_cause": _prompts(
            "What happened", "Immediate cause", "Contributing factors", "Underlying cause"
        ),
        "trigger_detection": _detection_markdown(incident),
        "prevention": _prompts("Monitoring", "Testing", "Documentation", "Architecture"),
    }


def major_incident_of(incident: Incident) -> MajorIncident | None:
    """The incident's major incident, unless it was demoted."""
    return (
        MajorIncident.objects.filter(incident=incident)
        .exclude(state=MajorIncidentState.DEMOTED)
        .select_related("manager")
        .first()
    )


def _assignments(major: MajorIncident | None) -> list[RoleAssignment]:
    if major is None:
        return []
    return list(
        RoleAssignment.objects.filter(major_incident=major)
        .select_related("user")
        .order_by("assigned_at", "id")
    )


# --- facts -------------------------------------------------------------------------------------


def incident_facts(incident: Incident, *, major, assignments: list[RoleAssignment]) -> dict:
    """What the record says, as plain JSON values (the `facts` the review keeps)."""
    end = incident.resolved_at or timezone.now()
    return {
        "number": incident.number,
        "title": incident.title,
        "priority": incident.priority,
        "major_incident": major is not None,
        "started_at": incident.started_at.isoformat(),
        "detected_at": incident.detected_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "duration_seconds": int((end - incident.started_at).total_seconds()),
        "duration": describe_duration(max(end - incident.started_at, timedelta(0))),
        "commander": _commander(assignments),
        "manager": display_name(major.manager) if major and major.manager else None,
        "roles": _roles(assignments),
        "team": incident.team.name if incident.team else None,
        "assignee": display_name(incident.assignee) if incident.assignee else None,
        "services": [service.name for service in incident.services.all()],
        "affected_users": incident.affected_users,
        "resolution_code": incident.get_resolution_code_display() or None,
        "resolution_notes": incident.resolution_notes,
        "sla_breaches": _sla_breaches(incident, end),
    }


def _commander(assignments: list[RoleAssignment]) -> str | None:
    """The last person to hold the incident commander role."""
    holders = [a for a in assignments if a.role == WarRoomRole.INCIDENT_COMMANDER]
    return display_name(holders[-1].user) if holders else None


def _roles(assignments: list[RoleAssignment]) -> list[dict]:
    """Each war-room role and everyone who held it, in the order they took it."""
    people: dict[str, list[str]] = {}
    for assignment in assignments:
        names = people.setdefault(assignment.role, [])
        name = display_name(assignment.user)
        if name not in names:
            names.append(name)
    return [
        {"role": WarRoomRole(role).label, "people": people[role]}
        for role in WarRoomRole.values
        if role in people
    ]


def _sla_breaches(incident: Incident, end: datetime) -> list[dict]:
    """Every SLA timer that breached, and by how much: from its target to when it stopped (or
    the resolution, for one still running then). Paused time is not subtracted."""
    timers = SlaTimer.objects.filter(incident=incident, breached_at__isnull=False).order_by(
        "target_at", "id"
    )
    breaches = []
    for timer in timers:
        late = max((timer.stopped_at or end) - timer.target_at, timedelta(0))
        breaches.append(
            {
                "kind": timer.get_kind_display(),
                "target_at": timer.target_at.isoformat(),
                "late_seconds": int(late.total_seconds()),
                "late": describe_duration(late),
            }
        )
    return breaches


# --- timeline ----------------------------------------------------------------------------------


def _key_events() -> Q:
    return (
        Q(type=EventType.CREATED)
        | Q(type=EventType.PRIORITY_CHANGE)
        | Q(type=EventType.TRANSITION, data__transition__in=list(KEY_TRANSITIONS))
        | Q(type=EventType.WARROOM, data__action__in=list(KEY_WARROOM_ACTIONS))
        | Q(pinned=True)
    )


def timeline_rows(incident: Incident) -> list[dict]:
    """The incident's key events, oldest first, as the template's columns."""
    events = (
        IncidentEvent.objects.filter(incident=incident)
        .filter(_key_events())
        .select_related("actor")
        .order_by("at", "id")
    )
    return [_row(event) for event in events]


def _row(event: IncidentEvent) -> dict:
    return {
        "at": local_time(event.at),
        "event": _event_label(event),
        "action": (event.data or {}).get("text") or event.summary,
        "owner": display_name(event.actor) if event.actor else "System",
    }


def _event_label(event: IncidentEvent) -> str:
    data = event.data or {}
    if event.type == EventType.TRANSITION and data.get("transition") in KEY_TRANSITIONS:
        return KEY_TRANSITIONS[data["transition"]]
    if event.type == EventType.WARROOM and data.get("action") in KEY_WARROOM_ACTIONS:
        return KEY_WARROOM_ACTIONS[data["action"]]
    if event.pinned and event.type not in EVENT_LABELS:
        return f"Pinned: {event.get_type_display()}"
    return EVENT_LABELS.get(event.type, event.get_type_display())


# --- proposed action items ---------------------------------------------------------------------


def proposed_action_items(scratchpad: str) -> list[dict]:
    """Each scratchpad line marked TODO, FIXME or ACTION, without its marker, once; cut to an
    action item's title, which accepting it makes it."""
    items: list[dict] = []
    seen: set[str] = set()
    for line in (scratchpad or "").splitlines():
        match = ACTION_LINE.match(line)
        text = _as_title(" ".join(match["text"].split())) if match else ""
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            items.append({"text": text, "source": "scratchpad"})
    return items


def _as_title(text: str) -> str:
    if len(text) <= ACTION_TITLE_MAX_LENGTH:
        return text
    return text[: ACTION_TITLE_MAX_LENGTH - 1] + "…"


# --- sections ----------------------------------------------------------------------------------


def summary_markdown(incident: Incident, facts: dict) -> str:
    major = " major incident" if facts["major_incident"] else " incident"
    lines = [
        f"**{facts['number']}** ({facts['priority']}{major}): {facts['title']}",
        "",
        f"- Impact began: {local_time(incident.started_at)}",
        f"- Resolved: {local_time(incident.resolved_at) if incident.resolved_at else 'not yet'}",
        f"- Duration: {facts['duration']}",
        f"- Team: {facts['team'] or 'none'}",
    ]
    if facts["manager"]:
        lines.append(f"- Major incident manager: {facts['manager']}")
    if facts["commander"]:
        lines.append(f"- Incident commander: {facts['commander']}")
    lines += [f"- {role['role']}: {', '.join(role['people'])}" for role in facts["roles"]]
    if facts["resolution_code"]:
        lines += ["", f"Resolution ({facts['resolution_code']}): {facts['resolution_notes']}"]
    return "\n".join(lines)


def impact_markdown(facts: dict) -> str:
    services = "\n".join(f"- {name}" for name in facts["services"]) or "None recorded."
    breaches = (
        "\n".join(f"- {b['kind']}: breached by {b['late']}" for b in facts["sla_breaches"])
        or "No SLA target was breached."
    )
    return "\n\n".join(
        [
            "### Customers and users",
            f"About {facts['affected_users']} users affected.",
            "### Services",
            services,
            "### Revenue",
            TO_FILL,
            "### Data",
            TO_FILL,
            "### SLA breach",
            breaches,
        ]
    )


def _detection_markdown(incident: Incident) -> str:
    detected = local_time(incident.detected_at)
    return f"Detected {detected} (source: {incident.get_source_display()}).\n\n{TO_FILL}"


def _prompts(*headings: str) -> str:
    return "\n\n".join(f"### {heading}\n\n{TO_FILL}" for heading in headings)


def local_time(moment: datetime) -> str:
    """A moment as the timeline's summaries write it, in the portal's time zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
