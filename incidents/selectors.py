"""Reads that the portal and the API share, with their joins done once."""

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.utils import timezone

from incidents.choices import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    ChecklistItem,
    EventType,
    Impact,
    IncidentStatus,
    Priority,
    SlaTimerState,
    Urgency,
)
from incidents.history import record_name, username
from incidents.models import (
    WORK_PERMISSION,
    ChecklistEntry,
    Incident,
    IncidentEvent,
    IncidentResponder,
    PriorityMatrixEntry,
    Service,
    SlaTimer,
    Team,
)
from incidents.services import DEFAULT_MATRIX

BREACHING_SOON = timedelta(hours=1)
# The timeline events an incident page shows at once, newest first; older ones come a page at
# a time, so the page costs the same however long the timeline grows.
TIMELINE_PAGE_SIZE = 50
# The latest field changes an incident page shows (the API's history has them all).
HISTORY_SHOWN = 50


def is_major(prefix: str = "") -> ExpressionWrapper:
    """True for an incident that is a major incident now (declared and not demoted), read
    through the war room's reverse one-to-one by name, so the core imports nothing from it:
    a join in the same query, not one more query per row."""
    major = f"{prefix}major_incident"
    condition = Q(**{f"{major}__isnull": False, f"{major}__demoted_at__isnull": True})
    return ExpressionWrapper(condition, output_field=BooleanField())


def incident_queryset() -> QuerySet[Incident]:
    """Incidents with what a list row shows: team, people, services, SLA timers and whether
    each is a major incident (`is_major`), in fixed queries."""
    return (
        Incident.objects.select_related("team", "assignee", "reporter")
        .prefetch_related(
            Prefetch("services", queryset=Service.objects.only("id", "slug", "name")),
            Prefetch("sla_timers", queryset=SlaTimer.objects.order_by("target_at", "kind")),
        )
        .annotate(is_major=is_major())
    )


def incident_detail_queryset() -> QuerySet[Incident]:
    return (
        incident_queryset()
        # The war room's link on the page: a reverse one-to-one named by string, so the core
        # still imports nothing from the warroom app.
        .select_related("duplicate_of", "major_incident")
        .prefetch_related(
            Prefetch("checklist", queryset=ChecklistEntry.objects.select_related("ticked_by"))
        )
    )


def incident_api_queryset() -> QuerySet[Incident]:
    """Incidents for the API's list: the row and its team and people in one query; the
    services and SLA timers of a whole page are read by `incident_related_rows`."""
    return Incident.objects.select_related("team", "assignee", "reporter")


def incident_api_detail_queryset() -> QuerySet[Incident]:
    """One incident for the API's detail: the list's row, its duplicate and its checklist."""
    return (
        incident_api_queryset()
        .select_related("duplicate_of")
        .prefetch_related(
            Prefetch("checklist", queryset=ChecklistEntry.objects.select_related("ticked_by"))
        )
    )


# An SLA timer as the API shows it, read as a tuple (`values_list(named=True)`).
SLA_TIMER_COLUMNS = (
    "kind",
    "state",
    "started_at",
    "target_at",
    "warn_at",
    "warned_at",
    "breached_at",
    "stopped_at",
    "paused_at",
)


@dataclass(frozen=True)
class IncidentRelated:
    """The service slugs (by service name) and SLA timer rows (by target) of some incidents,
    keyed by incident id."""

    services: dict[int, list[str]]
    sla_timers: dict[int, list]


def incident_related_rows(ids: Iterable[int]) -> IncidentRelated:
    """Two queries of plain rows for any number of incidents: building model instances for a
    page's services and ~150 timers cost more than everything else in the list."""
    ids = list(ids)
    services, timers = defaultdict(list), defaultdict(list)
    links = Incident.services.through.objects.filter(incident_id__in=ids)
    for incident_id, slug in links.order_by("service__name").values_list(
        "incident_id", "service__slug"
    ):
        services[incident_id].append(slug)
    rows = SlaTimer.objects.filter(incident_id__in=ids).order_by("target_at", "kind")
    for row in rows.values_list("incident_id", *SLA_TIMER_COLUMNS, named=True):
        timers[row.incident_id].append(row)
    return IncidentRelated(services=services, sla_timers=timers)


def incident_timeline(*, incident: Incident) -> QuerySet[IncidentEvent]:
    return incident.events.select_related("actor").order_by("at", "id")


def sees_internal_events(user) -> bool:
    """Whoever works incidents reads their whole timeline; a read-only role (a stakeholder)
    reads the public events only: internal notes are the responders' working talk."""
    return user.has_perm(WORK_PERMISSION)


def visible_events(events: QuerySet[IncidentEvent], *, user) -> QuerySet[IncidentEvent]:
    """`events` narrowed to what `user` may read."""
    return events if sees_internal_events(user) else events.filter(public=True)


def visible_timeline(*, incident: Incident, user) -> QuerySet[IncidentEvent]:
    return visible_events(incident_timeline(incident=incident), user=user)


def timeline_page(
    events: QuerySet[IncidentEvent], *, before: int | None = None
) -> tuple[list[IncidentEvent], int | None]:
    """The newest TIMELINE_PAGE_SIZE of `events` (a timeline, in its order: time, then id),
    newest first, or those before event `before` in that order; and the id to pass as `before`
    for the page after, None when nothing is older. An event not among `events` has nothing
    before it."""
    if before is not None:
        at = Subquery(events.filter(pk=before).order_by().values("at")[:1])
        events = events.filter(at__lte=at).filter(Q(at__lt=at) | Q(pk__lt=before))
    rows = list(events.reverse()[: TIMELINE_PAGE_SIZE + 1])
    older = rows[TIMELINE_PAGE_SIZE - 1].pk if len(rows) > TIMELINE_PAGE_SIZE else None
    return rows[:TIMELINE_PAGE_SIZE], older


def timeline_responders(events: QuerySet[IncidentEvent]) -> list[dict]:
    """The responders added, newest first, as the timeline `events` record them (username,
    name, by whom, when): read on their own, as the page shows only the latest events."""
    return [
        {**person, "added_by": event.actor, "added_at": event.at}
        for event in events.filter(type=EventType.RESPONDERS).reverse()
        for person in event.data.get("added", [])
    ]


def incident_responders(*, incident: Incident) -> QuerySet[IncidentResponder]:
    """The incident's responders with who added them, in the order they were added."""
    return incident.responders.select_related("user", "added_by")


def acknowledgement(*, incident: Incident) -> IncidentEvent | None:
    """The timeline event of the incident's latest acknowledgement, with who did it."""
    return (
        incident_timeline(incident=incident)
        .filter(type=EventType.TRANSITION, data__transition="acknowledge")
        .last()
    )


def incident_history(*, incident: Incident):
    return incident.history.select_related("history_user").order_by("-history_date", "-history_id")


# The linked records a history diff names instead of numbering them.
FOREIGN_KEYS = {
    "assignee": get_user_model(),
    "reporter": get_user_model(),
    "team": Team,
    "duplicate_of": Incident,
}


def _name_foreign_keys(rows: list[dict], person) -> list[dict]:
    """Replace raw foreign-key ids in the diffs by the records' names (history.record_name;
    `person` names users), with one query per related model whatever the number of rows."""
    changes = [c for row in rows for c in row["changes"] if c["field"] in FOREIGN_KEYS]
    wanted = defaultdict(set)
    for change in changes:
        model = FOREIGN_KEYS[change["field"]]
        wanted[model].update(v for v in (change["old"], change["new"]) if v is not None)
    names = {
        model: {
            record.pk: record_name(record, person=person)
            for record in model.objects.filter(pk__in=ids)
        }
        for model, ids in wanted.items()
    }
    for change in changes:
        known = names[FOREIGN_KEYS[change["field"]]]
        change["old"] = known.get(change["old"], change["old"])
        change["new"] = known.get(change["new"], change["new"])
    return rows


def checklist_rows(incident: Incident) -> list[dict]:
    """All seven closure items, ticked or not, from the prefetched entries."""
    ticked = {entry.item: entry for entry in incident.checklist.all()}
    return [
        {
            "item": key,
            "label": label,
            "done": key in ticked,
            "ticked_by": ticked[key].ticked_by.get_username() if key in ticked else None,
            "ticker": ticked[key].ticked_by if key in ticked else None,
            "ticked_at": ticked[key].ticked_at if key in ticked else None,
        }
        for key, label in ChecklistItem.choices
    ]


def history_with_diffs(*, incident: Incident, person=username, latest: int | None = None):
    """History rows, newest first, each with the fields that changed from the row before;
    linked records are named (people by `person`: the username unless the caller shows
    names, team slug, incident number), not numbered. `actor` is who made the change.
    `latest`: only that many of the newest rows (one more is read, for the oldest one's diff)."""
    records = incident_history(incident=incident)
    if latest is not None:
        records = records[: latest + 1]
    records = list(records)
    rows = []
    for newer, older in zip(records, [*records[1:], None], strict=True):
        changes = []
        if older is not None:
            delta = newer.diff_against(older, excluded_fields=["updated_at"])
            changes = [{"field": c.field, "old": c.old, "new": c.new} for c in delta.changes]
        rows.append(
            {
                "at": newer.history_date,
                "user": person(newer.history_user) if newer.history_user else None,
                "actor": newer.history_user,
                "reason": newer.history_change_reason or "",
                "type": newer.get_history_type_display(),
                "changes": changes,
            }
        )
    return _name_foreign_keys(rows[:latest], person)


def sla_due_soon(now, within: timedelta = BREACHING_SOON) -> Q:
    """SLA timers still running whose target falls within `within` from `now`."""
    return Q(state=SlaTimerState.RUNNING, target_at__gt=now, target_at__lte=now + within)


def sla_overdue(now) -> Q:
    """SLA timers past their target and not yet stopped: breached, or running past the target
    a moment before the clock records the breach."""
    return Q(state=SlaTimerState.BREACHED, stopped_at__isnull=True) | Q(
        state=SlaTimerState.RUNNING, target_at__lte=now
    )


@dataclass(frozen=True)
class Breaching:
    """The dashboard's "Breaching soon": targets falling due (soonest first) and targets
    already missed (the most recent first), each list limited on its own so that older overdue
    rows never hide what is about to breach, with how many incidents each concerns in all."""

    due_soon: list[SlaTimer]
    overdue: list[SlaTimer]
    due_soon_count: int
    overdue_count: int


def breaching_soon(*, now=None, within: timedelta = BREACHING_SOON, limit: int = 10) -> Breaching:
    """Timers of open incidents falling due within `within`, and those overdue: three queries
    (the two counts together, then each list with its incidents). Both kinds are timers not
    stopped (a running timer never is), which an index orders by target."""
    now = now or timezone.now()
    due, overdue = sla_due_soon(now, within), sla_overdue(now)
    timers = SlaTimer.objects.filter(incident__status__in=OPEN_STATUSES, stopped_at__isnull=True)
    counts = timers.aggregate(
        due=Count("incident", filter=due, distinct=True),
        overdue=Count("incident", filter=overdue, distinct=True),
    )
    rows = timers.select_related("incident").annotate(is_major=is_major("incident__"))
    return Breaching(
        due_soon=list(rows.filter(due).order_by("target_at", "pk")[:limit]),
        overdue=list(rows.filter(overdue).order_by("-target_at", "-pk")[:limit]),
        due_soon_count=counts["due"],
        overdue_count=counts["overdue"],
    )


def dashboard_lists(*, user, limit: int = 10) -> dict[str, list[Incident]]:
    base = incident_queryset()
    return {
        "mine": list(base.filter(assignee=user, status__in=OPEN_STATUSES)[:limit]),
        "unacknowledged": list(
            base.filter(status=IncidentStatus.NEW).order_by("priority", "created_at")[:limit]
        ),
        "recent": list(base.exclude(status__in=FINAL_STATUSES)[:limit]),
    }


def priority_matrix() -> dict[str, str]:
    """Every cell of the impact × urgency → priority matrix, keyed "impact,urgency": the
    configured cells over the defaults, as `services.priority_for` gives them one by one, in
    one query (the create form previews the priority with it)."""
    configured = {
        (cell.impact, cell.urgency): cell.priority for cell in PriorityMatrixEntry.objects.all()
    }
    return {
        f"{impact},{urgency}": configured.get((impact, urgency))
        or DEFAULT_MATRIX.get((impact, urgency), Priority.P4)
        for impact in Impact.values
        for urgency in Urgency.values
    }


# --- service impact (the dependency graph) --------------------------------------------------


@dataclass(frozen=True)
class Downstream:
    service: Service
    depth: int  # 1: depends on the service directly; 2: on one of those; ...


@dataclass(frozen=True)
class ServiceImpact:
    service: Service
    downstream: list[Downstream]
    affected_users: int  # the service's users and every downstream service's, each once


def _dependents_by_service() -> dict[int, list[int]]:
    """service id → ids of the services that depend on it directly, from every edge at once.
    A CMDB holds hundreds of services, not millions: one query and a walk in Python cost the
    same at any depth, on SQLite and PostgreSQL alike, where a recursive query would not."""
    dependents = defaultdict(list)
    edges = Service.depends_on.through.objects.values_list("to_service_id", "from_service_id")
    for needed_id, dependent_id in edges:
        dependents[needed_id].append(dependent_id)
    return dependents


def _reach(start_ids: Iterable[int]) -> dict[int, int]:
    """Every service reachable from `start_ids` through its dependents, with its distance
    (0 for the start); breadth first, so each is seen once and cycles end."""
    dependents = _dependents_by_service()
    depth = dict.fromkeys(start_ids, 0)
    queue = deque(depth)
    while queue:
        current = queue.popleft()
        for dependent_id in dependents[current]:
            if dependent_id not in depth:
                depth[dependent_id] = depth[current] + 1
                queue.append(dependent_id)
    return depth


def service_impact(*, service: Service) -> ServiceImpact:
    """What an outage of `service` touches: every service that depends on it, directly or
    transitively (nearest first), and the users of them all. Two queries at any depth."""
    depth = _reach([service.pk])
    others = Service.objects.filter(pk__in=[pk for pk in depth if pk != service.pk])
    downstream = sorted(
        (Downstream(service=other, depth=depth[other.pk]) for other in others),
        key=lambda row: (row.depth, row.service.name),
    )
    total = service.user_count + sum(row.service.user_count for row in downstream)
    return ServiceImpact(service=service, downstream=downstream, affected_users=total)


def affected_users_for(services: Iterable[Service]) -> int:
    """The users of an incident's services and of every service depending on any of them,
    each service counted once however many paths lead to it."""
    start_ids = {service.pk for service in services}
    if not start_ids:
        return 0
    reached = Service.objects.filter(pk__in=_reach(start_ids))
    return reached.aggregate(total=Sum("user_count"))["total"] or 0
