"""Reads of the public status page, shared by the page, the Statuspage-compatible JSON, the
feeds and the API. Each costs a fixed number of queries however many incidents, updates and
components there are (tests/warroom/test_status_page.py counts them).

Only public components, and only what people posted (names, update bodies, component states),
are read here: never an incident's own fields, notes, services or people.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Max, OuterRef, Prefetch, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from warroom.choices import (
    ACTIVE_MAINTENANCE,
    COMPONENT_SEVERITY,
    INDICATOR_OF,
    ComponentStatus,
    Indicator,
    MaintenanceStatus,
    StatusIncidentStatus,
)
from warroom.models import (
    AffectedComponent,
    ComponentGroup,
    Maintenance,
    MaintenanceUpdate,
    StatusComponent,
    StatusImpact,
    StatusIncident,
    StatusUpdate,
)
from warroom.status import cache

HISTORY_DAYS = 14
HISTORY_PER_DAY = 10
UPTIME_DAYS = 90
INCIDENTS_JSON_LIMIT = 50  # Statuspage's incidents.json: the 50 most recent
FEED_LIMIT = 100
OPERATIONAL = ComponentStatus.OPERATIONAL
INDICATOR_RANK = {value: rank for rank, value in enumerate(Indicator.values)}
# Outage states that count against uptime (degraded performance and maintenance do not).
DOWNTIME = {ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.MAJOR_OUTAGE}


def worst(statuses) -> str:
    return max(statuses, key=lambda s: COMPONENT_SEVERITY[s], default=OPERATIONAL)


# --- components ----------------------------------------------------------------------------------


def public_components() -> list[StatusComponent]:
    """Every public component, in page order (its group's, then its own), each with `state`."""
    return with_states(StatusComponent.objects.filter(public=True))


def with_states(queryset) -> list[StatusComponent]:
    """The components of `queryset` in page order (grouped ones first, on every database),
    each with its `state`: three queries."""
    groups = (F("group__position").asc(nulls_last=True), F("group__name").asc(nulls_last=True))
    components = list(queryset.select_related("group").order_by(*groups, "position", "name"))
    states = component_states(components)
    for component in components:
        component.state = states[component.pk]
    return components


def component_states(components) -> dict[int, str]:
    """Each component's state: its override, else the worst its open public incidents give it,
    else under maintenance during an active maintenance, else operational. Two queries."""
    ids = [c.pk for c in components]
    from_incidents = defaultdict(list)
    rows = StatusImpact.objects.filter(component_id__in=ids).exclude(
        status_incident__status=StatusIncidentStatus.RESOLVED
    )
    for component_id, status in rows.values_list("component_id", "status"):
        from_incidents[component_id].append(status)
    in_maintenance = set(
        Maintenance.components.through.objects.filter(
            statuscomponent_id__in=ids, maintenance__status__in=ACTIVE_MAINTENANCE
        ).values_list("statuscomponent_id", flat=True)
    )
    states = {}
    for component in components:
        derived = worst(from_incidents[component.pk])
        if derived == OPERATIONAL and component.pk in in_maintenance:
            derived = ComponentStatus.UNDER_MAINTENANCE
        states[component.pk] = component.status_override or derived
    return states


@dataclass
class Group:
    """A heading of the page and its components (`group` None: those in no group)."""

    group: ComponentGroup | None
    components: list[StatusComponent] = field(default_factory=list)

    @property
    def state(self) -> str:
        return worst(c.state for c in self.components)


def grouped(components: list[StatusComponent]) -> list[Group]:
    groups: dict[int | None, Group] = {}
    for component in components:
        groups.setdefault(component.group_id, Group(component.group)).components.append(component)
    return list(groups.values())


# --- incidents -----------------------------------------------------------------------------------


def status_incident_queryset() -> QuerySet[StatusIncident]:
    """Public incidents with their updates (newest first), each update's public affected
    components, and the public components each incident affects; `number` is the incident's
    (the incident's own row is never read for the public)."""
    affected = AffectedComponent.objects.filter(component__public=True).select_related("component")
    updates = StatusUpdate.objects.order_by("-created_at", "-id").prefetch_related(
        Prefetch("affected_components", queryset=affected)
    )
    impacts = StatusImpact.objects.filter(component__public=True).select_related("component")
    incidents = StatusIncident.objects.annotate(number=F("incident__number"))
    return incidents.order_by("-created_at", "-id").prefetch_related(
        Prefetch("updates", queryset=updates),
        Prefetch("impacts", queryset=impacts.order_by("component__position", "component__name")),
    )


def unresolved_incidents() -> list[StatusIncident]:
    return list(status_incident_queryset().exclude(status=StatusIncidentStatus.RESOLVED))


def recent_incidents(*, limit: int = INCIDENTS_JSON_LIMIT) -> list[StatusIncident]:
    return list(status_incident_queryset()[:limit])


# What the page reads of an incident beside its HTML (cache.fragments), and `last_update`, the
# id of its latest update, which changes with all the HTML shows.
PAGE_FIELDS = ("status", "impact", "created_at", "updated_at")


def _for_page(incidents: QuerySet[StatusIncident]) -> QuerySet[StatusIncident]:
    latest = StatusUpdate.objects.filter(status_incident=OuterRef("pk")).order_by("-id")
    return incidents.only(*PAGE_FIELDS).annotate(last_update=Subquery(latest.values("id")[:1]))


def page_open_incidents() -> list[StatusIncident]:
    unresolved = StatusIncident.objects.exclude(status=StatusIncidentStatus.RESOLVED)
    return list(_for_page(unresolved).order_by("-created_at", "-id"))


def incidents_by_id(ids) -> dict[int, StatusIncident]:
    """Incidents with everything their HTML shows (status_incident_queryset): four queries."""
    return {incident.pk: incident for incident in status_incident_queryset().filter(pk__in=ids)}


def page_indicator(components, open_incidents) -> str:
    """Statuspage's page indicator: the worst of the components' states (degraded → minor,
    partial outage → major, major outage → critical) and of the open incidents' impacts."""
    indicators = [INDICATOR_OF[c.state] for c in components]
    indicators += [i.impact for i in open_incidents]
    return max(indicators, key=INDICATOR_RANK.__getitem__, default=Indicator.NONE)


def recent_updates(*, limit: int = FEED_LIMIT) -> QuerySet[StatusUpdate]:
    """The latest public updates, newest first, each with its incident (the feeds)."""
    updates = StatusUpdate.objects.select_related("status_incident").annotate(
        number=F("status_incident__incident__number")
    )
    return updates.order_by("-created_at", "-id")[:limit]


# --- maintenances --------------------------------------------------------------------------------


def maintenance_queryset() -> QuerySet[Maintenance]:
    components = StatusComponent.objects.filter(public=True).order_by("position", "name")
    updates = MaintenanceUpdate.objects.order_by("-created_at", "-id")
    return Maintenance.objects.order_by("scheduled_for", "id").prefetch_related(
        Prefetch("components", queryset=components), Prefetch("updates", queryset=updates)
    )


def active_maintenances() -> QuerySet[Maintenance]:
    return maintenance_queryset().filter(status__in=ACTIVE_MAINTENANCE)


def upcoming_maintenances() -> QuerySet[Maintenance]:
    return maintenance_queryset().filter(status=MaintenanceStatus.SCHEDULED)


def recent_maintenances(*, limit: int = INCIDENTS_JSON_LIMIT) -> QuerySet[Maintenance]:
    return maintenance_queryset().order_by("-scheduled_for", "-id")[:limit]


def open_maintenances() -> QuerySet[Maintenance]:
    """Scheduled, in progress or being verified: what the page and summary.json show."""
    return maintenance_queryset().exclude(status=MaintenanceStatus.COMPLETED)


# --- history and uptime --------------------------------------------------------------------------


def local_day(moment: datetime, zone=None) -> date:
    return moment.astimezone(zone or timezone.get_current_timezone()).date()


@dataclass
class Day:
    """A day of the history: its latest incidents, and how many more began on it."""

    day: date
    incidents: list
    more: int


def history(*, now: datetime) -> list[Day]:
    """The last HISTORY_DAYS days, newest first, each with the incidents that began on it,
    newest first and at most HISTORY_PER_DAY of them, so that the page stays small on the
    busiest days. One query, of those shown."""
    zone = timezone.get_current_timezone()
    today = local_day(now, zone)
    days = [today - timedelta(days=n) for n in range(HISTORY_DAYS)]
    day = TruncDate("created_at", tzinfo=zone)
    newest = (F("created_at").desc(), F("id").desc())
    since = datetime.combine(days[-1], time(), zone)
    rows = (
        _for_page(StatusIncident.objects.filter(created_at__gte=since))
        .annotate(
            day=day,
            rank=Window(RowNumber(), partition_by=day, order_by=newest),
            that_day=Window(Count("id"), partition_by=day),
        )
        .filter(rank__lte=HISTORY_PER_DAY)
        .order_by(*newest)
    )
    by_day = defaultdict(list)
    for incident in rows:
        by_day[incident.day].append(incident)
    return [
        Day(day, by_day[day], by_day[day][0].that_day - len(by_day[day]) if by_day[day] else 0)
        for day in days
    ]


@dataclass
class Uptime:
    """A component's last UPTIME_DAYS days, oldest first: each day's worst state, and the
    share of the whole time spent outside partial or major outages."""

    days: list[tuple[date, str]]
    percent: float


@dataclass
class Windows:
    """A component's impact windows, reduced: the worst state of each local day they touch
    (by the day's ordinal), and the periods spent in partial or major outage (merged; epoch
    seconds). Plain numbers, as they are kept in the cache."""

    days: dict[int, str] = field(default_factory=dict)
    down: list[float] = field(default_factory=list)  # start, end, start, end, …


def uptime(components, *, now: datetime) -> dict[int, Uptime]:
    """Per component, from the impact windows of public incidents that affected it: from the
    incident's start of impact to its resolution (now, while open), at the worst state the
    incident gave the component. Those of resolved incidents are reduced once and kept
    (`resolved_windows`); those of open ones are read each time. Two queries, three when a
    resolved incident changed."""
    start = now - timedelta(days=UPTIME_DAYS)
    zone = timezone.get_current_timezone()
    resolved = resolved_windows(now=now, zone=zone)
    rows = StatusImpact.objects.filter(
        status_incident__resolved_at__isnull=True, status_incident__started_at__lt=now
    )
    current = _reduce(_window_rows(rows), since=start, now=now, zone=zone)
    first = local_day(start + timedelta(days=1), zone)
    days = [first + timedelta(days=n) for n in range(UPTIME_DAYS)]
    return {
        c.pk: _uptime([resolved.get(c.pk), current.get(c.pk)], days, start=start, now=now)
        for c in components
    }


def resolved_windows(*, now: datetime, zone) -> dict[int, Windows]:
    """The windows of the incidents resolved since the uptime's first day, reduced, for every
    component. Kept in the cache under the number of those incidents and the latest change of
    any, which resolving, reopening, updating or deleting one changes, and the day."""
    since = datetime.combine(local_day(now, zone) - timedelta(days=UPTIME_DAYS + 1), time(), zone)
    incidents = StatusIncident.objects.filter(
        status=StatusIncidentStatus.RESOLVED, resolved_at__gt=since
    )
    stamp = incidents.aggregate(count=Count("id"), last=Max("updated_at"))
    rows = StatusImpact.objects.filter(status_incident__in=incidents)
    return cache.computed(
        f"uptime:{since:%Y%m%d}:{stamp['count']}:{stamp['last'] and stamp['last'].isoformat()}",
        lambda: _reduce(_window_rows(rows), since=since, now=now, zone=zone),
    )


def _window_rows(impacts):
    return impacts.values_list(
        "component_id",
        "worst_status",
        "status_incident__started_at",
        "status_incident__resolved_at",
    )


def _reduce(rows, *, since: datetime, now: datetime, zone) -> dict[int, Windows]:
    reduced = defaultdict(Windows)
    outages = defaultdict(list)
    for component_id, state, began, ended in rows:
        began, ended = max(began, since), ended or now
        days = reduced[component_id].days
        first, last = local_day(began, zone).toordinal(), local_day(ended, zone).toordinal()
        for day in range(first, last + 1):
            if COMPONENT_SEVERITY[state] > COMPONENT_SEVERITY[days.get(day, OPERATIONAL)]:
                days[day] = state
        if state in DOWNTIME:
            outages[component_id].append((began.timestamp(), ended.timestamp()))
    for component_id, periods in outages.items():
        reduced[component_id].down = [moment for period in _merged(periods) for moment in period]
    return dict(reduced)


def _uptime(parts: list[Windows | None], days: list[date], *, start, now) -> Uptime:
    parts = [part for part in parts if part is not None]
    worst_of = dict(parts[0].days) if parts else {}
    for part in parts[1:]:
        for day, state in part.days.items():
            worst_of[day] = worst([worst_of.get(day, OPERATIONAL), state])
    states = [(day, worst_of.get(day.toordinal(), OPERATIONAL)) for day in days]
    low, high = start.timestamp(), now.timestamp()
    periods = [
        (max(began, low), min(ended, high))
        for part in parts
        for began, ended in zip(part.down[::2], part.down[1::2], strict=True)
        if ended > low and began < high
    ]
    if len(parts) > 1:  # each part's periods are disjoint already
        periods = _merged(periods)
    down = sum(ended - began for began, ended in periods)
    total = high - low
    return Uptime(days=states, percent=round(100 * (1 - down / total), 2))


def _merged(periods) -> list[tuple[float, float]]:
    """The union of (start, end) periods, as disjoint periods in order."""
    merged: list[tuple[float, float]] = []
    for began, ended in sorted(periods):
        if merged and began <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ended))
        else:
            merged.append((began, ended))
    return merged


# --- the whole page ------------------------------------------------------------------------------


@dataclass
class StatusPage:
    components: list[StatusComponent]
    groups: list[Group]
    indicator: str
    open_incidents: list[StatusIncident]
    history: list[Day]
    maintenances: list[Maintenance]

    @property
    def description(self) -> str:
        return Indicator(self.indicator).label

    @property
    def shown_incidents(self) -> list[StatusIncident]:
        """Every incident the page shows (an open one may be in the history too)."""
        return self.open_incidents + [i for day in self.history for i in day.incidents]

    @property
    def updated_at(self) -> datetime | None:
        """The last change of anything the page shows."""
        shown = [*self.components, *self.shown_incidents, *self.maintenances]
        return max((row.updated_at for row in shown), default=None)


def status_page(*, now: datetime | None = None) -> StatusPage:
    now = now or timezone.now()
    components = public_components()
    open_incidents = page_open_incidents()
    days = history(now=now)
    maintenances = list(open_maintenances())
    uptimes = uptime(components, now=now)
    for component in components:
        component.uptime = uptimes[component.pk]
    return StatusPage(
        components=components,
        groups=grouped(components),
        indicator=page_indicator(components, open_incidents),
        open_incidents=open_incidents,
        history=days,
        maintenances=maintenances,
    )
