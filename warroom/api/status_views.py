"""The status page's API: components (`/api/status/components/`), an incident's public
updates (`/api/incidents/{number}/status-updates/`) and maintenances (`/api/maintenances/`).
Everyone with a role reads; managers write; an incident's updates may also be posted by the
communications lead and incident commander of its war room (warroom.status.services)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from incidents.choices import ChangeSource
from incidents.models import Incident
from itsm.api import viewsets
from itsm.api.parsers import JSON_ONLY
from warroom.api.status_serializers import (
    ComponentCreateSerializer,
    ComponentSerializer,
    MaintenanceCreateSerializer,
    MaintenanceSerializer,
    MaintenanceUpdateCreateSerializer,
    StatusUpdateCreateSerializer,
    StatusUpdateSerializer,
)
from warroom.api.views import NUMBER, _valid
from warroom.models import (
    MANAGE_MAINTENANCE_PERMISSION,
    MANAGE_STATUS_PERMISSION,
    VIEW_STATUS_PERMISSION,
    WORK_PERMISSION,
    StatusComponent,
    StatusUpdate,
)
from warroom.status import selectors, services
from warroom.status.services import ComponentState

API = ChangeSource.API
VIEW_MAINTENANCE = "warroom.view_maintenance"


@extend_schema_view(list=extend_schema(summary="Every status page component, in page order"))
class StatusComponentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    parser_classes = JSON_ONLY
    serializer_class = ComponentSerializer
    pagination_class = None
    queryset = StatusComponent.objects.none()  # for the schema; `list` reads with states
    action_permissions = {"list": VIEW_STATUS_PERMISSION, "create": MANAGE_STATUS_PERMISSION}

    def list(self, request):
        components = selectors.with_states(StatusComponent.objects.select_related("service"))
        return Response(ComponentSerializer(components, many=True).data)

    @extend_schema(
        request=ComponentCreateSerializer,
        responses={201: ComponentSerializer},
        summary="Add a component (managers); `status` sets its state by hand",
    )
    def create(self, request):
        data = _valid(ComponentCreateSerializer, request)
        component = services.component_create(
            actor=request.user,
            source=API,
            name=data["name"],
            slug=data["slug"],
            description=data["description"],
            service=data["service"],
            group_name=data["group"],
            position=data["position"],
            public=data["public"],
            status_override=data["status"],
        )
        queryset = StatusComponent.objects.select_related("service").filter(pk=component.pk)
        fresh = selectors.with_states(queryset)[0]
        return Response(ComponentSerializer(fresh).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[NUMBER])
class IncidentStatusUpdateViewSet(viewsets.GenericViewSet):
    parser_classes = JSON_ONLY
    serializer_class = StatusUpdateSerializer
    queryset = StatusUpdate.objects.none()  # for the schema
    action_permissions = {"create": WORK_PERMISSION}

    @extend_schema(
        request=StatusUpdateCreateSerializer,
        responses={201: StatusUpdateSerializer},
        summary="Post a public status page update of the incident",
    )
    def create(self, request, number=None):
        incident = get_object_or_404(Incident, number=number)
        data = _valid(StatusUpdateCreateSerializer, request)
        states = [ComponentState(row["component"], row["status"]) for row in data["components"]]
        update = services.status_update_post(
            incident=incident,
            actor=request.user,
            source=API,
            status=data["status"],
            body=data["body"],
            components=states,
            name=data["name"],
        )
        fresh = (
            StatusUpdate.objects.select_related("status_incident__incident")
            .prefetch_related("affected_components__component")
            .get(pk=update.pk)
        )
        return Response(StatusUpdateSerializer(fresh).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(summary="Maintenances, the latest scheduled first"))
class MaintenanceViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"
    parser_classes = JSON_ONLY
    serializer_class = MaintenanceSerializer
    action_permissions = {
        "list": VIEW_MAINTENANCE,
        "create": MANAGE_MAINTENANCE_PERMISSION,
        "updates": MANAGE_MAINTENANCE_PERMISSION,
    }

    def get_queryset(self):
        return selectors.maintenance_queryset().order_by("-scheduled_for", "-id")

    @extend_schema(
        request=MaintenanceCreateSerializer,
        responses={201: MaintenanceSerializer},
        summary="Schedule a maintenance (managers)",
    )
    def create(self, request):
        data = _valid(MaintenanceCreateSerializer, request)
        maintenance = services.maintenance_create(actor=request.user, source=API, **data)
        return self._answer(maintenance.pk)

    @extend_schema(
        request=MaintenanceUpdateCreateSerializer,
        responses={201: MaintenanceSerializer},
        summary="Move a maintenance on (in progress, verifying, completed) with a public note",
    )
    @action(detail=True, methods=["post"])
    def updates(self, request, pk=None):
        maintenance = self.get_object()
        data = _valid(MaintenanceUpdateCreateSerializer, request)
        services.maintenance_post_update(
            maintenance=maintenance, actor=request.user, source=API, **data
        )
        return self._answer(maintenance.pk)

    def _answer(self, pk: int):
        fresh = selectors.maintenance_queryset().get(pk=pk)
        return Response(MaintenanceSerializer(fresh).data, status=status.HTTP_201_CREATED)
