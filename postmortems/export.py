"""The review as one Markdown document (`/postmortems/<number>/export.md`), and the order of
the document's parts that the portal's pages follow too."""

from django.utils import timezone

from postmortems.models import SECTIONS, PostIncidentReview

# The template's order (incident-response-workflow.md): the timeline after the impact, the
# action items after what went poorly and where we got lucky.
TIMELINE = "timeline"
ACTION_ITEMS = "action_items"
DOCUMENT_ORDER = [
    "summary",
    "impact",
    TIMELINE,
    "trigger_detection",
    "root_cause",
    "went_well",
    "went_poorly",
    "got_lucky",
    ACTION_ITEMS,
    "prevention",
    "lessons_learned",
]
TIMELINE_HEADERS = {"at": "Time", "event": "Event", "action": "Action", "owner": "Owner"}
ACTION_ITEM_HEADERS = ["Title", "Owner", "Due", "Priority", "Type", "Status"]
NOT_WRITTEN = "_Not written yet._"


def _cell(value) -> str:
    """One table cell: a pipe escaped, line breaks folded, so the row stays one row."""
    text = str(value or "").replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.split()) or " "


def _table(headers: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else "nobody"


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z") if moment else "—"


def _facts(review: PostIncidentReview) -> list[str]:
    facts = review.facts or {}
    breaches = "; ".join(
        f"{breach['kind']} late by {breach['late']}" for breach in facts.get("sla_breaches", [])
    )
    rows = [
        ("Incident", f"{review.incident.number} {review.incident.title}"),
        ("Priority", facts.get("priority") or review.incident.priority),
        ("Duration", facts.get("duration")),
        ("Commander", facts.get("commander")),
        ("Team", facts.get("team")),
        ("Services", ", ".join(facts.get("services", []))),
        ("Affected users", facts.get("affected_users")),
        ("SLA breaches", breaches or "none"),
        ("Status", review.get_status_display()),
        ("Due", _local(review.due_at)),
        ("Owner", _name(review.owner)),
    ]
    return [f"- **{label}:** {value if value not in (None, '') else '—'}" for label, value in rows]


def _timeline(review: PostIncidentReview) -> list[str]:
    if not review.timeline:
        return [NOT_WRITTEN]
    rows = [[row.get(column, "") for column in TIMELINE_HEADERS] for row in review.timeline]
    return _table(list(TIMELINE_HEADERS.values()), rows)


def _action_items(items) -> list[str]:
    rows = [
        [
            item.title,
            _name(item.owner),
            item.due_date.isoformat(),
            item.priority,
            item.get_type_display(),
            item.get_status_display()
            + (f" ({item.wont_do_reason})" if item.wont_do_reason else ""),
        ]
        for item in items
    ]
    return _table(ACTION_ITEM_HEADERS, rows) if rows else ["_No action items._"]


def document_headings() -> list[tuple[str, str]]:
    """(part, heading) in the document's order: the sections, the timeline, the action items."""
    extra = {TIMELINE: "Timeline", ACTION_ITEMS: "Action items"}
    return [(part, SECTIONS.get(part) or extra[part]) for part in DOCUMENT_ORDER]


def review_markdown(review: PostIncidentReview, items=None) -> str:
    """The whole review as Markdown: a title, the facts, then every part in the document's
    order. `items`: its action items, when the caller has them already."""
    if items is None:
        items = review.incident.action_items.select_related("owner")
    lines = [f"# Post-incident review: {review.incident.number} {review.incident.title}", ""]
    lines += ["## Facts", "", *_facts(review), ""]
    for part, heading in document_headings():
        if part == TIMELINE:
            body = _timeline(review)
        elif part == ACTION_ITEMS:
            body = _action_items(items)
        else:
            body = [getattr(review, part).strip() or NOT_WRITTEN]
        lines += [f"## {heading}", "", *body, ""]
    if review.public_summary.strip():
        lines += ["## Public summary", "", review.public_summary.strip(), ""]
    return "\n".join(lines)
