"""The reports page (/reports/): every metric over a range and slice against its target, trend
charts, a table per slice with drill-down to the incidents behind it, and each table as CSV.
For whoever holds postmortems.view_reports (ITSM managers, super admins, IT leadership)."""

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET
from rest_framework.exceptions import ValidationError

from incidents.choices import IncidentSource, Priority
from incidents.models import Service, Team
from incidents.views import portal_view
from postmortems.metrics import charts, export, queries
from postmortems.metrics.definitions import MEASURED, METRICS
from postmortems.metrics.params import INTERVALS, read_params
from postmortems.metrics.queries import SLICES, ReportQuery
from postmortems.models import VIEW_REPORTS
from postmortems.templatetags.metrics import figure_text

CHARTED = ("mttd", "mtta", "mttr_response", "mttr_resolve", "sla_compliance", "revenue_impact")
SLICE_TITLES = {
    "priority": "By priority",
    "service": "By service",
    "team": "By team",
    "major": "Major or not",
    "source": "By source",
}
# The slice tables' columns (each table's CSV has every metric).
SLICE_COLUMNS = (
    *(m.key for m in MEASURED),
    "sla_compliance",
    "false_positive_rate",
    "reopen_rate",
    "recurrence_rate",
)


@require_GET
@portal_view(VIEW_REPORTS)
def reports(request):
    try:
        params = read_params(request.GET)
    except ValidationError as error:
        return render(
            request, "postmortems/reports.html", _form_context(request, error.detail), status=400
        )
    query = params.report_query()
    by_metric = queries.targets()
    result = queries.summary(query, by_metric)
    # The page shows each group's mean only: no medians or p90s computed for them.
    groups = queries.page_groups(query, by_metric)
    context = {
        **_form_context(request, {}),
        "query": query,
        "figures": result.figures,
        "sla": result.sla,
        "charts": [
            charts.trend_chart(METRICS[key], groups["trend"], export.bucket_label, figure_text)
            for key in CHARTED
        ],
        "slices": [_slice(query, name, groups[name]) for name in SLICES],
        "columns": [METRICS[key] for key in SLICE_COLUMNS],
        "drill": _drill_link(query),
    }
    return render(request, "postmortems/reports.html", context)


def _form_context(request, errors) -> dict:
    return {
        "errors": errors,
        "params": request.GET,
        "priorities": Priority.choices,
        "sources": IncidentSource.choices,
        "intervals": INTERVALS,
        "services": Service.objects.only("slug", "name"),
        "teams": Team.objects.only("slug", "name"),
        "export_query": request.GET.urlencode(),
    }


def _slice(query: ReportQuery, name: str, groups: list[queries.Group]) -> dict:
    return {
        "name": name,
        "title": SLICE_TITLES[name],
        "rows": [
            {
                "label": export.bucket_label(group.key),
                "logged": group.logged,
                "link": _drill_link(query, **{name: group.key}),
                "figures": [group.figures[key] for key in SLICE_COLUMNS],
            }
            for group in groups
        ],
    }


def _drill_link(query: ReportQuery, **narrower) -> str | None:
    """The incident list, filtered to the incidents a figure was computed from; None for a
    group the list cannot select (incidents without a team or service)."""
    if None in narrower.values():
        return None
    filters = {
        "closed": "true",
        "logged_from": query.start.isoformat(),
        "logged_to": query.end.isoformat(),
        "priority": query.priority,
        "service": query.service,
        "team": query.team,
        "source": query.source,
        "major": "" if query.major is None else str(query.major).lower(),
    }
    for name, value in narrower.items():
        filters[name] = str(value).lower() if isinstance(value, bool) else value
    return f"{reverse('incidents:list')}?{urlencode({k: v for k, v in filters.items() if v})}"


@require_GET
@portal_view(VIEW_REPORTS)
def reports_export(request, table: str):
    """One table of the page as CSV, for the same parameters."""
    if table not in ("summary", "sla", "trend", *SLICES):
        raise Http404
    try:
        query = read_params(request.GET).report_query()
    except ValidationError as error:
        return HttpResponse(str(error.detail), status=400, content_type="text/plain")
    by_metric = queries.targets()
    if table in ("summary", "sla"):
        result = queries.summary(query, by_metric)
        if table == "sla":
            body = export.to_csv(result.sla, export.SLA_COLUMNS)
        else:
            body = export.to_csv(
                [export.figure_row(f) for f in result.figures], export.FIGURE_COLUMNS
            )
    elif table == "trend":
        rows = export.group_rows(queries.timeseries(query, by_metric), "bucket")
        body = export.to_csv(rows, ["bucket", *export.FIGURE_COLUMNS])
    else:
        rows = export.group_rows(queries.sliced(query, table, by_metric), table)
        body = export.to_csv(rows, [table, *export.FIGURE_COLUMNS])
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="reports-{table}.csv"'
    return response
