"""The incident core's outbound webhook events and their payloads (docs/webhooks.md).

Each `emit_*` is called inside the transaction of the write it reports, on the locked incident,
so the delivery rows commit or roll back with it. Payloads are built only when someone
subscribes (`itsm.webhooks.emit`). The war room and the post-incident reviews nest
`incident_payload` in theirs.
"""

from django.utils import timezone

from incidents.choices import DeadlineKind
from itsm.channels import portal_url
from itsm.choices import WebhookEvent
from itsm.webhooks import emit


def incident_payload(incident) -> dict:
    """What every event about an incident says of it."""
    return {
        "number": incident.number,
        "title": incident.title,
        "status": incident.status,
        "priority": incident.priority,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "services": sorted(incident.services.values_list("slug", flat=True)),
        "team": incident.team.slug if incident.team_id else None,
        "assignee": incident.assignee.get_username() if incident.assignee_id else None,
        "created_at": incident.created_at.isoformat(),
        "url": portal_url(incident.get_absolute_url()),
    }


def event_data(incident, *, actor, **details) -> dict:
    """An event's `data`: the incident, who did it (None for the system) and when, and the
    event's own `details`."""
    return {
        "incident": incident_payload(incident),
        "actor": actor.get_username() if actor is not None else None,
        "at": timezone.now().isoformat(),
        **details,
    }


def emit_incident_event(event_type: str, incident, *, actor, **details) -> None:
    emit(event_type, lambda: event_data(incident, actor=actor, **details))


def emit_created(incident, *, actor) -> None:
    emit_incident_event(WebhookEvent.INCIDENT_CREATED, incident, actor=actor)


def emit_transitioned(incident, *, actor, transition: str, from_status: str) -> None:
    emit_incident_event(
        WebhookEvent.INCIDENT_TRANSITIONED,
        incident,
        actor=actor,
        transition=transition,
        from_status=from_status,
        to_status=incident.status,
    )


def emit_priority_changed(incident, *, actor, old_priority: str) -> None:
    emit_incident_event(
        WebhookEvent.INCIDENT_PRIORITY_CHANGED,
        incident,
        actor=actor,
        old_priority=old_priority,
        new_priority=incident.priority,
    )


def emit_note_added(incident, event, *, actor) -> None:
    emit_incident_event(
        WebhookEvent.INCIDENT_NOTE_ADDED,
        incident,
        actor=actor,
        note={"id": event.pk, "text": event.data["text"], "public": event.public},
    )


def emit_sla_deadline(incident, *, timer, deadline: str, due_at) -> None:
    """`sla.warned` or `sla.breached` for one timer (response, resolution, update)."""
    warned = deadline == DeadlineKind.WARNING
    event_type = WebhookEvent.SLA_WARNED if warned else WebhookEvent.SLA_BREACHED
    emit_incident_event(
        event_type,
        incident,
        actor=None,
        sla={
            "timer": timer.kind,
            "due_at": due_at.isoformat(),
            "target_at": timer.target_at.isoformat(),
        },
    )
