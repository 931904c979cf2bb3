"""The metrics API (docs/metrics.md): the summary of every metric over a range and slice, and
one metric over time. JSON, or CSV with `Accept: text/csv` or `?format=csv`. Read by whoever
may read the reports page (postmortems.view_reports: ITSM managers, super admins and IT
leadership)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.response import Response

from itsm.api import viewsets
from itsm.api.renderers import CSV, CsvRenderer
from itsm.api.serializers import StrictSerializer
from postmortems.metrics import export, queries
from postmortems.metrics.params import ReportParams, TimeseriesParams, read_params
from postmortems.models import VIEW_REPORTS


class FigureSerializer(StrictSerializer):
    metric = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.ChoiceField(
        choices=["seconds", "percent", "currency"],
        help_text="currency: the reviews' revenue estimates, in REPORTS_CURRENCY.",
    )
    value = serializers.FloatField(
        allow_null=True,
        help_text="A duration's mean in seconds, an amount's mean, or a rate in percent.",
    )
    median = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)
    total = serializers.FloatField(allow_null=True, help_text="An amount's sum; null otherwise.")
    n = serializers.IntegerField(help_text="Incidents (or timers, items, reviews) measured.")
    excluded = serializers.IntegerField(
        help_text="Incidents left out for a missing timestamp (or revenue estimate)."
    )
    numerator = serializers.IntegerField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)
    target = serializers.FloatField(allow_null=True)
    direction = serializers.CharField(allow_blank=True)
    meets_target = serializers.BooleanField(allow_null=True)


class SlaRowSerializer(StrictSerializer):
    priority = serializers.CharField()
    kind = serializers.CharField()
    met = serializers.IntegerField()
    breached = serializers.IntegerField()
    due = serializers.IntegerField()
    compliance = serializers.FloatField(allow_null=True)


class SummarySerializer(StrictSerializer):
    start = serializers.DateField()
    to = serializers.DateField()
    metrics = FigureSerializer(many=True)
    sla = SlaRowSerializer(many=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("start")
        return fields


class PointSerializer(FigureSerializer):
    bucket = serializers.DateField(help_text="The first day of the week or month.")


class TimeseriesSerializer(StrictSerializer):
    metric = serializers.CharField()
    interval = serializers.CharField()
    points = PointSerializer(many=True)


CSV_RESPONSE = OpenApiResponse(OpenApiTypes.STR, description="The same rows as CSV.")


class MetricsViewSet(viewsets.ViewSet):
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]
    action_permissions = {"summary": VIEW_REPORTS, "timeseries": VIEW_REPORTS}

    def wants_csv(self) -> bool:
        return self.request.accepted_renderer.format == "csv"

    def csv(self, rows: list[dict], columns: list[str], name: str) -> Response:
        response = Response(export.to_csv(rows, columns), content_type=f"{CSV}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response

    @extend_schema(
        parameters=[ReportParams],
        responses={200: SummarySerializer, (200, CSV): CSV_RESPONSE},
        summary="Every metric over incidents logged in a range, against its target",
    )
    def summary(self, request):
        query = read_params(request.query_params).report_query()
        result = queries.summary(query, queries.targets())
        rows = [export.figure_row(figure) for figure in result.figures]
        if self.wants_csv():
            return self.csv(rows, export.FIGURE_COLUMNS, "metrics-summary")
        return Response({"from": query.start, "to": query.end, "metrics": rows, "sla": result.sla})

    @extend_schema(
        parameters=[TimeseriesParams],
        responses={200: TimeseriesSerializer, (200, CSV): CSV_RESPONSE},
        summary="One metric per week or month of logging (buckets with no incident left out)",
    )
    def timeseries(self, request):
        params = read_params(request.query_params, TimeseriesParams)
        query, metric = params.report_query(), params.validated_data["metric"]
        groups = queries.timeseries(query, queries.targets())
        rows = export.group_rows(groups, "bucket", metrics={metric})
        if self.wants_csv():
            return self.csv(rows, ["bucket", *export.FIGURE_COLUMNS], f"metrics-{metric}")
        return Response({"metric": metric, "interval": query.interval, "points": rows})
