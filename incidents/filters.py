import django_filters
from django.db.models import Exists, OuterRef, Q, Subquery, TextChoices
from django.utils import timezone

from incidents.choices import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    AlertStatus,
    IncidentSource,
    IncidentStatus,
    Priority,
)
from incidents.models import AlertGroup, Incident, SlaTimer
from incidents.selectors import sla_due_soon, sla_overdue
from itsm.api.fields import UtcDateTimeFilter


class IncidentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=IncidentStatus.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    service = django_filters.CharFilter(method="filter_service", label="Service slug")
    team = django_filters.CharFilter(field_name="team__slug", label="Team slug")
    assignee = django_filters.CharFilter(method="filter_assignee", label="Assignee username")
    q = django_filters.CharFilter(method="filter_q", label="Search number or title")

    class Meta:
        model = Incident
        fields = ["status", "priority", "service", "team", "assignee", "q"]

    def filter_service(self, queryset, name, value):
        through = Incident.services.through
        return queryset.filter(
            Exists(through.objects.filter(incident_id=OuterRef("pk"), service__slug=value))
        )

    def filter_assignee(self, queryset, name, value):
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value == "me" and self.request is not None:
            return queryset.filter(assignee=self.request.user)
        return queryset.filter(assignee__username=value)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(number__iexact=value) | Q(title__icontains=value))


class SlaWindow(TextChoices):
    DUE = "due", "Due within the hour"
    OVERDUE = "overdue", "Overdue"
    BREACHING = "breaching", "Due within the hour or overdue"


def _sla_condition(window: str, now) -> Q:
    if window == SlaWindow.DUE:
        return sla_due_soon(now)
    if window == SlaWindow.OVERDUE:
        return sla_overdue(now)
    return sla_due_soon(now) | sla_overdue(now)


class PortalIncidentFilter(IncidentFilter):
    """The portal's list: the API's filters, and closed and cancelled incidents hidden unless
    the status filter names them or `closed` asks for them all; `sla` keeps the open incidents
    with an SLA target falling due or overdue (the dashboard's "Breaching soon" in full), the
    nearest target first."""

    sla = django_filters.ChoiceFilter(choices=SlaWindow.choices, method="filter_sla", label="SLA")
    closed = django_filters.BooleanFilter(
        method="filter_closed", label="Show closed and cancelled incidents"
    )
    # The reports' drill-down (postmortems/metrics): the incidents behind a figure.
    logged_from = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    logged_to = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")
    source = django_filters.ChoiceFilter(choices=IncidentSource.choices)
    major = django_filters.BooleanFilter(field_name="is_major", label="Major incident")

    def hides_final_statuses(self) -> bool:
        data = getattr(self.form, "cleaned_data", {})
        return not (data.get("status") or data.get("closed"))

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.hides_final_statuses():
            return queryset.exclude(status__in=FINAL_STATUSES)
        return queryset

    def filter_closed(self, queryset, name, value):
        """Read by `filter_queryset`: showing them is not narrowing the rows."""
        return queryset

    def filter_sla(self, queryset, name, value):
        timers = SlaTimer.objects.filter(_sla_condition(value, timezone.now()))
        nearest = timers.filter(incident_id=OuterRef("pk")).order_by("target_at")
        return (
            queryset.filter(status__in=OPEN_STATUSES)
            .annotate(sla_target=Subquery(nearest.values("target_at")[:1]))
            .filter(sla_target__isnull=False)
            .order_by("sla_target", "pk")
        )


ID_DIGITS = 19  # a longer number is no row's id (and no database's integer)


class AlertGroupFilter(django_filters.FilterSet):
    """GET /api/alerts/: by status, integration, the incident's service, the incident, and
    when the group was last seen."""

    status = django_filters.ChoiceFilter(choices=AlertStatus.choices)
    integration = django_filters.CharFilter(
        method="filter_integration", label="Integration id or name"
    )
    service = django_filters.CharFilter(
        method="filter_service", label="Service slug (a service of the alert group's incident)"
    )
    incident = django_filters.CharFilter(method="filter_incident", label="Incident number")
    since = UtcDateTimeFilter(
        field_name="last_seen_at", lookup_expr="gte", label="Last seen at or after (ISO 8601)."
    )
    until = UtcDateTimeFilter(
        field_name="last_seen_at", lookup_expr="lt", label="Last seen before (ISO 8601)."
    )

    class Meta:
        model = AlertGroup
        fields = ["status", "integration", "service", "incident", "since", "until"]

    def filter_integration(self, queryset, name, value):
        if value.isascii() and value.isdigit() and len(value) < ID_DIGITS:
            return queryset.filter(Q(integration_id=int(value)) | Q(integration__name=value))
        return queryset.filter(integration__name=value)

    def filter_service(self, queryset, name, value):
        through = Incident.services.through
        return queryset.filter(
            Exists(through.objects.filter(incident_id=OuterRef("incident_id"), service__slug=value))
        )

    def filter_incident(self, queryset, name, value):
        return queryset.filter(incident__number=value.strip().upper())
