"""The PIR summary: what a published review tells IT leadership and the ITSM managers.

It is the communications' `pir_summary` template (warroom, admin-editable), drafted and sent
through their machinery when a review is published (postmortems.services.review_publish), so
its audience, its recipients and the incident's timeline line are those of every other
communication. This module gives every template the review's own facts (`REVIEW_VARIABLES`,
registered in `PostmortemsConfig.ready()`): the root cause and the action items."""

from itsm.channels import portal_url
from itsm.templatetags.people import display_name
from postmortems.drafting import TO_FILL
from postmortems.invitation import review_path
from postmortems.models import ActionItem, PostIncidentReview
from warroom.communications.rendering import ExtraVariables

ROOT_CAUSE_MAX_LENGTH = 300


def review_variables(incident) -> dict:
    """The review's facts for `incident` (empty texts while it has no review)."""
    review = PostIncidentReview.objects.filter(incident=incident).only("root_cause").first()
    items = ActionItem.objects.filter(incident=incident).select_related("owner")
    lines = [_item_line(item) for item in items.order_by("due_date", "pk")]
    path = review_path(incident.number)
    return {
        "root_cause": root_cause_short(review.root_cause) if review else "",
        "action_items": lines,
        "action_items_text": "\n".join(lines) or "- none yet",
        "review_url": (portal_url(path) or path) if review else "",
    }


def root_cause_short(markdown: str) -> str:
    """The root-cause section's words on one line, without its headings and the draft's
    placeholders, cut at ROOT_CAUSE_MAX_LENGTH characters ('' when not written)."""
    words = " ".join(
        line.strip()
        for line in markdown.splitlines()
        if line.strip() and not line.lstrip().startswith("#") and line.strip() != TO_FILL
    )
    words = " ".join(words.split())
    if len(words) <= ROOT_CAUSE_MAX_LENGTH:
        return words
    return words[: ROOT_CAUSE_MAX_LENGTH - 1].rstrip() + "…"


def _item_line(item: ActionItem) -> str:
    return (
        f"- [{item.priority}] {item.title} (owner {display_name(item.owner)}, "
        f"due {item.due_date}, {item.get_status_display().lower()})"
    )


REVIEW_VARIABLES = ExtraVariables(
    docs={
        "root_cause": "The review's root cause on one line (empty while not written).",
        "action_items": "The incident's action items, one line each, as a list.",
        "action_items_text": "The same, one per line ('- none yet' if none).",
        "review_url": "The post-incident review's page (empty while there is none).",
    },
    sample={
        "root_cause": "The connection pool was exhausted by a retry storm.",
        "action_items": ["- [P1] Alert on pool saturation (owner Ada Lovelace, due 2026-01-19)"],
        "action_items_text": "- [P1] Alert on pool saturation (owner Ada Lovelace, due 2026-01-19)",
        "review_url": "https://portal.example/postmortems/INC0000042/",
    },
    provide=review_variables,
)
