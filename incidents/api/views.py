from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from incidents import selectors, services
from incidents.alerts import selectors as alert_selectors
from incidents.alerts.api.groups import AlertGroupDetailSerializer
from incidents.api.serializers import (
    ChecklistTickSerializer,
    HistoryEntrySerializer,
    IncidentCreateSerializer,
    IncidentDetailSerializer,
    IncidentEventSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    NoteSerializer,
    PageSerializer,
    ResponderSerializer,
    ServiceImpactSerializer,
    ServiceSerializer,
    TeamSerializer,
    TransitionSerializer,
)
from incidents.choices import ChangeSource, Transition
from incidents.filters import IncidentFilter
from incidents.models import Incident, Service, Team
from incidents.oncall import paging
from itsm.api import viewsets
from itsm.api.serializers import refuse_any_body
from itsm.api.views import SLUG_PATTERN

VIEW = "incidents.view_incident"
WORK = "incidents.work_incident"
API = ChangeSource.API


def _transition_action(name: str):
    """A POST endpoint running transition `name` through the incident services."""

    @extend_schema(
        request=TransitionSerializer,
        responses={200: IncidentDetailSerializer},
        summary=f"{Transition(name).label} an incident",
    )
    def run(self, request, number=None):
        incident = self.get_object()
        body = TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        provided = {key: value for key, value in body.validated_data.items() if key in request.data}
        services.incident_transition(
            incident=incident, name=name, actor=request.user, source=ChangeSource.API, **provided
        )
        return self._detail_response(incident.number)

    run.__name__ = name
    return action(detail=True, methods=["post"], url_path=name)(run)


@extend_schema_view(
    list=extend_schema(
        summary="List incidents",
        parameters=[OpenApiParameter("page_size", int, description="Up to 200; default 50.")],
    ),
    retrieve=extend_schema(summary="One incident, with its checklist and allowed transitions"),
)
class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_field = "number"
    lookup_value_regex = "INC[0-9]{7}"
    filterset_class = IncidentFilter
    action_permissions = {
        "list": VIEW,
        "retrieve": VIEW,
        "create": "incidents.add_incident",
        "partial_update": "incidents.change_incident",
        "notes": "incidents.add_incidentevent",
        "checklist": WORK,
        "timeline": VIEW,
        "history": VIEW,
        "take": WORK,
        "page": WORK,
        "responders": WORK,
        "list_responders": VIEW,
        "alerts": VIEW,
        **{name: WORK for name in Transition.values},
    }

    def get_queryset(self):
        """Lists and the detail page read with their joins (the serializer reads services and
        timers as plain rows); the other actions only need the row (their services lock it
        again, and answer with a fresh detail read)."""
        if self.action == "list":
            return selectors.incident_api_queryset()
        if self.action == "retrieve":
            return selectors.incident_api_detail_queryset()
        return Incident.objects.all()

    def filter_queryset(self, queryset):
        """Filters apply to the list only, and only when the query names one of them: a
        lookup by number, or a page of the unfiltered list, does not build the filter set."""
        asked = self.filterset_class.base_filters.keys() & self.request.query_params.keys()
        return super().filter_queryset(queryset) if self.action == "list" and asked else queryset

    def get_serializer_class(self):
        return IncidentSerializer if self.action == "list" else IncidentDetailSerializer

    def _detail_response(self, number: str, status_code=status.HTTP_200_OK):
        """The answer to a write: the detail, read as `retrieve` reads it."""
        incident = selectors.incident_api_detail_queryset().get(number=number)
        data = IncidentDetailSerializer(incident, context=self.get_serializer_context()).data
        return Response(data, status=status_code)

    @extend_schema(
        request=IncidentCreateSerializer,
        responses={201: IncidentDetailSerializer},
        summary="Log an incident (impact + urgency, or an explicit priority)",
    )
    def create(self, request):
        body = IncidentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = services.incident_create(
            actor=request.user,
            source=ChangeSource.API,
            **{
                ("incident_source" if key == "source" else key): value
                for key, value in body.validated_data.items()
            },
        )
        return self._detail_response(incident.number, status.HTTP_201_CREATED)

    @extend_schema(
        request=IncidentUpdateSerializer,
        responses={200: IncidentDetailSerializer},
        summary="Edit fields; `priority` with `priority_reason` overrides the priority",
    )
    def partial_update(self, request, number=None):
        incident = self.get_object()
        body = IncidentUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changes = dict(body.validated_data)
        priority = changes.pop("priority", None)
        reason = changes.pop("priority_reason", "")
        if changes:
            services.incident_update(
                incident=incident, actor=request.user, source=ChangeSource.API, **changes
            )
        if priority is not None:
            services.incident_change_priority(
                incident=incident,
                actor=request.user,
                source=ChangeSource.API,
                priority=priority,
                reason=reason,
            )
        return self._detail_response(incident.number)

    @extend_schema(
        request=NoteSerializer,
        responses={201: IncidentEventSerializer},
        summary="Add a note to the timeline",
    )
    @action(detail=True, methods=["post"])
    def notes(self, request, number=None):
        incident = self.get_object()
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        event = services.incident_add_note(
            incident=incident, actor=request.user, source=ChangeSource.API, **body.validated_data
        )
        return Response(IncidentEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ChecklistTickSerializer,
        responses={200: IncidentDetailSerializer},
        summary="Tick or untick a closure-checklist item",
    )
    @action(detail=True, methods=["post"])
    def checklist(self, request, number=None):
        incident = self.get_object()
        body = ChecklistTickSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.incident_tick_checklist(
            incident=incident, actor=request.user, source=ChangeSource.API, **body.validated_data
        )
        return self._detail_response(incident.number)

    @extend_schema(responses={200: IncidentEventSerializer(many=True)}, summary="The timeline")
    @action(detail=True, methods=["get"])
    def timeline(self, request, number=None):
        incident = self.get_object()
        page = self.paginate_queryset(
            selectors.visible_timeline(incident=incident, user=request.user)
        )
        return self.get_paginated_response(IncidentEventSerializer(page, many=True).data)

    @extend_schema(
        responses={200: HistoryEntrySerializer(many=True)},
        summary="Field-level history, newest first, with what changed",
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def history(self, request, number=None):
        incident = self.get_object()
        rows = selectors.history_with_diffs(incident=incident)
        return Response(HistoryEntrySerializer(rows, many=True).data)

    @extend_schema(
        responses={200: AlertGroupDetailSerializer(many=True)},
        summary="The incident's alert groups with their alerts, newest last seen first",
    )
    @action(detail=True, methods=["get"])
    def alerts(self, request, number=None):
        incident = self.get_object()
        page = self.paginate_queryset(alert_selectors.incident_alert_groups(incident=incident))
        return self.get_paginated_response(AlertGroupDetailSerializer(page, many=True).data)

    @extend_schema(
        request=None,
        responses={200: IncidentDetailSerializer},
        summary="Take an incident: the caller becomes its assignee",
    )
    @action(detail=True, methods=["post"])
    def take(self, request, number=None):
        refuse_any_body(request)
        services.incident_take(incident=self.get_object(), actor=request.user, source=API)
        return self._detail_response(number)

    def _paging_arguments(self, request) -> dict:
        """A page's or an addition's arguments: the incident, the caller, the valid body."""
        incident = self.get_object()
        body = PageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return {"incident": incident, "actor": request.user, "source": API, **body.validated_data}

    @extend_schema(
        request=PageSerializer,
        responses={201: IncidentEventSerializer},
        summary="Page people now: users, teams' members, schedules' current on-call",
    )
    @action(detail=True, methods=["post"])
    def page(self, request, number=None):
        event = paging.incident_page(**self._paging_arguments(request))
        return Response(IncidentEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PageSerializer,
        responses={201: ResponderSerializer(many=True)},
        summary="Add responders (and page them); answers the responders added",
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def responders(self, request, number=None):
        added = paging.incident_add_responders(**self._paging_arguments(request))
        return Response(ResponderSerializer(added, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={200: ResponderSerializer(many=True)},
        summary="The incident's responders, in the order they were added",
    )
    @responders.mapping.get
    def list_responders(self, request, number=None):
        rows = selectors.incident_responders(incident=self.get_object())
        return Response(ResponderSerializer(rows, many=True).data)

    acknowledge = _transition_action(Transition.ACKNOWLEDGE)
    start = _transition_action(Transition.START)
    hold = _transition_action(Transition.HOLD)
    resume = _transition_action(Transition.RESUME)
    mitigate = _transition_action(Transition.MITIGATE)
    resolve = _transition_action(Transition.RESOLVE)
    reopen = _transition_action(Transition.REOPEN)
    close = _transition_action(Transition.CLOSE)
    cancel = _transition_action(Transition.CANCEL)


class ServiceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN
    serializer_class = ServiceSerializer
    queryset = Service.objects.select_related("owner_team").prefetch_related("depends_on")
    action_permissions = {
        "list": "incidents.view_service",
        "retrieve": "incidents.view_service",
        "create": "incidents.add_service",
        "impact": "incidents.view_service",
    }

    def get_queryset(self):
        """The impact analysis loads the graph itself; it only needs the service's row."""
        return Service.objects.all() if self.action == "impact" else super().get_queryset()

    def perform_create(self, serializer):
        serializer.instance = services.service_create(
            actor=self.request.user, source=ChangeSource.API, **serializer.validated_data
        )

    @extend_schema(
        responses={200: ServiceImpactSerializer},
        summary="Impact analysis: the services that depend on this one and the users affected",
    )
    @action(detail=True, methods=["get"])
    def impact(self, request, slug=None):
        impact = selectors.service_impact(service=self.get_object())
        return Response(ServiceImpactSerializer(impact).data)


class TeamViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN
    serializer_class = TeamSerializer
    queryset = Team.objects.prefetch_related("members")
    action_permissions = {
        "list": "incidents.view_team",
        "retrieve": "incidents.view_team",
        "create": "incidents.add_team",
    }
