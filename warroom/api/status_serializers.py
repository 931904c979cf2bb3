"""What the status page's API reads and writes: components, an incident's public updates, and
maintenances (docs/api.md, "Status page")."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.models import Service
from itsm.api.fields import TextLookupField
from itsm.api.serializers import StrictSerializer
from warroom.api.serializers import EscapingChoiceField, RelatedListField
from warroom.choices import ComponentStatus, MaintenanceStatus, StatusIncidentStatus
from warroom.models import (
    COMPONENT_DESCRIPTION_MAX_LENGTH,
    STATUS_BODY_MAX_LENGTH,
    STATUS_NAME_MAX_LENGTH,
    Maintenance,
    MaintenanceUpdate,
    StatusComponent,
    StatusUpdate,
)

BIGGEST_ID = 2**63 - 1


@extend_schema_field(
    {
        "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string"}],
        "description": "A public component's id, or its slug.",
    }
)
class ComponentField(TextLookupField):
    """A public component, by its id (a number) or its slug (text)."""

    default_error_messages = {"does_not_exist": "No public component {value}."}

    def __init__(self, **kwargs):
        queryset = StatusComponent.objects.filter(public=True)
        super().__init__(slug_field="slug", queryset=queryset, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            component = (
                self.get_queryset().filter(pk=data).first() if 0 < data <= BIGGEST_ID else None
            )
            if component is None:
                self.fail("does_not_exist", value=data)
            return component
        return super().to_internal_value(data)


class ServiceSlugField(TextLookupField):
    default_error_messages = {"does_not_exist": "No service {value}."}

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Service.objects.all(), **kwargs)


# --- components ----------------------------------------------------------------------------------


class ComponentSerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="group.name", allow_null=True, default=None)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    status = EscapingChoiceField(
        source="state",
        choices=ComponentStatus.choices,
        help_text="Its state now: the override, else derived from incidents and maintenances.",
    )
    status_override = serializers.CharField(help_text="Set by hand; empty: derived.")

    class Meta:
        model = StatusComponent
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "group",
            "service",
            "position",
            "public",
            "status",
            "status_override",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ComponentCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=60, required=False, default="")
    description = serializers.CharField(
        max_length=COMPONENT_DESCRIPTION_MAX_LENGTH, required=False, default="", allow_blank=True
    )
    service = ServiceSlugField(required=False, allow_null=True, default=None)
    group = serializers.CharField(
        max_length=100, required=False, default="", allow_blank=True, help_text="A group's name."
    )
    position = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, default=0)
    public = serializers.BooleanField(required=False, default=True)
    status = EscapingChoiceField(
        choices=ComponentStatus.choices,
        required=False,
        default="",
        allow_blank=True,
        help_text="A state set by hand; empty or left out: derived from incidents.",
    )


# --- status updates ------------------------------------------------------------------------------


class ComponentStateSerializer(StrictSerializer):
    component = ComponentField()
    status = EscapingChoiceField(choices=ComponentStatus.choices)


class StatusUpdateCreateSerializer(StrictSerializer):
    status = EscapingChoiceField(choices=StatusIncidentStatus.choices)
    body = serializers.CharField(max_length=STATUS_BODY_MAX_LENGTH, help_text="Markdown; public.")
    components = ComponentStateSerializer(
        many=True,
        required=False,
        default=list,
        help_text="Components whose state this update sets; the others keep theirs.",
    )
    name = serializers.CharField(
        max_length=STATUS_NAME_MAX_LENGTH,
        required=False,
        default="",
        allow_blank=True,
        help_text="The incident's public name (its first update: default the incident's title).",
    )


class AffectedComponentSerializer(serializers.Serializer):
    component = serializers.CharField(source="component.slug")
    name = serializers.CharField(source="component.name")
    old_status = serializers.ChoiceField(choices=ComponentStatus.choices)
    new_status = serializers.ChoiceField(choices=ComponentStatus.choices)


class StatusUpdateSerializer(serializers.ModelSerializer):
    incident = serializers.CharField(source="status_incident.incident.number")
    name = serializers.CharField(source="status_incident.name")
    status = serializers.ChoiceField(choices=StatusIncidentStatus.choices)
    components = AffectedComponentSerializer(source="affected_components", many=True)
    status_page_url = serializers.SerializerMethodField()

    class Meta:
        model = StatusUpdate
        fields = [
            "id",
            "incident",
            "name",
            "status",
            "body",
            "components",
            "created_at",
            "status_page_url",
        ]
        read_only_fields = fields

    def get_status_page_url(self, update) -> str:
        return f"{settings.PORTAL_BASE_URL}/status/#{update.status_incident.incident.number}"


# --- maintenances --------------------------------------------------------------------------------


class MaintenanceUpdateSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=MaintenanceStatus.choices)

    class Meta:
        model = MaintenanceUpdate
        fields = ["status", "body", "created_at"]
        read_only_fields = fields


class MaintenanceSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=MaintenanceStatus.choices)
    components = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    updates = MaintenanceUpdateSerializer(many=True, read_only=True)

    class Meta:
        model = Maintenance
        fields = [
            "id",
            "name",
            "status",
            "scheduled_for",
            "scheduled_until",
            "auto_transition",
            "components",
            "updates",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MaintenanceCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=STATUS_NAME_MAX_LENGTH)
    body = serializers.CharField(max_length=STATUS_BODY_MAX_LENGTH, help_text="Markdown; public.")
    scheduled_for = serializers.DateTimeField()
    scheduled_until = serializers.DateTimeField()
    components = RelatedListField(child_relation=ComponentField(), required=False, default=list)
    status = EscapingChoiceField(
        choices=MaintenanceStatus.choices, required=False, default=MaintenanceStatus.SCHEDULED
    )

    def validate(self, data):
        if data["scheduled_until"] <= data["scheduled_for"]:
            raise serializers.ValidationError({"scheduled_until": "Must be after scheduled_for."})
        return data


class MaintenanceUpdateCreateSerializer(StrictSerializer):
    status = EscapingChoiceField(choices=MaintenanceStatus.choices)
    body = serializers.CharField(max_length=STATUS_BODY_MAX_LENGTH, help_text="Markdown; public.")
