"""Rendering a communication template in Jinja2's sandbox from an incident's facts.

Templates are edited by people in the admin, so they run in a `SandboxedEnvironment` with
`StrictUndefined` (a misspelt variable is an error, not a blank) and no loader (no imports or
includes). The variables are plain strings, numbers and lists of strings built by
`incident_variables`: there is no model object to reach through. Whatever goes wrong is one
`ValidationFailed` naming the template field, never a partial text.

Apps above `warroom` add variables of their own with `register_variables` in their
`AppConfig.ready()` (postmortems: the review's root cause and action items), so every template,
whoever drafts it, can use them."""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from incidents.choices import EventType, SlaKind, SlaTimerState
from itsm.errors import ValidationFailed
from itsm.templatetags.people import display_name
from warroom.choices import PUBLIC_STATUS_OF, MajorIncidentState, WarRoomRole

# The variables every template may use, documented in docs/communications.md.
VARIABLES = {
    "number": "The incident's number.",
    "title": "The incident's title.",
    "priority": "P1 to P4.",
    "severity": "Critical, High, Moderate or Low (from the priority).",
    "status": "The incident's status, e.g. Investigating.",
    "public_status": "The status page's status its state gives: Investigating, Monitoring "
    "(mitigated) or Resolved (resolved, closed, cancelled).",
    "impact": "The impact statement (the war room's, else the incident's description).",
    "service": "The first affected service (else the title): the templates' [Service Name].",
    "services": "The affected services' names, as a list.",
    "services_text": "The affected services' names, comma-separated ('None recorded' if none).",
    "started_at": "When the impact began (local time).",
    "resolved_at": "When it was resolved (local time), empty while open.",
    "duration": "From start to resolution (or now), e.g. 1 h 20 min.",
    "resolution_notes": "The resolution notes, empty while open.",
    "changes": "What changed since the last communication sent: timeline summaries, a list.",
    "changes_text": "The same, one '- ' line each ('No change since the last update.' if none).",
    "next_update": "When the next stakeholder update is due (local time), empty if none.",
    "update_minutes": "The stakeholder-update interval in minutes (0 when there is none).",
    "status_page_url": "The public status page's address.",
    "incident_url": "The incident's page in the portal.",
    "commander": "The war room's incident commander, empty if none.",
    "communications_lead": "The war room's communications lead, empty if none.",
    "now": "The time of rendering (local time).",
}
SEVERITY = {"P1": "Critical", "P2": "High", "P3": "Moderate", "P4": "Low"}
CHANGES_SHOWN = 10
_ENVIRONMENT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z") if moment else ""


def _duration(start, end) -> str:
    minutes = max(int((end - start).total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _room_roles(incident) -> dict[str, str]:
    """The live war room's single-holder roles, by role, as names."""
    major = getattr(incident, "major_incident", None)
    if major is None or major.state == MajorIncidentState.DEMOTED:
        return {}
    held = major.role_assignments.filter(ended_at__isnull=True).select_related("user")
    return {assignment.role: display_name(assignment.user) for assignment in held}


def _impact(incident) -> str:
    major = getattr(incident, "major_incident", None)
    return (major.initial_impact_statement if major else "") or incident.description


def _update_timer(incident):
    """The running update cadence (a missed update's breach does not stop it)."""
    cadence = (SlaTimerState.RUNNING, SlaTimerState.BREACHED)
    return (
        incident.sla_timers.filter(kind=SlaKind.UPDATE, state__in=cadence, stopped_at=None)
        .order_by("target_at")
        .first()
    )


def changes_since_last_communication(incident) -> list[str]:
    """Summaries of the timeline since the last communication sent (all of it if none)."""
    events = incident.events.exclude(type=EventType.COMMUNICATION)
    last = incident.events.filter(type=EventType.COMMUNICATION).order_by("-at").first()
    if last is not None:
        events = events.filter(at__gt=last.at)
    recent = events.order_by("-at", "-id")[:CHANGES_SHOWN]
    return [event.summary for event in reversed(recent)]


@dataclass(frozen=True)
class ExtraVariables:
    """Variables an app above adds: what each means, an example of each, and the values for an
    incident (every name of `docs`, whatever the incident)."""

    docs: dict[str, str]
    sample: dict
    provide: Callable[[object], dict]


_extra: dict[str, ExtraVariables] = {}


def register_variables(name: str, extra: ExtraVariables) -> None:
    """Add `extra` to every template's variables. Registering a name again replaces it."""
    if set(extra.docs) != set(extra.sample):
        raise ValueError(f"{name}: every variable needs an example")
    _extra[name] = extra


def variable_docs() -> dict[str, str]:
    """Every variable a template may use, with what it means."""
    return VARIABLES | {key: doc for extra in _extra.values() for key, doc in extra.docs.items()}


def sample_variables() -> dict:
    """Example facts every template is rendered with before it is saved."""
    return SAMPLE_VARIABLES | {k: v for extra in _extra.values() for k, v in extra.sample.items()}


def incident_variables(incident) -> dict:
    """Every variable of `variable_docs()`, from the incident's current state and timeline."""
    variables = _core_variables(incident)
    for extra in _extra.values():
        variables |= extra.provide(incident)
    return variables


def _core_variables(incident) -> dict:
    now = timezone.now()
    services = sorted(service.name for service in incident.services.all())
    roles = _room_roles(incident)
    changes = changes_since_last_communication(incident)
    timer = _update_timer(incident)
    return {
        "number": incident.number,
        "title": incident.title,
        "priority": incident.priority,
        "severity": SEVERITY.get(incident.priority, incident.priority),
        "status": incident.get_status_display(),
        "public_status": PUBLIC_STATUS_OF[incident.status].label,
        "impact": _impact(incident),
        "service": services[0] if services else incident.title,
        "services": services,
        "services_text": ", ".join(services) or "None recorded",
        "started_at": _local(incident.started_at),
        "resolved_at": _local(incident.resolved_at),
        "duration": _duration(incident.started_at, incident.resolved_at or now),
        "resolution_notes": incident.resolution_notes,
        "changes": changes,
        "changes_text": "\n".join(f"- {c}" for c in changes) or "No change since the last update.",
        "next_update": _local(timer.target_at) if timer else "",
        "update_minutes": int(timer.duration.total_seconds() // 60) if timer else 0,
        "status_page_url": settings.PORTAL_BASE_URL + reverse("status:page"),
        "incident_url": settings.PORTAL_BASE_URL + incident.get_absolute_url(),
        "commander": roles.get(WarRoomRole.INCIDENT_COMMANDER, ""),
        "communications_lead": roles.get(WarRoomRole.COMMUNICATIONS_LEAD, ""),
        "now": _local(now),
    }


def render_text(source: str, variables: dict, *, field: str) -> str:
    """`source` rendered with `variables`, or ValidationFailed naming `field` (a sandbox
    escape, an unknown variable, a syntax error: never a partial text)."""
    try:
        return _ENVIRONMENT.from_string(source).render(variables)
    except (TemplateError, TypeError, ValueError, ArithmeticError) as error:  # e.g. 1/0, imports
        message = f"The template cannot be rendered: {error}"
        raise ValidationFailed.for_fields({field: message}) from None


def render_template(template, variables: dict) -> tuple[str, str]:
    """The subject (one line) and body of `template` rendered with `variables`."""
    subject = render_text(template.subject_template, variables, field="subject_template")
    body = render_text(template.body_template, variables, field="body_template")
    return " ".join(subject.split()), body.strip() + "\n"


# Example facts of the core variables (sample_variables() adds the registered ones).
SAMPLE_VARIABLES = {
    "number": "INC0000042",
    "title": "Checkout fails for some customers",
    "priority": "P1",
    "severity": "Critical",
    "status": "Investigating",
    "public_status": "Investigating",
    "impact": "Customers cannot pay by card.",
    "service": "Checkout",
    "services": ["Checkout", "Payments"],
    "services_text": "Checkout, Payments",
    "started_at": "2026-01-05 09:12 UTC",
    "resolved_at": "",
    "duration": "25 min",
    "resolution_notes": "",
    "changes": ["Payments rolled back to 4.2"],
    "changes_text": "- Payments rolled back to 4.2",
    "next_update": "2026-01-05 09:45 UTC",
    "update_minutes": 30,
    "status_page_url": "https://portal.example/status/",
    "incident_url": "https://portal.example/incidents/INC0000042/",
    "commander": "Ada Lovelace",
    "communications_lead": "Grace Hopper",
    "now": "2026-01-05 09:15 UTC",
}
assert set(SAMPLE_VARIABLES) == set(VARIABLES)
