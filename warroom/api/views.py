"""The major-incident API: declare, read, edit and demote major incidents; every part of a war
room (roles, tasks, timeline, notes and pins, scratchpad, bridge) under
`/api/major-incidents/{number}/`; and the rules that declare major incidents by themselves.
Every write goes through `warroom.services` with source `api`."""

import django_filters
from django.db.models import Prefetch
from django.http import QueryDict
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from incidents.api.serializers import IncidentEventSerializer, NoteSerializer
from incidents.choices import ChangeSource, EventType
from incidents.selectors import incident_timeline
from itsm.api import viewsets
from itsm.api.parsers import JSON_ONLY
from itsm.api.serializers import refuse_any_body
from warroom import selectors, services
from warroom.api.serializers import (
    BridgeSerializer,
    DeclarationRuleSerializer,
    DeclarationRuleUpdateSerializer,
    DeclareSerializer,
    MajorIncidentSerializer,
    MajorIncidentUpdateSerializer,
    PinSerializer,
    ReasonSerializer,
    RevisionSerializer,
    RoleAssignSerializer,
    RoleSerializer,
    ScratchpadSavedSerializer,
    ScratchpadSaveSerializer,
    ScratchpadSerializer,
    TaskCreateSerializer,
    TaskSerializer,
    TaskUpdateSerializer,
)
from warroom.choices import MajorIncidentState
from warroom.models import (
    DECLARE_PERMISSION,
    NUMBER_PATTERN,
    VIEW_PERMISSION,
    WORK_PERMISSION,
    BridgeAttendance,
    DeclarationRule,
    MajorIncident,
)

API = ChangeSource.API
NUMBER = OpenApiParameter(
    "number",
    str,
    OpenApiParameter.PATH,
    pattern=f"^{NUMBER_PATTERN}$",
    description="The incident's number, e.g. INC0001234.",
)
ROW_ID = "[0-9]+"


def _valid(body_serializer, request) -> dict:
    """The request's body, validated (else a 400 that names every bad field). The API reads
    JSON only (`JSON_ONLY`), yet DRF reads an empty body sent as a form as a form, in which a
    missing boolean is false (a pin left out would unpin): that is no fields at all."""
    form = isinstance(request.data, QueryDict)
    body = body_serializer(data={} if form else request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


def _given(body_serializer, request) -> dict:
    """The valid fields the request actually sent (a PATCH leaves the others alone)."""
    data = _valid(body_serializer, request)
    return {name: value for name, value in data.items() if name in request.data}


def _with_webhooks(queryset):
    return queryset.prefetch_related("chat_webhooks")


def _with_attendance(queryset):
    attendance = BridgeAttendance.objects.select_related("user")
    return queryset.prefetch_related(Prefetch("bridge_attendance", queryset=attendance))


class MajorIncidentFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=MajorIncidentState.choices)

    class Meta:
        model = MajorIncident
        fields = ["state"]


@extend_schema_view(
    list=extend_schema(summary="List major incidents, newest first"),
    retrieve=extend_schema(summary="One major incident", parameters=[NUMBER]),
)
class MajorIncidentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    lookup_field = "incident__number"
    lookup_url_kwarg = "number"
    lookup_value_regex = NUMBER_PATTERN
    parser_classes = JSON_ONLY
    serializer_class = MajorIncidentSerializer
    filterset_class = MajorIncidentFilter
    action_permissions = {
        "list": VIEW_PERMISSION,
        "retrieve": VIEW_PERMISSION,
        "create": DECLARE_PERMISSION,
        "partial_update": WORK_PERMISSION,
        "demote": DECLARE_PERMISSION,
        "scratchpad": VIEW_PERMISSION,
        "save_scratchpad": WORK_PERMISSION,
        "scratchpad_revisions": VIEW_PERMISSION,
        "bridge": VIEW_PERMISSION,
        "bridge_join": WORK_PERMISSION,
        "bridge_leave": WORK_PERMISSION,
    }

    def get_queryset(self):
        """Reads join what the payload shows; writes only need the row (their services lock
        it again, and answer with a fresh read)."""
        if self.action in ("list", "retrieve"):
            return _with_webhooks(selectors.major_incident_queryset())
        if self.action == "bridge":
            return _with_attendance(MajorIncident.objects.all())
        return MajorIncident.objects.select_related("incident")

    def filter_queryset(self, queryset):
        """The state filter applies to the list only."""
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _detail_response(self, number: str, status_code=status.HTTP_200_OK):
        major = _with_webhooks(selectors.major_incident_queryset()).get(incident__number=number)
        return Response(self.get_serializer(major).data, status=status_code)

    @extend_schema(
        request=DeclareSerializer,
        responses={201: MajorIncidentSerializer},
        summary="Declare a major incident (managers and super admins)",
    )
    def create(self, request):
        data = _valid(DeclareSerializer, request)
        major = services.major_incident_declare(
            incident=data["incident_id"],
            actor=request.user,
            source=API,
            manager=data["major_incident_manager"],
            bridge_link=data["bridge_link"],
            initial_impact_statement=data["initial_impact_statement"],
        )
        return self._detail_response(major.number, status.HTTP_201_CREATED)

    @extend_schema(
        request=MajorIncidentUpdateSerializer,
        responses={200: MajorIncidentSerializer},
        summary="Change the bridge link, the chat channels, or (managers) the manager",
        parameters=[NUMBER],
    )
    def partial_update(self, request, number=None):
        major = self.get_object()
        changes = _given(MajorIncidentUpdateSerializer, request)
        webhooks = changes.pop("chat_webhooks", None)
        if "major_incident_manager" in changes:
            changes["manager"] = changes.pop("major_incident_manager")
        if changes:
            services.major_incident_update(major=major, actor=request.user, source=API, **changes)
        if webhooks is not None:
            services.major_incident_set_chat_webhooks(
                major=major, actor=request.user, source=API, webhooks=webhooks
            )
        return self._detail_response(major.number)

    @extend_schema(
        request=ReasonSerializer,
        responses={200: MajorIncidentSerializer},
        summary="Demote back to an ordinary incident (managers and super admins)",
        parameters=[NUMBER],
    )
    @action(detail=True, methods=["post"])
    def demote(self, request, number=None):
        major = self.get_object()
        services.major_incident_demote(
            major=major, actor=request.user, source=API, **_valid(ReasonSerializer, request)
        )
        return self._detail_response(major.number)

    # --- the scratchpad ---

    @extend_schema(
        responses={200: ScratchpadSerializer},
        summary="The scratchpad's current version and text",
        parameters=[NUMBER],
    )
    @action(detail=True, methods=["get"])
    def scratchpad(self, request, number=None):
        return Response(ScratchpadSerializer(self.get_object()).data)

    @extend_schema(
        request=ScratchpadSaveSerializer,
        responses={200: ScratchpadSavedSerializer},
        summary="Save the whole text, typed against `base_version`; merged with later saves",
        parameters=[NUMBER],
    )
    @scratchpad.mapping.put
    def save_scratchpad(self, request, number=None):
        major = self.get_object()
        data = _valid(ScratchpadSaveSerializer, request)
        result = services.scratchpad_update(major=major, actor=request.user, **data)
        return Response(ScratchpadSavedSerializer(result).data)

    @extend_schema(
        responses={200: RevisionSerializer(many=True)},
        summary="Every saved version of the scratchpad, newest first",
        parameters=[NUMBER],
    )
    @action(detail=True, methods=["get"], url_path="scratchpad/revisions")
    def scratchpad_revisions(self, request, number=None):
        page = self.paginate_queryset(selectors.scratchpad_revisions(self.get_object()))
        return self.get_paginated_response(RevisionSerializer(page, many=True).data)

    # --- the bridge ---

    @extend_schema(
        responses={200: BridgeSerializer},
        summary="The bridge link, and who joined and left",
        parameters=[NUMBER],
    )
    @action(detail=True, methods=["get"])
    def bridge(self, request, number=None):
        return Response(BridgeSerializer(self.get_object()).data)

    def _bridge_response(self, number: str):
        major = _with_attendance(MajorIncident.objects.all()).get(incident__number=number)
        return Response(BridgeSerializer(major).data)

    @extend_schema(
        request=None,
        responses={200: BridgeSerializer},
        summary="Record that you joined the bridge",
        parameters=[NUMBER],
    )
    @action(detail=True, methods=["post"], url_path="bridge/join")
    def bridge_join(self, request, number=None):
        refuse_any_body(request)
        services.bridge_join(major=self.get_object(), actor=request.user, source=API)
        return self._bridge_response(number)

    @extend_schema(
        request=None,
        responses={200: BridgeSerializer},
        summary="Record that you left the bridge",
        parameters=[NUMBER],
    )
    @action(detail=True, methods=["post"], url_path="bridge/leave")
    def bridge_leave(self, request, number=None):
        refuse_any_body(request)
        services.bridge_leave(major=self.get_object(), actor=request.user, source=API)
        return self._bridge_response(number)


# --- the parts of a war room, under /api/major-incidents/{number}/ ------------------------------


def _part_schema(list_summary: str):
    """The schema of a war-room part: the room's number in every path, and its list."""

    def decorate(viewset):
        rows = viewset.serializer_class(many=True)
        list_schema = extend_schema(summary=list_summary, responses={200: rows})
        return extend_schema(parameters=[NUMBER])(extend_schema_view(list=list_schema)(viewset))

    return decorate


class WarRoomPartViewSet(viewsets.GenericViewSet):
    """One part of a major incident's war room; an unknown number answers 404."""

    lookup_value_regex = ROW_ID
    parser_classes = JSON_ONLY
    queryset = MajorIncident.objects.none()  # for the schema; `get_queryset` gives the rows

    @cached_property
    def major(self) -> MajorIncident:
        queryset = MajorIncident.objects.select_related("incident")
        return get_object_or_404(queryset, incident__number=self.kwargs["number"])


@_part_schema("Who holds each war-room role now")
class RoleViewSet(mixins.ListModelMixin, WarRoomPartViewSet):
    serializer_class = RoleSerializer
    pagination_class = None
    action_permissions = {
        "list": VIEW_PERMISSION,
        "create": WORK_PERMISSION,
        "release": WORK_PERMISSION,
    }

    def get_queryset(self):
        return selectors.current_roles(self.major)

    @extend_schema(
        request=RoleAssignSerializer,
        responses={201: RoleSerializer},
        summary="Assign a role; a role one person holds is handed over from its holder",
    )
    def create(self, request, number=None):
        data = _valid(RoleAssignSerializer, request)
        assignment = services.role_assign(
            major=self.major,
            actor=request.user,
            source=API,
            role=data["role"],
            user=data["username"],
        )
        return Response(RoleSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: RoleSerializer(many=True)},
        summary="End a role assignment; answers the roles held now",
    )
    @action(detail=True, methods=["post"])
    def release(self, request, number=None, pk=None):
        refuse_any_body(request)
        services.role_release(major=self.major, actor=request.user, source=API, assignment_id=pk)
        return Response(RoleSerializer(self.get_queryset(), many=True).data)


@_part_schema("The war room's tasks, open ones first")
class TaskViewSet(mixins.ListModelMixin, WarRoomPartViewSet):
    serializer_class = TaskSerializer
    pagination_class = None
    action_permissions = {
        "list": VIEW_PERMISSION,
        "create": WORK_PERMISSION,
        "partial_update": WORK_PERMISSION,
    }

    def get_queryset(self):
        return self.major.tasks.select_related("assignee")

    @extend_schema(
        request=TaskCreateSerializer,
        responses={201: TaskSerializer},
        summary="Add a task",
    )
    def create(self, request, number=None):
        data = _valid(TaskCreateSerializer, request)
        task = services.task_create(major=self.major, actor=request.user, source=API, **data)
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=TaskUpdateSerializer,
        responses={200: TaskSerializer},
        summary="Rename, reassign (null: nobody), or tick a task done",
    )
    def partial_update(self, request, number=None, pk=None):
        changes = _given(TaskUpdateSerializer, request)
        task = services.task_update(
            major=self.major, actor=request.user, source=API, task_id=pk, **changes
        )
        return Response(TaskSerializer(task).data)


@_part_schema("The incident's timeline, oldest first")
class TimelineViewSet(mixins.ListModelMixin, WarRoomPartViewSet):
    serializer_class = IncidentEventSerializer
    action_permissions = {"list": VIEW_PERMISSION, "pin": WORK_PERMISSION}

    def get_queryset(self):
        return incident_timeline(incident=self.major.incident)

    @extend_schema(
        request=PinSerializer,
        responses={200: IncidentEventSerializer},
        summary="Pin an event to the top of the war room, or unpin it",
    )
    @action(detail=True, methods=["post"])
    def pin(self, request, number=None, pk=None):
        data = _valid(PinSerializer, request)
        event = services.event_pin(major=self.major, actor=request.user, event_id=pk, **data)
        return Response(IncidentEventSerializer(event).data)


@_part_schema("The notes on the incident's timeline, oldest first")
class NoteViewSet(mixins.ListModelMixin, WarRoomPartViewSet):
    serializer_class = IncidentEventSerializer
    action_permissions = {"list": VIEW_PERMISSION, "create": WORK_PERMISSION}

    def get_queryset(self):
        return incident_timeline(incident=self.major.incident).filter(type=EventType.NOTE)

    @extend_schema(
        request=NoteSerializer,
        responses={201: IncidentEventSerializer},
        summary="Add a note to the incident's timeline",
    )
    def create(self, request, number=None):
        data = _valid(NoteSerializer, request)
        event = services.note_add(
            major=self.major, actor=request.user, source=API, text=data["text"]
        )
        return Response(IncidentEventSerializer(event).data, status=status.HTTP_201_CREATED)


# --- declaration rules ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="The rules that declare major incidents by themselves"),
    retrieve=extend_schema(summary="One declaration rule"),
)
class DeclarationRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    lookup_field = "kind"
    lookup_value_regex = "[a-z_]+"
    parser_classes = JSON_ONLY
    serializer_class = DeclarationRuleSerializer
    queryset = DeclarationRule.objects.select_related("manager", "manager_schedule")
    pagination_class = None
    action_permissions = {
        "list": WORK_PERMISSION,
        "retrieve": WORK_PERMISSION,
        "partial_update": services.RULE_PERMISSION,
    }

    @extend_schema(
        request=DeclarationRuleUpdateSerializer,
        responses={200: DeclarationRuleSerializer},
        summary="Change a rule: enabled, priority, threshold, manager schedule, manager (managers)",
    )
    def partial_update(self, request, kind=None):
        rule = self.get_object()
        changes = _given(DeclarationRuleUpdateSerializer, request)
        rule = services.declaration_rule_update(
            rule=rule, actor=request.user, source=API, **changes
        )
        return Response(self.get_serializer(rule).data)
