import django_filters
from django.utils import timezone

from postmortems.choices import ActionItemPriority, ActionItemStatus
from postmortems.models import ActionItem
from postmortems.selectors import overdue_condition


class ActionItemFilter(django_filters.FilterSet):
    owner = django_filters.CharFilter(method="filter_owner", label="Owner username, or me")
    status = django_filters.MultipleChoiceFilter(choices=ActionItemStatus.choices)
    priority = django_filters.MultipleChoiceFilter(choices=ActionItemPriority.choices)
    overdue = django_filters.BooleanFilter(
        method="filter_overdue", label="Overdue (true) or not overdue (false)"
    )
    incident = django_filters.CharFilter(field_name="incident__number", label="Incident number")
    team = django_filters.CharFilter(field_name="incident__team__slug", label="Team slug")

    class Meta:
        model = ActionItem
        fields = ["owner", "status", "priority", "overdue", "incident", "team"]

    def filter_owner(self, queryset, name, value):
        if value == "me" and self.request is not None:
            return queryset.filter(owner=self.request.user)
        return queryset.filter(owner__username=value)

    def filter_overdue(self, queryset, name, value):
        overdue = overdue_condition(timezone.localdate())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
