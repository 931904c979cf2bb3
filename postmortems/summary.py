"""The PIR summary: what publishing a review tells IT leadership and the ITSM managers, in plain
text (postmortems.services.review_publish sends it through itsm.notifications).

IT leadership are the active members of the Django group `LEADERSHIP_GROUP`, which
postmortems/migrations creates without permissions: an admin adds or removes people in the
admin's Groups. The ITSM managers are the active holders of that role.
"""

from django.contrib.auth import get_user_model

from itsm.channels import portal_url
from itsm.roles import Role
from itsm.templatetags.people import display_name
from postmortems.drafting import TO_FILL
from postmortems.invitation import review_path
from postmortems.models import ActionItem, PostIncidentReview

LEADERSHIP_GROUP = "IT leadership"
ROOT_CAUSE_MAX_LENGTH = 300


def summary_audience():
    """Everyone the summary goes to: IT leadership and the ITSM managers, active only."""
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(groups__name__in=(LEADERSHIP_GROUP, Role.ITSM_MANAGER)).distinct()


def summary_message(review: PostIncidentReview) -> dict:
    """The subject, body and link of `review`'s summary (the incident is loaded with it)."""
    incident = review.incident
    facts = review.facts
    items = ActionItem.objects.filter(incident=incident).select_related("owner")
    link = review_path(review.incident.number)
    lines = [
        f"{incident.number}: {incident.title}",
        "",
        f"Priority: {incident.priority}"
        + (" (major incident)" if facts.get("major_incident") else ""),
        f"Duration: {facts.get('duration') or 'not recorded'}",
        f"Impact: {_impact(facts)}",
        f"Root cause: {root_cause_short(review.root_cause)}",
        f"Review: {portal_url(link) or link}",
        "",
        "Action items:",
        *([_item_line(item) for item in items.order_by("due_date", "pk")] or ["- none yet"]),
    ]
    return {
        "subject": f"PIR published: {incident.number} {incident.title}",
        "body": "\n".join(lines),
        "link": link,
        "context": {"incident": incident.number, "review": review.pk},
    }


def _impact(facts: dict) -> str:
    parts = [f"about {facts.get('affected_users', 0)} users affected"]
    if facts.get("services"):
        parts.append("services " + ", ".join(facts["services"]))
    parts += [f"{b['kind']} SLA breached by {b['late']}" for b in facts.get("sla_breaches", [])]
    return "; ".join(parts)


def root_cause_short(markdown: str) -> str:
    """The root-cause section's words on one line, without its headings and the draft's
    placeholders, cut at ROOT_CAUSE_MAX_LENGTH characters."""
    words = " ".join(
        line.strip()
        for line in markdown.splitlines()
        if line.strip() and not line.lstrip().startswith("#") and line.strip() != TO_FILL
    )
    words = " ".join(words.split())
    if not words:
        return "not written"
    if len(words) <= ROOT_CAUSE_MAX_LENGTH:
        return words
    return words[: ROOT_CAUSE_MAX_LENGTH - 1].rstrip() + "…"


def _item_line(item: ActionItem) -> str:
    return (
        f"- [{item.priority}] {item.title} (owner {display_name(item.owner)}, "
        f"due {item.due_date}, {item.get_status_display().lower()})"
    )
