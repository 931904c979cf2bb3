"""Reads that the portal and the API share, with their joins done once."""

from django.db.models import Prefetch, QuerySet

from incidents.choices import OPEN_STATUSES, IncidentStatus
from incidents.models import ChecklistEntry, Incident, IncidentEvent, Service


def incident_queryset() -> QuerySet[Incident]:
    """Incidents with what a list row shows: team, people and services, in fixed queries."""
    return Incident.objects.select_related("team", "assignee", "reporter").prefetch_related(
        Prefetch("services", queryset=Service.objects.only("id", "slug", "name"))
    )


def incident_detail_queryset() -> QuerySet[Incident]:
    return incident_queryset().select_related("duplicate_of").prefetch_related(
        Prefetch("checklist", queryset=ChecklistEntry.objects.select_related("ticked_by"))
    )


def incident_timeline(*, incident: Incident) -> QuerySet[IncidentEvent]:
    return incident.events.select_related("actor").order_by("at", "id")


def incident_history(*, incident: Incident):
    return incident.history.select_related("history_user").order_by("-history_date", "-history_id")


def history_with_diffs(*, incident: Incident) -> list[dict]:
    """History rows, newest first, each with the fields that changed from the row before."""
    records = list(incident_history(incident=incident))
    rows = []
    for newer, older in zip(records, records[1:] + [None], strict=True):
        changes = []
        if older is not None:
            delta = newer.diff_against(older, excluded_fields=["updated_at"])
            changes = [
                {"field": c.field, "old": c.old, "new": c.new} for c in delta.changes
            ]
        rows.append(
            {
                "at": newer.history_date,
                "user": newer.history_user.get_username() if newer.history_user else None,
                "reason": newer.history_change_reason or "",
                "type": newer.get_history_type_display(),
                "changes": changes,
            }
        )
    return rows


def dashboard_lists(*, user, limit: int = 10) -> dict[str, list[Incident]]:
    base = incident_queryset()
    return {
        "mine": list(base.filter(assignee=user, status__in=OPEN_STATUSES)[:limit]),
        "unacknowledged": list(
            base.filter(status=IncidentStatus.NEW).order_by("priority", "created_at")[:limit]
        ),
        "recent": list(base[:limit]),
    }
