"""On-call schedules, "who is on call at T", escalation policies and an incident's escalation
steps. Schedules and policies are addressed by their slug (or their numeric id)."""

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from incidents.api.serializers import TeamSlugField, UsernameField
from incidents.choices import Priority
from incidents.models import (
    EscalationLevel,
    EscalationPolicy,
    EscalationStep,
    Incident,
    Rotation,
    RotationMember,
    Schedule,
    ScheduleOverride,
)
from incidents.oncall.escalation import escalation_policy_create
from incidents.oncall.services import oncall_entry, schedule_create, schedule_override_create
from incidents.sla.api import MAX_DURATION
from itsm.api import viewsets
from itsm.api.fields import TextLookupField
from itsm.api.serializers import StrictModelSerializer, StrictSerializer
from itsm.api.views import SLUG_PATTERN

# --- serializers -------------------------------------------------------------------------------


class MembersField(serializers.ListField):
    """A rotation's members as usernames, in turn order."""

    child = UsernameField()

    def __init__(self, **kwargs):
        super().__init__(allow_empty=False, **kwargs)

    def get_attribute(self, rotation):
        return [membership.user for membership in rotation.memberships.all()]


class RotationSerializer(StrictModelSerializer):
    members = MembersField()

    class Meta:
        model = Rotation
        fields = ["name", "layer", "handoff_at", "shift_length", "ends_at", "members"]
        extra_kwargs = {
            "layer": {"default": Rotation._meta.get_field("layer").default},
            "shift_length": {"max_value": MAX_DURATION},
        }


class OverrideSerializer(StrictModelSerializer):
    user = UsernameField()

    class Meta:
        model = ScheduleOverride
        fields = ["id", "user", "starts_at", "ends_at", "reason", "created_at"]
        read_only_fields = ["id", "created_at"]


class ScheduleSerializer(StrictModelSerializer):
    team = TeamSlugField(required=False, allow_null=True)
    rotations = RotationSerializer(many=True, required=False)
    overrides = OverrideSerializer(
        many=True, read_only=True, source="upcoming_overrides", help_text="Not yet ended."
    )

    class Meta:
        model = Schedule
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "time_zone",
            "team",
            "rotations",
            "overrides",
        ]


class OnCallQuerySerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False, help_text="ISO 8601; default: now.")


class OnCallSerializer(StrictSerializer):
    schedule = serializers.CharField()
    at = serializers.DateTimeField()
    user = serializers.CharField(allow_null=True, help_text="Username; null: nobody.")
    name = serializers.CharField(allow_null=True)
    source = serializers.CharField(
        allow_null=True, help_text='The rotation\'s name, or "override".'
    )


class EscalationLevelSerializer(StrictModelSerializer):
    priorities = serializers.ListField(
        child=serializers.ChoiceField(choices=Priority.choices), required=False, default=list
    )
    target_users = UsernameField(many=True, required=False)
    target_teams = TeamSlugField(many=True, required=False)
    target_schedules = TextLookupField(
        slug_field="slug", many=True, required=False, queryset=Schedule.objects.all()
    )

    class Meta:
        model = EscalationLevel
        fields = [
            "position",
            "name",
            "delay",
            "priorities",
            "target_users",
            "target_teams",
            "target_schedules",
        ]
        extra_kwargs = {"delay": {"max_value": MAX_DURATION}}


class EscalationPolicySerializer(StrictModelSerializer):
    # Declared so that the model's one-default constraint is not checked here: a new default
    # takes over from the old one.
    is_default = serializers.BooleanField(default=False)
    levels = EscalationLevelSerializer(many=True, required=False)

    class Meta:
        model = EscalationPolicy
        fields = ["id", "slug", "name", "description", "is_default", "repeat_count", "levels"]


class EscalationStepSerializer(StrictModelSerializer):
    level = serializers.IntegerField(source="level.position")
    level_name = serializers.CharField(source="level.name")
    state = serializers.SerializerMethodField()

    class Meta:
        model = EscalationStep
        fields = [
            "level",
            "level_name",
            "round",
            "due_at",
            "state",
            "fired_at",
            "cancelled_at",
            "paged",
        ]
        read_only_fields = fields

    def get_state(self, step) -> str:
        if step.fired_at:
            return "fired"
        return "cancelled" if step.cancelled_at else "pending"


# --- views -------------------------------------------------------------------------------------


class SlugOrIdLookup:
    """`/{slug}/`, or the numeric id; a slug wins over an equal id."""

    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN

    def get_object(self):
        value = self.kwargs[self.lookup_field]
        queryset = self.filter_queryset(self.get_queryset())
        found = queryset.filter(slug=value).first()
        if found is None and value.isascii() and value.isdigit():
            found = queryset.filter(pk=int(value)).first()
        if found is None:
            raise Http404("Nothing with this slug or id.")
        self.check_object_permissions(self.request, found)
        return found


@extend_schema_view(
    list=extend_schema(summary="On-call schedules, with rotations and upcoming overrides"),
    retrieve=extend_schema(summary="One schedule"),
    create=extend_schema(
        summary="Add a schedule with its rotations",
        responses={201: ScheduleSerializer},
    ),
)
class ScheduleViewSet(
    SlugOrIdLookup,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ScheduleSerializer
    action_permissions = {
        "list": "incidents.view_schedule",
        "retrieve": "incidents.view_schedule",
        "create": "incidents.add_schedule",
        "oncall": "incidents.view_schedule",
        "overrides": "incidents.add_scheduleoverride",
    }

    def get_queryset(self):
        members = RotationMember.objects.select_related("user")
        upcoming = ScheduleOverride.objects.filter(ends_at__gt=timezone.now()).select_related(
            "user"
        )
        return Schedule.objects.select_related("team").prefetch_related(
            Prefetch(
                "rotations",
                queryset=Rotation.objects.prefetch_related(
                    Prefetch("memberships", queryset=members)
                ),
            ),
            Prefetch("overrides", queryset=upcoming, to_attr="upcoming_overrides"),
        )

    def create(self, request):
        body = ScheduleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        schedule = schedule_create(actor=request.user, **body.validated_data)
        return self._detail(schedule, status.HTTP_201_CREATED)

    def _detail(self, schedule, status_code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=schedule.pk)
        return Response(ScheduleSerializer(fresh).data, status=status_code)

    @extend_schema(
        parameters=[OnCallQuerySerializer],
        responses={200: OnCallSerializer},
        summary="Who is on call at a moment (default: now)",
    )
    @action(detail=True, methods=["get"])
    def oncall(self, request, slug=None):
        schedule = self.get_object()
        query = OnCallQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        at = query.validated_data.get("at") or timezone.now()
        entry = oncall_entry(schedule=schedule, at=at)
        user = entry.user if entry else None
        body = {
            "schedule": schedule.slug,
            "at": at,
            "user": user.get_username() if user else None,
            "name": (user.get_full_name() or user.get_username()) if user else None,
            "source": entry.source if entry else None,
        }
        return Response(OnCallSerializer(body).data)

    @extend_schema(
        request=OverrideSerializer,
        responses={201: ScheduleSerializer},
        summary="Put someone on call for a while (a responder: only themselves)",
    )
    @action(detail=True, methods=["post"])
    def overrides(self, request, slug=None):
        schedule = self.get_object()
        body = OverrideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        schedule_override_create(actor=request.user, schedule=schedule, **body.validated_data)
        return self._detail(schedule, status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Escalation policies with their levels"),
    retrieve=extend_schema(summary="One escalation policy"),
    create=extend_schema(
        summary="Add an escalation policy with its levels",
        responses={201: EscalationPolicySerializer},
    ),
)
class EscalationPolicyViewSet(
    SlugOrIdLookup,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = EscalationPolicySerializer
    queryset = EscalationPolicy.objects.prefetch_related(
        Prefetch(
            "levels",
            queryset=EscalationLevel.objects.prefetch_related(
                "target_users", "target_teams", "target_schedules"
            ),
        )
    )
    action_permissions = {
        "list": "incidents.view_escalationpolicy",
        "retrieve": "incidents.view_escalationpolicy",
        "create": "incidents.add_escalationpolicy",
    }

    def create(self, request):
        body = EscalationPolicySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        policy = escalation_policy_create(actor=request.user, **body.validated_data)
        fresh = self.get_queryset().get(pk=policy.pk)
        return Response(EscalationPolicySerializer(fresh).data, status=status.HTTP_201_CREATED)


@extend_schema(
    summary="An incident's escalation steps: each level, when it is due, and whom it paged",
    responses={200: EscalationStepSerializer(many=True)},
)
class IncidentEscalationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = EscalationStepSerializer
    queryset = EscalationStep.objects.none()  # for the schema; get_queryset reads the incident's
    pagination_class = None
    action_permissions = {"list": "incidents.view_escalationstep"}

    def get_queryset(self):
        incident = get_object_or_404(Incident, number=self.kwargs["number"])
        return incident.escalation_steps.select_related("level").order_by(
            "round", "level__position"
        )
