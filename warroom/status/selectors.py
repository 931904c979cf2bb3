"""Reads of the public status page, shared by the page, the Statuspage-compatible JSON, the
feeds and the API. Each costs a fixed number of queries however many incidents, updates and
components there are (tests/warroom/test_status_page.py counts them).

Only public components, and only what people posted (names, update bodies, component states),
are read here: never an incident's own fields, notes, services or people.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import F, Prefetch, Q, QuerySet
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

HISTORY_DAYS = 14
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
    """The components of `queryset` in page order, each with its `state`: three queries."""
    components = list(
        queryset.select_related("group").order_by(
            "group__position", "group__name", "position", "name"
        )
    )
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


def page_incidents(*, now: datetime) -> list[StatusIncident]:
    """The open incidents, and those resolved within the history's days: one read for both."""
    since = now - timedelta(days=HISTORY_DAYS)
    recent = Q(resolved_at__isnull=True) | Q(resolved_at__gte=since) | Q(created_at__gte=since)
    return list(status_incident_queryset().filter(recent))


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


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def history_days(incidents: list[StatusIncident], *, now: datetime) -> list[tuple[date, list]]:
    """The last HISTORY_DAYS days, newest first, each with the incidents that began on it."""
    today = local_day(now)
    by_day = defaultdict(list)
    for incident in incidents:
        by_day[local_day(incident.created_at)].append(incident)
    days = [today - timedelta(days=n) for n in range(HISTORY_DAYS)]
    return [(day, by_day[day]) for day in days]


@dataclass
class Uptime:
    """A component's last UPTIME_DAYS days, oldest first: each day's worst state, and the
    share of the whole time spent outside partial or major outages."""

    days: list[tuple[date, str]]
    percent: float


def uptime(components, *, now: datetime) -> dict[int, Uptime]:
    """Per component, from the impact windows of public incidents that affected it: from the
    incident's start of impact to its resolution (now, while open), at the worst state the
    incident gave the component. One query."""
    start = now - timedelta(days=UPTIME_DAYS)
    rows = StatusImpact.objects.filter(component__in=[c.pk for c in components]).filter(
        Q(status_incident__resolved_at__isnull=True) | Q(status_incident__resolved_at__gt=start),
        status_incident__started_at__lt=now,
    )
    windows = defaultdict(list)
    values = rows.values_list(
        "component_id",
        "worst_status",
        "status_incident__started_at",
        "status_incident__resolved_at",
    )
    for component_id, state, began, ended in values:
        windows[component_id].append((max(began, start), min(ended or now, now), state))
    first = local_day(start + timedelta(days=1))
    days = [first + timedelta(days=n) for n in range(UPTIME_DAYS)]
    return {c.pk: _uptime(windows[c.pk], days, start=start, now=now) for c in components}


def _uptime(windows, days: list[date], *, start: datetime, now: datetime) -> Uptime:
    states = dict.fromkeys(days, OPERATIONAL)
    for began, ended, state in windows:
        day = local_day(began)
        while day <= local_day(ended):
            if day in states:
                states[day] = worst([states[day], state])
            day += timedelta(days=1)
    down = _covered_seconds([(b, e) for b, e, state in windows if state in DOWNTIME])
    total = (now - start).total_seconds()
    return Uptime(days=list(states.items()), percent=round(100 * (1 - down / total), 2))


def _covered_seconds(intervals) -> float:
    """The length of the union of (start, end) intervals."""
    covered = 0.0
    reach = None
    for began, ended in sorted(intervals):
        if reach is None or began > reach:
            covered += (ended - began).total_seconds()
            reach = ended
        elif ended > reach:
            covered += (ended - reach).total_seconds()
            reach = ended
    return covered


# --- the whole page ------------------------------------------------------------------------------


@dataclass
class StatusPage:
    components: list[StatusComponent]
    groups: list[Group]
    indicator: str
    open_incidents: list[StatusIncident]
    history: list[tuple[date, list]]
    maintenances: list[Maintenance]
    updated_at: datetime | None

    @property
    def description(self) -> str:
        return Indicator(self.indicator).label


def status_page(*, now: datetime | None = None) -> StatusPage:
    now = now or timezone.now()
    components = public_components()
    incidents = page_incidents(now=now)
    open_incidents = [i for i in incidents if not i.is_resolved]
    maintenances = list(open_maintenances())
    uptimes = uptime(components, now=now)
    for component in components:
        component.uptime = uptimes[component.pk]
    return StatusPage(
        components=components,
        groups=grouped(components),
        indicator=page_indicator(components, open_incidents),
        open_incidents=open_incidents,
        history=history_days(incidents, now=now),
        maintenances=maintenances,
        updated_at=last_change(components, incidents, maintenances),
    )


def last_change(components, incidents, maintenances) -> datetime | None:
    stamps = [c.updated_at for c in components]
    stamps += [i.updated_at for i in incidents] + [m.updated_at for m in maintenances]
    return max(stamps, default=None)
