"""SLA policies (with their targets), business calendars (with hours and holidays), and the
timers an incident payload carries. Everyone with the view permission reads; managers write."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.response import Response

from incidents.choices import SlaTimerState
from incidents.models import BusinessCalendar, Holiday, SlaPolicy, SlaTarget, SlaTimer, WorkingHours
from incidents.sla import services as sla
from itsm.api import viewsets
from itsm.api.fields import TextLookupField
from itsm.api.serializers import StrictModelSerializer
from itsm.api.views import SLUG_PATTERN

# The longest duration the API takes (an SLA target, a shift, an escalation delay): longer ones
# make no sense, and far longer ones overflow the datetime arithmetic and the database column.
MAX_DURATION = timedelta(days=366)


# A timer's datetimes as the API shows them, in SlaTimerSerializer's order.
TIMER_DATETIMES = ("started_at", "target_at", "warn_at", "warned_at", "breached_at", "stopped_at")


def iso_datetime(value, zone=None) -> str | None:
    """A datetime as DRF's DateTimeField writes it: in the current time zone (`zone`, when
    the caller looked it up), UTC as "Z". A payload of many datetimes looks the zone up once:
    each lookup takes a lock that every thread of the process shares (asgiref's Local), and a
    page's 1,350 lookups made concurrent requests queue on it."""
    if value is None:
        return None
    text = timezone.localtime(value, zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class SlaTimerSerializer(StrictModelSerializer):
    paused = serializers.SerializerMethodField()
    seconds_left = serializers.SerializerMethodField(
        help_text="Until the target (negative once overdue); frozen while paused; null once "
        "the timer has stopped."
    )

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
        read_only_fields = fields

    def to_representation(self, timer):
        return sla_timer_payload(timer)

    def get_paused(self, timer) -> bool:
        return timer.state == SlaTimerState.PAUSED

    def get_seconds_left(self, timer) -> int | None:
        return timer_seconds_left(timer)


def sla_timer_payload(timer, zone=None) -> dict:
    """A timer (a model instance or a row with its columns) with the fields SlaTimerSerializer
    declares, built directly: a page of 50 incidents carries ~150 timers, and DRF's per-field
    machinery was most of that page's cost. `zone`: as `iso_datetime`'s."""
    zone = zone or timezone.get_current_timezone()
    return {
        "kind": timer.kind,
        "state": timer.state,
        **{name: iso_datetime(getattr(timer, name), zone) for name in TIMER_DATETIMES},
        "paused": timer.state == SlaTimerState.PAUSED,
        "seconds_left": timer_seconds_left(timer),
    }


def timer_seconds_left(timer) -> int | None:
    if timer.stopped_at is not None or timer.state in (SlaTimerState.MET, SlaTimerState.CANCELLED):
        return None
    reference = timer.paused_at if timer.state == SlaTimerState.PAUSED else timezone.now()
    return round((timer.target_at - reference).total_seconds())


# --- policies ------------------------------------------------------------------------------------


class ReplacedItemSerializer(StrictModelSerializer):
    """An item of a list that a PATCH replaces whole: DRF skips a missing required field under
    a partial parent, so this requires them itself."""

    def validate(self, attrs):
        missing = [
            name
            for name, field in self.fields.items()
            if field.required and not field.read_only and name not in attrs
        ]
        if missing:
            raise serializers.ValidationError(dict.fromkeys(missing, "This field is required."))
        return attrs


class SlaTargetSerializer(ReplacedItemSerializer):
    class Meta:
        model = SlaTarget
        fields = ["priority", "kind", "duration", "business_time"]
        extra_kwargs = {"duration": {"max_value": MAX_DURATION}}

    def validate_duration(self, value):
        if value <= timedelta(0):
            raise serializers.ValidationError("Must be longer than zero.")
        return value


class SlaPolicySerializer(StrictModelSerializer):
    calendar = TextLookupField(
        slug_field="slug",
        queryset=BusinessCalendar.objects.all(),
        required=False,
        allow_null=True,
        help_text="Needed by targets in business time.",
    )
    targets = SlaTargetSerializer(
        many=True, required=False, help_text="When given, replaces every target of the policy."
    )

    class Meta:
        model = SlaPolicy
        fields = [
            "slug",
            "name",
            "description",
            "is_default",
            "warning_percent",
            "pause_on_hold",
            "calendar",
            "targets",
        ]
        # Making a policy the default moves the flag from the old one (see sla_policy_save),
        # so the one-default constraint is not a reason to refuse.
        extra_kwargs = {"is_default": {"validators": []}}

    def validate(self, attrs):
        targets = attrs["targets"] if "targets" in attrs else self._current_targets()
        pairs = [(t["priority"], t["kind"]) for t in targets]
        if len(pairs) != len(set(pairs)):
            raise serializers.ValidationError({"targets": "One target per priority and kind."})
        calendar = attrs.get("calendar", getattr(self.instance, "calendar", None))
        if calendar is None and any(t.get("business_time") for t in targets):
            raise serializers.ValidationError(
                {"calendar": "Targets in business time need a calendar."}
            )
        return attrs

    def _current_targets(self) -> list[dict]:
        if self.instance is None:
            return []
        return list(self.instance.targets.values("priority", "kind", "business_time"))

    def create(self, validated_data):
        targets = validated_data.pop("targets", [])
        return sla.sla_policy_save(policy=SlaPolicy(**validated_data), targets=targets)

    def update(self, instance, validated_data):
        targets = validated_data.pop("targets", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return sla.sla_policy_save(policy=instance, targets=targets)


# --- calendars -----------------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$",
        "example": "09:00:00",
        "description": "A local time of the calendar's time zone: HH:MM[:SS].",
    }
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time without an offset. The schema's `time` format would require one
    (RFC 3339), which a working day's start or end in a named time zone does not have."""


class WorkingHoursSerializer(ReplacedItemSerializer):
    start = LocalTimeField()
    end = LocalTimeField()

    class Meta:
        model = WorkingHours
        fields = ["weekday", "start", "end"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"end": "Must be after start."})
        return attrs


class HolidaySerializer(ReplacedItemSerializer):
    class Meta:
        model = Holiday
        fields = ["date", "name"]


class BusinessCalendarSerializer(StrictModelSerializer):
    hours = WorkingHoursSerializer(
        many=True, required=False, help_text="When given, replaces every interval."
    )
    holidays = HolidaySerializer(
        many=True, required=False, help_text="When given, replaces every holiday."
    )

    class Meta:
        model = BusinessCalendar
        fields = ["slug", "name", "time_zone", "hours", "holidays"]

    def validate(self, attrs):
        # A new calendar needs hours; an edit may leave them out, but not empty them.
        if not attrs.get("hours", self.instance is not None):
            raise serializers.ValidationError({"hours": "Give at least one working interval."})
        dates = [holiday["date"] for holiday in attrs.get("holidays", [])]
        if len(dates) != len(set(dates)):
            raise serializers.ValidationError({"holidays": "One holiday per date."})
        return attrs

    def create(self, validated_data):
        hours = validated_data.pop("hours")
        holidays = validated_data.pop("holidays", [])
        return sla.sla_calendar_save(
            calendar=BusinessCalendar(**validated_data), hours=hours, holidays=holidays
        )

    def update(self, instance, validated_data):
        hours = validated_data.pop("hours", None)
        holidays = validated_data.pop("holidays", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return sla.sla_calendar_save(calendar=instance, hours=hours, holidays=holidays)


# --- views ---------------------------------------------------------------------------------------


class ConfigViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """List, read, create and edit (PATCH) a configuration record named by its slug."""

    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN

    def partial_update(self, request, slug=None):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        fresh = self.get_queryset().get(pk=serializer.instance.pk)
        return Response(self.get_serializer(fresh).data)


def _config_schema(noun: str, serializer):
    return extend_schema_view(
        list=extend_schema(summary=f"List {noun}s"),
        retrieve=extend_schema(summary=f"One {noun}"),
        create=extend_schema(summary=f"Create a {noun}", responses={201: serializer}),
        partial_update=extend_schema(
            summary=f"Edit a {noun}",
            request=serializer,
            responses={200: serializer},
        ),
    )


@_config_schema("SLA policy", SlaPolicySerializer)
class SlaPolicyViewSet(ConfigViewSet):
    serializer_class = SlaPolicySerializer
    queryset = SlaPolicy.objects.select_related("calendar").prefetch_related("targets")
    action_permissions = {
        "list": "incidents.view_slapolicy",
        "retrieve": "incidents.view_slapolicy",
        "create": "incidents.add_slapolicy",
        "partial_update": "incidents.change_slapolicy",
    }


@_config_schema("business calendar", BusinessCalendarSerializer)
class BusinessCalendarViewSet(ConfigViewSet):
    serializer_class = BusinessCalendarSerializer
    queryset = BusinessCalendar.objects.prefetch_related("hours", "holidays")
    action_permissions = {
        "list": "incidents.view_businesscalendar",
        "retrieve": "incidents.view_businesscalendar",
        "create": "incidents.add_businesscalendar",
        "partial_update": "incidents.change_businesscalendar",
    }
