import django_filters
from django.db.models import Exists, OuterRef, Q

from incidents.choices import IncidentStatus, Priority
from incidents.models import Incident


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
