"""The query parameters of the metrics API and the reports page: one validation for both, so a
bad parameter is a 400 naming it in the API and a message beside its field on the page."""

from datetime import date, timedelta

from django.utils import timezone
from rest_framework import serializers

from incidents.choices import IncidentSource, Priority
from incidents.models import Service, Team
from itsm.api.serializers import StrictSerializer
from postmortems.metrics.definitions import GROUPED
from postmortems.metrics.queries import ReportQuery

DEFAULT_DAYS = 90
MAX_DAYS = 731  # two years
FIRST_DAY, LAST_DAY = date.min + timedelta(days=1), date.max - timedelta(days=1)
INTERVALS = ("week", "month")
# Parameters the views read themselves: DRF's format override, and the page's table export.
PASSED_THROUGH = ("format", "table")


class ReportParams(StrictSerializer):
    """`from` and `to` are dates, both included (default: the last 90 days to today)."""

    start = serializers.DateField(required=False, help_text="First day logged (YYYY-MM-DD).")
    to = serializers.DateField(required=False, help_text="Last day logged, included.")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    service = serializers.SlugField(required=False, help_text="Service slug.")
    team = serializers.SlugField(required=False, help_text="Team (assignment group) slug.")
    major = serializers.BooleanField(required=False, allow_null=True, default=None)
    source = serializers.ChoiceField(choices=IncidentSource.choices, required=False)
    interval = serializers.ChoiceField(choices=INTERVALS, default="week")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("start")
        return fields

    def validate_service(self, value):
        if not Service.objects.filter(slug=value).exists():
            raise serializers.ValidationError(f"No service {value!r}.")
        return value

    def validate_team(self, value):
        if not Team.objects.filter(slug=value).exists():
            raise serializers.ValidationError(f"No team {value!r}.")
        return value

    def validate(self, attrs):
        end = attrs.get("to") or timezone.localdate()
        start = attrs.get("from") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise serializers.ValidationError({"to": "Must not be before `from`."})
        if (end - start).days >= MAX_DAYS:
            raise serializers.ValidationError({"from": f"At most {MAX_DAYS} days at once."})
        # A day's end (and a date's UTC instant) must stay within what dates can hold.
        if end >= LAST_DAY or start <= FIRST_DAY:
            raise serializers.ValidationError(
                {"to" if end >= LAST_DAY else "from": "Out of the range of dates reported on."}
            )
        return {**attrs, "from": start, "to": end}

    def report_query(self) -> ReportQuery:
        data = self.validated_data
        return ReportQuery(
            start=data["from"],
            end=data["to"],
            priority=data.get("priority", ""),
            service=data.get("service", ""),
            team=data.get("team", ""),
            major=data.get("major"),
            source=data.get("source", ""),
            interval=data["interval"],
        )


class TimeseriesParams(ReportParams):
    metric = serializers.ChoiceField(choices=sorted(GROUPED))


def read_params(query_params, serializer_class=ReportParams) -> ReportParams:
    """The validated parameters of a request's query string (a 400 when one is bad). A blank
    one is left out: the page's form sends "Any" and an unset date as empty values."""
    data = {k: v for k, v in query_params.items() if k not in PASSED_THROUGH and v != ""}
    params = serializer_class(data=data)
    params.is_valid(raise_exception=True)
    return params
