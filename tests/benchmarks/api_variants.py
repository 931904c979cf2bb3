"""Two other implementations of the incident list and detail, for `bench_api` to measure ours
against (benchmark code: mounted only by `tests.benchmarks.api_urls`, never shipped).

- **limit**: the practical limit. The same JSON as ours from plain views through Django's
  stack without DRF: the project's bearer-token check, one query for the caller's two
  permissions, then one query for the rows (services, and the detail's checklist, as arrays
  in the same row) and one for their SLA timers; rendered with orjson when it is installed,
  else the standard library's json.
- **stock**: what a typical DRF version looks like: a ModelViewSet, ModelSerializers with
  declared fields, select_related/prefetch_related, the stock paginator (an exact count) and
  the filter set.
"""

import functools

from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Prefetch, Q
from django.db.models.expressions import RawSQL
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework import authentication, exceptions, pagination, serializers, viewsets

from incidents import selectors
from incidents.api.serializers import PLAIN_FIELDS, IncidentDetailSerializer, incident_path
from incidents.choices import ChecklistItem, SlaTimerState
from incidents.filters import IncidentFilter
from incidents.models import ChecklistEntry, Incident, SlaTimer
from incidents.services import allowed_transitions
from incidents.sla.api import iso_datetime, sla_timer_payload, timer_seconds_left
from itsm.api.authentication import BearerTokenAuthentication

try:
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None

VIEW = "view_incident"
WORK = "work_incident"
TIMESTAMPS = Incident.TIMESTAMP_FIELDS
DETAIL_PLAIN_FIELDS = IncidentDetailSerializer.DETAIL_PLAIN_FIELDS

# --- the limit ----------------------------------------------------------------------------------


def _json(payload: dict) -> HttpResponse:
    if orjson is not None:
        return HttpResponse(orjson.dumps(payload), content_type="application/json")
    return JsonResponse(payload, json_dumps_params={"separators": (",", ":")})


class PlainBearerAuthentication(authentication.BaseAuthentication):
    """The token and its user in one query, nothing else: no throttle, no record of its use,
    no cached permissions (ours has those: itsm.api.authentication)."""

    def authenticate(self, request):
        scheme, _, raw = authentication.get_authorization_header(request).decode().partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = BearerTokenAuthentication._live_token(raw.strip(), timezone.now())
        return token.user, token


def _caller_permissions(request) -> set[str] | None:
    """The caller's incident permissions in one query, or None when unauthenticated."""
    try:
        result = PlainBearerAuthentication().authenticate(request)
    except exceptions.APIException:  # a bad token: refused like no token
        result = None
    if result is None:
        return None
    user = result[0]
    rows = Permission.objects.filter(
        Q(user=user) | Q(group__user=user), codename__in=(VIEW, WORK)
    ).values_list("codename", flat=True)
    return set(rows)


def _refusal(permissions: set[str] | None) -> HttpResponse | None:
    if permissions is None:
        return JsonResponse({"detail": "Not authenticated."}, status=401)
    if VIEW not in permissions:
        return JsonResponse({"detail": "Forbidden."}, status=403)
    return None


def _services_array():
    links = Incident.services.through.objects.filter(incident_id=OuterRef("pk"))
    return ArraySubquery(links.order_by("service__name").values("service__slug"))


ROW_COLUMNS = (
    "id",
    *PLAIN_FIELDS,
    *TIMESTAMPS,
    "team__slug",
    "assignee__username",
    "reporter__username",
    "service_slugs",
)
ESTIMATE_SQL = (
    "SELECT CASE WHEN reltuples > 10000 THEN reltuples::bigint"
    " ELSE (SELECT COUNT(*) FROM incidents_incident) END"
    " FROM pg_class WHERE oid = 'incidents_incident'::regclass"
)


def _row_payload(row: tuple, timers: list, zone) -> dict:
    plain = len(PLAIN_FIELDS)
    data = dict(zip(PLAIN_FIELDS, row[1 : 1 + plain], strict=True))
    stamps = row[1 + plain : 1 + plain + len(TIMESTAMPS)]
    data.update(
        (name, iso_datetime(stamp, zone)) for name, stamp in zip(TIMESTAMPS, stamps, strict=True)
    )
    team, assignee, reporter, services = row[1 + plain + len(TIMESTAMPS) :][:4]
    data.update(
        url=incident_path(data["number"]),
        services=services,
        team=team,
        assignee=assignee,
        reporter=reporter,
        sla_timers=[sla_timer_payload(timer, zone) for timer in timers],
    )
    return data


def limit_list(request):
    permissions = _caller_permissions(request)
    if refusal := _refusal(permissions):
        return refusal
    size = min(int(request.GET.get("page_size", 50)), 200)
    page = int(request.GET.get("page", 1))
    rows = list(
        Incident.objects.order_by("-created_at", "-id")
        .annotate(service_slugs=_services_array(), total=RawSQL(ESTIMATE_SQL, []))
        .values_list(*ROW_COLUMNS, "total")[(page - 1) * size : page * size]
    )
    timers = timer_rows([row[0] for row in rows])
    count = rows[0][-1] if rows else 0
    zone = timezone.get_current_timezone()
    return _json(
        {
            "count": count,
            "next": _page_link(request, page + 1) if page * size < count else None,
            "previous": _page_link(request, page - 1) if page > 1 else None,
            "results": [_row_payload(row, timers.get(row[0], []), zone) for row in rows],
        }
    )


def _page_link(request, page: int) -> str:
    """As DRF writes it: the first page without `page`."""
    query = request.GET.copy()
    query.pop("page", None)
    if page > 1:
        query["page"] = page
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


CHECKLIST_COLUMNS = ("item", "ticked_by__username", "ticked_at")


def _checklist_arrays() -> dict:
    entries = ChecklistEntry.objects.filter(incident_id=OuterRef("pk")).order_by("item")
    return {
        f"checklist_{column}": ArraySubquery(entries.values(column)) for column in CHECKLIST_COLUMNS
    }


def _checklist(items, people, times, zone) -> list[dict]:
    ticked = {item: (person, at) for item, person, at in zip(items, people, times, strict=True)}
    return [
        {
            "item": key,
            "label": label,
            "done": key in ticked,
            "ticked_by": ticked[key][0] if key in ticked else None,
            "ticked_at": iso_datetime(ticked[key][1], zone) if key in ticked else None,
        }
        for key, label in ChecklistItem.choices
    ]


@functools.cache
def _transitions_from(status: str) -> list[str]:
    """What a worker may start from `status` (the guards are the form's business)."""
    return allowed_transitions(Incident(status=status), None)


def limit_detail(request, number: str):
    permissions = _caller_permissions(request)
    if refusal := _refusal(permissions):
        return refusal
    columns = (*ROW_COLUMNS, *DETAIL_PLAIN_FIELDS, "duplicate_of__number")
    row = (
        Incident.objects.filter(number=number)
        .annotate(service_slugs=_services_array(), **_checklist_arrays())
        .values_list(*columns, *(f"checklist_{c}" for c in CHECKLIST_COLUMNS))
        .first()
    )
    if row is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    zone = timezone.get_current_timezone()
    data = _row_payload(row, timer_rows([row[0]]).get(row[0], []), zone)
    detail = row[len(ROW_COLUMNS) :]
    data.update(zip(DETAIL_PLAIN_FIELDS, detail[: len(DETAIL_PLAIN_FIELDS)], strict=True))
    duplicate, items, people, times = detail[len(DETAIL_PLAIN_FIELDS) :]
    data.update(
        duplicate_of=duplicate,
        checklist=_checklist(items, people, times, zone),
        allowed_transitions=_transitions_from(data["status"]) if WORK in permissions else [],
    )
    return _json(data)


def timer_rows(ids: list[int]) -> dict[int, list]:
    timers: dict[int, list] = {}
    rows = SlaTimer.objects.filter(incident_id__in=ids).order_by("target_at", "kind")
    for row in rows.values_list("incident_id", *selectors.SLA_TIMER_COLUMNS, named=True):
        timers.setdefault(row.incident_id, []).append(row)
    return timers


# --- stock DRF ------------------------------------------------------------------------------------


class StockTimerSerializer(serializers.ModelSerializer):
    paused = serializers.SerializerMethodField()
    seconds_left = serializers.SerializerMethodField()

    class Meta:
        model = SlaTimer
        fields = [
            "kind",
            "state",
            "started_at",
            "target_at",
            "warn_at",
            "warned_at",
            "breached_at",
            "stopped_at",
            "paused",
            "seconds_left",
        ]

    def get_paused(self, timer):
        return timer.state == SlaTimerState.PAUSED

    def get_seconds_left(self, timer):
        return timer_seconds_left(timer)


class StockIncidentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True)
    sla_timers = StockTimerSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            *PLAIN_FIELDS,
            "url",
            "services",
            "team",
            "assignee",
            "reporter",
            *TIMESTAMPS,
            "sla_timers",
        ]

    def get_url(self, incident):
        return incident_path(incident.number)


class StockChecklistSerializer(serializers.Serializer):
    item = serializers.CharField()
    label = serializers.CharField()
    done = serializers.BooleanField()
    ticked_by = serializers.CharField(allow_null=True)
    ticked_at = serializers.DateTimeField(allow_null=True)


class StockIncidentDetailSerializer(StockIncidentSerializer):
    duplicate_of = serializers.SlugRelatedField(slug_field="number", read_only=True)
    checklist = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()

    class Meta(StockIncidentSerializer.Meta):
        fields = [
            *StockIncidentSerializer.Meta.fields,
            *DETAIL_PLAIN_FIELDS,
            "duplicate_of",
            "checklist",
            "allowed_transitions",
        ]

    def get_checklist(self, incident):
        return StockChecklistSerializer(selectors.checklist_rows(incident), many=True).data

    def get_allowed_transitions(self, incident):
        return allowed_transitions(incident, self.context["request"].user)


class StockPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class StockIncidentViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_field = "number"
    authentication_classes = [PlainBearerAuthentication]
    filterset_class = IncidentFilter
    pagination_class = StockPagination
    action_permissions = {"list": f"incidents.{VIEW}", "retrieve": f"incidents.{VIEW}"}
    queryset = Incident.objects.select_related(
        "team", "assignee", "reporter", "duplicate_of"
    ).prefetch_related(
        "services",
        Prefetch("sla_timers", queryset=SlaTimer.objects.order_by("target_at", "kind")),
        Prefetch("checklist", queryset=ChecklistEntry.objects.select_related("ticked_by")),
    )

    def get_serializer_class(self):
        if self.action == "list":
            return StockIncidentSerializer
        return StockIncidentDetailSerializer
