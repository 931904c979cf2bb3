"""What the major-incident API reads and writes. A major incident, its roles, tasks and bridge
have the shapes the war room's websocket sends (`warroom.selectors`); a test keeps them equal."""

from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.serializers import UsernameField
from incidents.choices import IncidentStatus, Priority
from incidents.models import Incident, Schedule
from itsm.api.fields import TextLookupField
from itsm.api.serializers import StrictModelSerializer, StrictSerializer
from itsm.models import ChatWebhook
from warroom.choices import DeclarationTrigger, MajorIncidentState, WarRoomRole
from warroom.models import (
    BRIDGE_LINK_MAX_LENGTH,
    NUMBER_PATTERN,
    REASON_MAX_LENGTH,
    SCRATCHPAD_MAX_LENGTH,
    STATEMENT_MAX_LENGTH,
    TASK_TITLE_MAX_LENGTH,
    BridgeAttendance,
    DeclarationRule,
    MajorIncident,
    RoleAssignment,
    ScratchpadRevision,
    WarRoomTask,
)
from warroom.services import is_staff_user


class StaffField(UsernameField):
    """A username of active staff (who may work in war rooms). Checked here as well as in the
    services so that one answer names every bad field of a body, by the body's names."""

    default_error_messages = {
        "does_not_exist": "No active user {value}.",
        "not_staff": "{value} is not active staff.",
    }

    def to_internal_value(self, data):
        user = super().to_internal_value(data)
        if not is_staff_user(user):
            self.fail("not_staff", value=user.get_username())
        return user


class ChatWebhookField(TextLookupField):
    default_error_messages = {"does_not_exist": "No chat channel {value}."}

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=ChatWebhook.objects.all(), **kwargs)


class RelatedListField(serializers.ManyRelatedField):
    """A list of related objects. DRF reads any iterable as a list; a JSON object would be
    read as the list of its keys (`{}` would empty it)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            self.fail("not_a_list", input_type="object")
        return super().to_internal_value(data)


class EscapingChoiceField(serializers.ChoiceField):
    """DRF's choice field, except that a wrong choice is quoted in the error with unpaired
    surrogates escaped (JSON can carry `"\\ud800"`): quoted as is, the error could not be
    encoded as UTF-8, and the answer would be a 500."""

    def fail(self, key, **kwargs):
        if "input" in kwargs:
            kwargs["input"] = str(kwargs["input"]).encode("utf-8", "backslashreplace").decode()
        super().fail(key, **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "anyOf": [{"format": "uri"}, {"enum": [""]}],
        "description": "A link, or empty.",
    }
)
class LinkOrEmptyField(serializers.CharField):
    """A link that may be empty: the schema's `uri` format alone refuses ""."""


class PersonSerializer(StrictSerializer):
    username = serializers.CharField(source="get_username")
    name = serializers.SerializerMethodField(help_text="The full name, else the username.")

    def get_name(self, user) -> str:
        return user.get_full_name() or user.get_username()


# --- the major incident ------------------------------------------------------------------------


class MajorIncidentSerializer(StrictModelSerializer):
    number = serializers.CharField(source="incident.number")
    title = serializers.CharField(source="incident.title")
    incident_status = serializers.ChoiceField(
        source="incident.status", choices=IncidentStatus.choices
    )
    priority = serializers.ChoiceField(source="incident.priority", choices=Priority.choices)
    state = serializers.ChoiceField(choices=MajorIncidentState.choices)
    manager = PersonSerializer(allow_null=True)
    trigger = serializers.ChoiceField(choices=DeclarationTrigger.choices)
    declared_by = PersonSerializer(allow_null=True, help_text="Empty when a rule declared it.")
    war_room_url = serializers.SerializerMethodField(help_text="The war room's page.")
    websocket_url = serializers.SerializerMethodField(
        help_text="The war room's live feed (docs/warroom-protocol.md)."
    )
    chat_webhooks = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    bridge_link = LinkOrEmptyField(read_only=True)

    class Meta:
        model = MajorIncident
        fields = [
            "number",
            "title",
            "incident_status",
            "priority",
            "state",
            "manager",
            "bridge_link",
            "initial_impact_statement",
            "trigger",
            "trigger_detail",
            "declared_by",
            "declared_at",
            "resolved_at",
            "closed_at",
            "demoted_at",
            "demotion_reason",
            "war_room_url",
            "websocket_url",
            "chat_webhooks",
        ]
        read_only_fields = fields

    def get_war_room_url(self, major) -> str:
        return self.context["request"].build_absolute_uri(major.get_absolute_url())

    def get_websocket_url(self, major) -> str:
        request = self.context["request"]
        scheme = "wss" if request.is_secure() else "ws"
        return f"{scheme}://{request.get_host()}{major.websocket_path}"


class DeclareSerializer(StrictSerializer):
    """Exactly the request of the reference (major-incident-management)."""

    incident_id = serializers.RegexField(
        NUMBER_PATTERN, max_length=10, help_text="The incident's number, e.g. INC0001234."
    )
    major_incident_manager = StaffField()
    bridge_link = serializers.CharField(
        max_length=BRIDGE_LINK_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    initial_impact_statement = serializers.CharField(max_length=STATEMENT_MAX_LENGTH)

    def validate_incident_id(self, number: str) -> Incident:
        incident = Incident.objects.filter(number=number).first()
        if incident is None:
            raise serializers.ValidationError(f"No incident {number}.")
        return incident


class MajorIncidentUpdateSerializer(StrictSerializer):
    bridge_link = serializers.CharField(
        max_length=BRIDGE_LINK_MAX_LENGTH, required=False, allow_blank=True
    )
    major_incident_manager = StaffField(
        required=False, allow_null=True, help_text="Managers and super admins only."
    )
    chat_webhooks = RelatedListField(
        child_relation=ChatWebhookField(),
        required=False,
        help_text="Slugs of the chat channels the timeline is relayed to; the whole new list.",
    )


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)


# --- roles, tasks, bridge ----------------------------------------------------------------------


class RoleSerializer(StrictModelSerializer):
    role_label = serializers.CharField(source="get_role_display")
    user = PersonSerializer()

    class Meta:
        model = RoleAssignment
        fields = ["id", "role", "role_label", "user", "assigned_at"]
        read_only_fields = fields


class RoleAssignSerializer(StrictSerializer):
    role = EscapingChoiceField(choices=WarRoomRole.choices)
    username = StaffField(help_text="The new holder.")


class TaskSerializer(StrictModelSerializer):
    assignee = PersonSerializer(allow_null=True)

    class Meta:
        model = WarRoomTask
        fields = ["id", "title", "assignee", "done", "created_at", "done_at"]
        read_only_fields = fields


class TaskCreateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=TASK_TITLE_MAX_LENGTH)
    assignee = StaffField(required=False, allow_null=True, default=None)


class TaskUpdateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=TASK_TITLE_MAX_LENGTH, required=False)
    assignee = StaffField(required=False, allow_null=True)
    done = serializers.BooleanField(required=False)


class AttendanceSerializer(StrictModelSerializer):
    user = PersonSerializer()

    class Meta:
        model = BridgeAttendance
        fields = ["user", "joined_at", "left_at"]
        read_only_fields = fields


class BridgeSerializer(StrictSerializer):
    link = serializers.CharField(source="bridge_link")
    attendees = AttendanceSerializer(source="bridge_attendance", many=True)


# --- timeline and scratchpad --------------------------------------------------------------------


class PinSerializer(StrictSerializer):
    pinned = serializers.BooleanField()


class ScratchpadSerializer(StrictSerializer):
    version = serializers.IntegerField(source="scratchpad_version")
    text = serializers.CharField(source="scratchpad")


class ScratchpadSaveSerializer(StrictSerializer):
    base_version = serializers.IntegerField(
        min_value=0, help_text="The version the text was typed against."
    )
    text = serializers.CharField(
        max_length=SCRATCHPAD_MAX_LENGTH, allow_blank=True, trim_whitespace=False
    )


class ScratchpadSavedSerializer(StrictSerializer):
    version = serializers.IntegerField()
    text = serializers.CharField()
    merged = serializers.BooleanField(
        help_text="Others saved since `base_version`; their words and these were merged."
    )


class RevisionSerializer(StrictModelSerializer):
    author = PersonSerializer(allow_null=True)

    class Meta:
        model = ScratchpadRevision
        fields = ["version", "text", "author", "at", "merged"]
        read_only_fields = fields


# --- declaration rules ----------------------------------------------------------------------------


class DeclarationRuleSerializer(StrictModelSerializer):
    description = serializers.CharField(source="describe")
    manager_schedule = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    manager = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = DeclarationRule
        fields = [
            "kind",
            "description",
            "enabled",
            "priority",
            "threshold",
            "manager_schedule",
            "manager",
        ]
        read_only_fields = fields


class DeclarationRuleUpdateSerializer(StrictSerializer):
    enabled = serializers.BooleanField(required=False)
    priority = EscapingChoiceField(choices=Priority.choices, required=False)
    threshold = serializers.IntegerField(
        required=False,
        help_text="Minutes without acknowledgement (1 to 10080), or the number of affected "
        "users to exceed.",
    )
    manager_schedule = TextLookupField(
        slug_field="slug",
        queryset=Schedule.objects.all(),
        required=False,
        allow_null=True,
        help_text="The slug of the schedule whose on-call is named manager of the major "
        "incidents the rule declares, and paged.",
    )
    manager = StaffField(
        required=False,
        allow_null=True,
        help_text="Named manager (and paged) when no schedule is set or nobody is on call.",
    )
