"""The war room's outbound webhook events (docs/webhooks.md): a major incident declared, and
resolved with its incident. Emitted inside the writing transaction."""

from incidents.webhook_events import event_data
from itsm.channels import portal_url
from itsm.choices import WebhookEvent
from itsm.webhooks import emit


def major_incident_payload(major) -> dict:
    return {
        "state": major.state,
        "trigger": major.trigger,
        "manager": major.manager.get_username() if major.manager_id else None,
        "initial_impact_statement": major.initial_impact_statement,
        "declared_at": major.declared_at.isoformat(),
        "resolved_at": major.resolved_at.isoformat() if major.resolved_at else None,
        "url": portal_url(major.get_absolute_url()),
    }


def emit_major_incident_event(event_type: str, major, *, actor) -> None:
    emit(
        event_type,
        lambda: event_data(
            major.incident, actor=actor, major_incident=major_incident_payload(major)
        ),
    )


def emit_declared(major, *, actor) -> None:
    emit_major_incident_event(WebhookEvent.MAJOR_INCIDENT_DECLARED, major, actor=actor)


def emit_resolved(major) -> None:
    emit_major_incident_event(WebhookEvent.MAJOR_INCIDENT_RESOLVED, major, actor=None)
