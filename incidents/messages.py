"""The message about an incident that `itsm.notifications.notify` (and `notify_chat`) sends:
its subject, link and context. Below incidents/services.py, sla/services.py and
oncall/escalation.py, which all notify about incidents."""

from django.urls import reverse

from incidents.choices import IncidentStatus
from incidents.models import Incident


def notification_link(incident: Incident) -> str:
    """Where a message about `incident` leads: the acknowledge page while it is new (the page
    asks before it acknowledges: a link never changes anything), else the incident."""
    if incident.status == IncidentStatus.NEW:
        return reverse("incidents:acknowledge", args=[incident.number])
    return incident.get_absolute_url()


def notification_message(
    incident: Incident, *, headline: str, body: str, dedupe_key: str, **context
) -> dict:
    """The arguments of `itsm.notifications.notify` (and `notify_chat`) for a message about
    `incident`: the subject leads with its priority and number, the link opens it (while
    nobody has acknowledged it, its one-button acknowledge page), and the context names it,
    which is how incidents/receivers.py finds the timeline to record it on."""
    return {
        "subject": f"[{incident.priority}] {incident.number} {headline}",
        "body": body,
        "link": notification_link(incident),
        "context": {"incident": incident.number, **context},
        "dedupe_key": dedupe_key,
    }
