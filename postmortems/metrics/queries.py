"""The metrics, computed by the database from the per-incident rollup (rollup.py): each call is
a fixed number of aggregate queries, whatever the number of incidents (the summary four, a
timeseries two, a slice two)."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Avg, BooleanField, Count, ExpressionWrapper, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Trunc
from django.utils import timezone

from incidents.choices import SlaTimerState
from incidents.models import Incident, SlaTimer
from incidents.selectors import is_major
from postmortems.choices import ActionItemStatus, ReviewStatus
from postmortems.metrics.definitions import (
    AMOUNTS,
    INCIDENT_RATES,
    MEASURED,
    METRICS,
    recurs,
)
from postmortems.metrics.sql import Percentile, grouping_sets
from postmortems.models import ActionItem, IncidentRollup, MetricTarget, PostIncidentReview
from warroom.models import MajorIncident

# What a table is sliced by: the incident field (or annotation) grouped on.
SLICES = {
    "priority": "priority",
    "service": "services__slug",
    "team": "team__slug",
    "major": "major",
    "source": "source",
}
# The same from the rollup row (which copies the incident's other fields).
ROLLUP_SLICES = {**SLICES, "service": "service_links__service__slug"}


@dataclass(frozen=True)
class ReportQuery:
    """Incidents logged from `start` to `end` (dates, both included) and matching the filters."""

    start: date
    end: date
    priority: str = ""
    service: str = ""
    team: str = ""
    major: bool | None = None
    source: str = ""
    interval: str = "week"

    def bounds(self) -> tuple[datetime, datetime]:
        zone = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, tzinfo=zone),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone),
        )

    def rollups(self) -> QuerySet[IncidentRollup]:
        """The incidents' rollup rows (which copy the fields filtered on); their `pk` is the
        incident's."""
        low, high = self.bounds()
        queryset = IncidentRollup.objects.filter(created_at__gte=low, created_at__lt=high)
        if self.priority:
            queryset = queryset.filter(priority=self.priority)
        if self.team:
            queryset = queryset.filter(team__slug=self.team)
        if self.source:
            queryset = queryset.filter(source=self.source)
        if self.service:
            through = Incident.services.through
            queryset = queryset.filter(
                pk__in=through.objects.filter(service__slug=self.service).values("incident_id")
            )
        if self.major is not None:
            queryset = queryset.annotate(major=_is_major()).filter(major=self.major)
        return queryset


def _is_major() -> ExpressionWrapper:
    """incidents.selectors.is_major of a rollup row (declared and not demoted), without
    joining the incident: one hashed subquery."""
    live = MajorIncident.objects.filter(demoted_at__isnull=True).values("incident_id")
    return ExpressionWrapper(Q(pk__in=live), output_field=BooleanField())


@dataclass
class Figure:
    """One metric's figure: a duration's mean (its value), median and p90 in seconds, an
    amount's the same with its total, or a rate's percentage of numerator over denominator;
    n measured, excluded for lack of a timestamp (or an estimate); against its target when it
    has one."""

    metric: str
    value: float | None = None
    median: float | None = None
    p90: float | None = None
    total: float | None = None
    n: int = 0
    excluded: int = 0
    numerator: int | None = None
    denominator: int | None = None
    target: float | None = None
    direction: str = ""
    meets_target: bool | None = None

    @property
    def label(self) -> str:
        return METRICS[self.metric].label

    @property
    def unit(self) -> str:
        return METRICS[self.metric].unit


def _percent(numerator: int, denominator: int) -> float | None:
    return round(100.0 * numerator / denominator, 2) if denominator else None


def _rounded(value, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# Seconds to a tenth, amounts to the cent.
DIGITS = {"seconds": 1, "currency": 2}


def _incident_aggregates(percentiles: bool = True) -> dict:
    """The aggregates of one group of rollup rows (one per incident in a group); without
    `percentiles` no median or p90 (a sort per duration and group) is computed."""
    aggregates = {"logged": Count("pk")}
    for metric in MEASURED:
        key = metric.key
        aggregates[f"{key}__mean"] = Avg(key)
        if percentiles:
            aggregates[f"{key}__median"] = Percentile(F(key), 0.5)
            aggregates[f"{key}__p90"] = Percentile(F(key), 0.9)
        aggregates[f"{key}__n"] = Count(key)
    for metric in AMOUNTS:
        aggregates[f"{metric.key}__total"] = Sum(metric.key)
    aggregates["false_positive_rate__num"] = Count("pk", filter=Q(false_positive=True))
    aggregates["false_positive_rate__den"] = Count("pk")
    aggregates["reopen_rate__num"] = Count("pk", filter=Q(reopened=True))
    aggregates["reopen_rate__den"] = Count("pk", filter=Q(ever_resolved=True))
    aggregates["recurrence_rate__num"] = Count("pk", filter=recurs())
    aggregates["recurrence_rate__den"] = Count("pk")
    return aggregates


def _incident_figures(row: dict) -> list[Figure]:
    figures = [_measured(metric, row) for metric in MEASURED]
    for key in INCIDENT_RATES:
        figures.append(_rate(key, row[f"{key}__num"], row[f"{key}__den"]))
    return figures


def _measured(metric, row: dict) -> Figure:
    key, digits = metric.key, DIGITS[metric.unit]
    return Figure(
        key,
        value=_rounded(row[f"{key}__mean"], digits),
        median=_rounded(row.get(f"{key}__median"), digits),
        p90=_rounded(row.get(f"{key}__p90"), digits),
        total=_rounded(row.get(f"{key}__total"), digits),
        n=row[f"{key}__n"],
        excluded=row["logged"] - row[f"{key}__n"],
    )


def _rate(key: str, numerator: int, denominator: int) -> Figure:
    return Figure(
        key,
        value=_percent(numerator, denominator),
        n=denominator,
        numerator=numerator,
        denominator=denominator,
    )


def _sla_counts() -> dict:
    return {
        "met": Count("pk", filter=Q(state=SlaTimerState.MET)),
        "breached": Count("pk", filter=Q(state=SlaTimerState.BREACHED)),
    }


def _sla_figure(met: int, breached: int) -> Figure:
    return _rate("sla_compliance", met, met + breached)


def _timers(query: ReportQuery) -> QuerySet[SlaTimer]:
    return SlaTimer.objects.filter(incident__in=query.rollups().values("pk"))


def targets() -> dict[str, MetricTarget]:
    return {target.metric: target for target in MetricTarget.objects.all()}


def judge(figures: list[Figure], by_metric: dict[str, MetricTarget]) -> list[Figure]:
    """Each figure against its target (when the metric has one)."""
    for figure in figures:
        target = by_metric.get(figure.metric)
        if target is not None:
            figure.target, figure.direction = target.value, target.direction
            figure.meets_target = target.met_by(figure.value)
    return figures


# --- the summary -----------------------------------------------------------------------------


@dataclass
class Summary:
    figures: list[Figure]
    sla: list[dict]


def summary(query: ReportQuery, by_metric: dict[str, MetricTarget]) -> Summary:
    """Every metric over the query's incidents, and SLA compliance per priority and kind."""
    row = query.rollups().aggregate(**_incident_aggregates())
    sla_rows = list(
        _timers(query)
        .values("kind", priority=F("incident__priority"))
        .annotate(**_sla_counts())
        .order_by("priority", "kind")
    )
    figures = _incident_figures(row)
    met = sum(r["met"] for r in sla_rows)
    breached = sum(r["breached"] for r in sla_rows)
    figures.insert(0, _sla_figure(met, breached))
    figures += [_action_items(query), _reviews(query)]
    for sla_row in sla_rows:
        sla_row["due"] = sla_row["met"] + sla_row["breached"]
        sla_row["compliance"] = _percent(sla_row["met"], sla_row["due"])
    return Summary(judge(figures, by_metric), sla_rows)


def _action_items(query: ReportQuery) -> Figure:
    """Items whose due date has passed (won't-do ones aside), and those done by it."""
    today = timezone.localdate()
    due = Q(due_date__lt=today) & ~Q(status=ActionItemStatus.WONT_DO)
    on_time = due & Q(status=ActionItemStatus.DONE, completed_at__date__lte=F("due_date"))
    counts = ActionItem.objects.filter(incident__in=query.rollups().values("pk")).aggregate(
        due=Count("pk", filter=due), on_time=Count("pk", filter=on_time)
    )
    return _rate("action_item_completion", counts["on_time"], counts["due"])


def _reviews(query: ReportQuery) -> Figure:
    """Reviews (skipped ones aside) due by now or published, and those published by their due
    time."""
    published = Q(published_at__isnull=False)
    due = Q(due_at__lt=timezone.now()) | published
    counts = (
        PostIncidentReview.objects.filter(incident__in=query.rollups().values("pk"))
        .exclude(status=ReviewStatus.SKIPPED)
        .aggregate(
            due=Count("pk", filter=due),
            on_time=Count("pk", filter=published & Q(published_at__lte=F("due_at"))),
        )
    )
    return _rate("pir_on_time", counts["on_time"], counts["due"])


# --- over time, and by slice -------------------------------------------------------------------


@dataclass
class Group:
    """The figures of one bucket of time or one slice value."""

    key: object
    figures: dict[str, Figure]

    @property
    def logged(self) -> int:
        return self.figures["false_positive_rate"].denominator or 0


def _grouped(query: ReportQuery, incident_key, timer_key, by_metric, percentiles) -> list[Group]:
    """Incident figures and SLA compliance grouped by `incident_key` (an expression over the
    rollup row) and `timer_key` (the same, from the SLA timer): two queries."""
    rollups = query.rollups().annotate(group=incident_key)
    aggregates = _incident_aggregates(percentiles)
    rows = rollups.values("group").annotate(**aggregates).order_by("group")
    timers = _timers(query).annotate(group=timer_key)
    sla = {r["group"]: r for r in timers.values("group").annotate(**_sla_counts()).order_by()}
    return _groups(rows, sla, by_metric)


def _groups(rows, sla: dict, by_metric) -> list[Group]:
    """A Group per incident row (its `group` the key), with the SLA counts of the same key."""
    groups = []
    for row in rows:
        figures = _incident_figures(row)
        counts = sla.get(row["group"], {"met": 0, "breached": 0})
        figures.append(_sla_figure(counts["met"], counts["breached"]))
        judge(figures, by_metric)
        groups.append(Group(row["group"], {f.metric: f for f in figures}))
    return groups


def _scan_keys(query: ReportQuery) -> dict[str, tuple]:
    """The trend's bucket and every slice but the service (whose join repeats an incident on
    two services), as expressions over the rollup row and over the SLA timer; none is ever
    NULL (no team is ''), so that a NULL in a GROUPING SETS row says it is another set's."""
    no_team = Value("")
    return {
        "trend": (
            Trunc("created_at", query.interval),
            Trunc("incident__created_at", query.interval),
        ),
        "priority": (F("priority"), F("incident__priority")),
        "team": (Coalesce("team__slug", no_team), Coalesce("incident__team__slug", no_team)),
        "source": (F("source"), F("incident__source")),
        "major": (_is_major(), is_major("incident__")),
    }


def page_groups(query: ReportQuery, by_metric: dict[str, MetricTarget]) -> dict[str, list[Group]]:
    """What the reports page shows by group, means only: the trend (`timeseries`) and each
    slice (`sliced`), by name. On PostgreSQL the trend and the slices but the service are one
    scan of the rollup rows and one of the SLA timers (GROUPING SETS), not one each."""
    if connection.vendor != "postgresql":
        groups = {name: sliced(query, name, by_metric, percentiles=False) for name in SLICES}
        return {**groups, "trend": timeseries(query, by_metric, percentiles=False)}
    groups = _grouped_in_one_scan(query, _scan_keys(query), by_metric)
    return {**groups, "service": sliced(query, "service", by_metric, percentiles=False)}


def _grouped_in_one_scan(query: ReportQuery, keys: dict[str, tuple], by_metric) -> dict:
    aliases = [f"by_{name}" for name in keys]
    rollups = query.rollups().annotate(
        **{alias: key[0] for alias, key in zip(aliases, keys.values(), strict=True)}
    )
    timers = _timers(query).annotate(
        **{alias: key[1] for alias, key in zip(aliases, keys.values(), strict=True)}
    )
    incident_rows = grouping_sets(
        rollups.values(*aliases).annotate(**_incident_aggregates(False)).order_by(), len(aliases)
    )
    timer_rows = grouping_sets(
        timers.values(*aliases).annotate(**_sla_counts()).order_by(), len(aliases)
    )
    return {
        name: _groups(
            _rows_of(incident_rows, alias),
            {r["group"]: r for r in _rows_of(timer_rows, alias)},
            by_metric,
        )
        for name, alias in zip(keys, aliases, strict=True)
    }


def _rows_of(rows: list[dict], alias: str) -> list[dict]:
    """The rows of one grouping set, its key as `group` ('' back to None; a bucket in the
    current time zone, as Trunc's own converter gives it), in key order."""
    mine = [{**row, "group": _key(row[alias])} for row in rows if row[alias] is not None]
    return sorted(mine, key=lambda row: (row["group"] is None, row["group"]))


def _key(value):
    if value == "":
        return None
    if isinstance(value, datetime) and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def timeseries(
    query: ReportQuery, by_metric: dict[str, MetricTarget], *, percentiles: bool = True
) -> list[Group]:
    """The figures per week or month of logging, oldest first (buckets with no incident left
    out); without `percentiles` (the page's charts), durations have their mean only."""
    return _grouped(
        query,
        Trunc("created_at", query.interval),
        Trunc("incident__created_at", query.interval),
        by_metric,
        percentiles,
    )


def sliced(
    query: ReportQuery, name: str, by_metric: dict[str, MetricTarget], *, percentiles=True
) -> list[Group]:
    """The figures per value of slice `name` (an incident on two services counts for both);
    without `percentiles` (the page's tables), durations have their mean only."""
    if name == "major":
        return _grouped(query, _is_major(), is_major("incident__"), by_metric, percentiles)
    path = SLICES[name]
    return _grouped(query, F(ROLLUP_SLICES[name]), F(f"incident__{path}"), by_metric, percentiles)
