"""What each metric is, as SQL expressions over one incident row (docs/metrics.md says the
same in words). Every duration is in seconds from recorded timestamps; a missing timestamp makes
it NULL, and NULLs are left out of every aggregate and counted as excluded."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Least

from incidents.choices import EventType, IncidentStatus, Transition
from incidents.models import AlertGroup, Incident, IncidentEvent, SlaTimer
from postmortems.metrics.sql import Seconds
from postmortems.models import PostIncidentReview

S = IncidentStatus
ZERO = Value(0.0, output_field=FloatField())
# Statuses a transition reaches once someone works the incident (or monitoring mitigated it).
WORKING_STATUSES = (S.INVESTIGATING, S.MITIGATED, S.RESOLVED)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # "seconds", "percent" or "currency" (settings.REPORTS_CURRENCY)


DURATIONS = (
    Metric("mttd", "Mean time to detect (MTTD)", "seconds"),
    Metric("mtta", "Mean time to acknowledge (MTTA)", "seconds"),
    Metric("mttr_response", "Mean time to respond (MTTR response)", "seconds"),
    Metric("mttr_mitigate", "Mean time to mitigate (MTTR mitigate)", "seconds"),
    Metric("mttr_resolve", "Mean time to resolve (MTTR resolution)", "seconds"),
)
# Per-incident amounts, aggregated like the durations (mean, median, p90, total).
AMOUNTS = (Metric("revenue_impact", "Revenue impact per incident", "currency"),)
# What each incident measures: NULL when it cannot be measured (excluded and counted as such).
MEASURED = DURATIONS + AMOUNTS
RATES = (
    Metric("sla_compliance", "SLA compliance", "percent"),
    Metric("false_positive_rate", "False positive rate", "percent"),
    Metric("reopen_rate", "Reopen rate", "percent"),
    Metric("recurrence_rate", "Recurrence rate", "percent"),
    Metric("action_item_completion", "Action items done by their due date", "percent"),
    Metric("pir_on_time", "Reviews published on time", "percent"),
)
METRICS = {metric.key: metric for metric in MEASURED + RATES}
# What the timeseries and the slices compute per bucket or group (the rest need their own rows).
INCIDENT_RATES = ("false_positive_rate", "reopen_rate", "recurrence_rate")
GROUPED = (*(metric.key for metric in MEASURED), *INCIDENT_RATES, "sla_compliance")


def recurrence_window() -> timedelta:
    return timedelta(days=settings.METRICS_RECURRENCE_DAYS)


def _transitions(**lookups):
    return IncidentEvent.objects.filter(type=EventType.TRANSITION, **lookups)


def _first_alert():
    groups = AlertGroup.objects.filter(incident_id=OuterRef("pk")).order_by("first_seen_at")
    return Subquery(groups.values("first_seen_at")[:1])


def _work_started():
    """The first move to investigating, mitigated or resolved: when the respond SLA is met."""
    moves = _transitions(incident_id=OuterRef("pk"), data__to__in=WORKING_STATUSES)
    return Subquery(moves.order_by("at", "pk").values("at")[:1])


def _held_before(end: str):
    """Seconds spent on hold (hold → the next resume) before `end`, where the incident's SLA
    policy pauses on hold; 0 otherwise. An incident still on hold counts nothing yet."""
    resume = _transitions(
        incident_id=OuterRef("incident_id"),
        data__transition=Transition.RESUME,
        at__gte=OuterRef("at"),
    ).order_by("at", "pk")
    holds = (
        _transitions(
            incident_id=OuterRef("pk"), data__transition=Transition.HOLD, at__lt=OuterRef(end)
        )
        .annotate(held=Seconds(Subquery(resume.values("at")[:1]), F("at")))
        .values("incident_id")
        .annotate(total=Sum("held"))
        .values("total")
    )
    pauses = Exists(SlaTimer.objects.filter(incident_id=OuterRef("pk"), policy__pause_on_hold=True))
    return Case(
        When(pauses, then=Coalesce(Subquery(holds, output_field=FloatField()), ZERO)),
        default=ZERO,
        output_field=FloatField(),
    )


def with_measures(incidents):
    """`incidents` annotated with each duration metric, in seconds (NULL when not measurable),
    when the latest incident it recurs after was logged (`recurs_after`), its review's revenue
    impact, and whether it is a false positive, reopened, ever resolved: what the rollup
    stores (rollup.py)."""
    incidents = incidents.annotate(
        work_started_at=_work_started(),
        mitigated_or_resolved_at=Coalesce("mitigated_at", "resolved_at"),
    )
    return incidents.annotate(
        mttd=Seconds(F("created_at"), Least("started_at", Coalesce(_first_alert(), "started_at"))),
        mtta=Seconds(F("acknowledged_at"), F("created_at")),
        mttr_response=Seconds(F("work_started_at"), F("created_at"))
        - _held_before("work_started_at"),
        mttr_mitigate=Seconds(F("mitigated_or_resolved_at"), F("created_at"))
        - _held_before("mitigated_or_resolved_at"),
        mttr_resolve=Seconds(F("resolved_at"), F("created_at")) - _held_before("resolved_at"),
        recurs_after=_recurs_after(),
        revenue_impact=_revenue_impact(),
        false_positive=_flag(false_positive()),
        reopened=_flag(Q(reopen_count__gt=0)),
        ever_resolved=_flag(ever_resolved()),
    )


def _revenue_impact() -> Cast:
    """The review's estimate (NULL without a review or an estimate)."""
    review = PostIncidentReview.objects.filter(incident_id=OuterRef("pk"))
    return Cast(Subquery(review.values("revenue_impact")[:1]), FloatField())


def _flag(condition: Q) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=BooleanField())


def false_positive() -> Q:
    """Cancelled, and not as a duplicate of another incident."""
    return Q(status=S.CANCELLED, duplicate_of__isnull=True)


def ever_resolved() -> Q:
    return Q(resolved_at__isnull=False) | Q(reopen_count__gt=0)


def recurs() -> Q:
    """A recurrence (of a rollup row): an earlier incident (`recurs_after`) logged within the
    recurrence window before this one."""
    return Q(recurs_after__gte=F("created_at") - recurrence_window())


def _earlier_matches() -> tuple[QuerySet, QuerySet]:
    """The incidents logged within the recurrence window before the outer one, on one of the
    same services: with its related problem, and with an alert group of one of its keys."""
    through = Incident.services.through
    own_services = through.objects.filter(incident_id=OuterRef(OuterRef("pk"))).values("service_id")
    window = {
        "created_at__lt": OuterRef("created_at"),
        "created_at__gte": OuterRef("created_at") - recurrence_window(),
        "services__in": own_services,
    }
    own_keys = AlertGroup.objects.filter(incident_id=OuterRef(OuterRef("pk"))).values("key")
    problem = Incident.objects.filter(related_problem=OuterRef("related_problem"), **window)
    alert = Incident.objects.filter(alert_groups__key__in=own_keys, **window)
    return problem, alert


def _recurs_after() -> Greatest:
    """When the latest earlier match (`_earlier_matches`) was logged; NULL when none. Each
    search only runs for an incident with a problem or alert groups (CASE evaluates in order).
    The latest match is the nearest, so the flag holds for any window up to this one."""
    problem, alert = _earlier_matches()
    has_groups = Exists(AlertGroup.objects.filter(incident_id=OuterRef("pk")))
    by_problem = _unless(Q(related_problem=""), _latest(problem))
    by_alert = _unless(~Q(has_groups), _latest(alert))
    # GREATEST of the two, NULL only when both are (SQLite's is NULL when either is).
    return Greatest(Coalesce(by_problem, by_alert), Coalesce(by_alert, by_problem))


def _latest(incidents: QuerySet) -> Subquery:
    return Subquery(incidents.order_by("-created_at").values("created_at")[:1])


def _unless(cheap: Q, search: Subquery) -> Case:
    """NULL when `cheap` holds, else `search`: the search runs only when needed."""
    return Case(When(cheap, then=None), default=search, output_field=DateTimeField())
