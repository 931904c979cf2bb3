"""GET /api/alerts/ and /api/alerts/{id}/: the alert groups monitoring sent, read-only, for
everyone who reads incidents. (The senders' endpoints are in incidents/api/alerts.py.)"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from incidents.alerts import selectors
from incidents.api.serializers import incident_path
from incidents.filters import AlertGroupFilter
from incidents.models import Alert, AlertGroup, Integration
from itsm.api.serializers import StrictModelSerializer

VIEW_ALERTS = "incidents.view_alertgroup"


class AlertIntegrationSerializer(StrictModelSerializer):
    class Meta:
        model = Integration
        fields = ["id", "name", "kind"]
        read_only_fields = fields


class AlertSerializer(StrictModelSerializer):
    labels = serializers.DictField(child=serializers.CharField(), read_only=True)
    annotations = serializers.DictField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Alert
        fields = [
            "fingerprint",
            "status",
            "labels",
            "annotations",
            "starts_at",
            "ends_at",
            "generator_url",
            "first_seen_at",
            "last_seen_at",
            "repeat_count",
        ]
        read_only_fields = fields


class AlertGroupSerializer(StrictModelSerializer):
    integration = AlertIntegrationSerializer(read_only=True)
    incident = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)
    incident_url = serializers.SerializerMethodField(help_text="The incident's portal page.")

    class Meta:
        model = AlertGroup
        fields = [
            "id",
            "integration",
            "key",
            "title",
            "status",
            "alert_count",
            "firing_count",
            "received_count",
            "first_seen_at",
            "last_seen_at",
            "resolved_at",
            "incident",
            "incident_url",
        ]
        read_only_fields = fields

    def get_incident_url(self, group) -> str | None:
        return incident_path(group.incident.number) if group.incident_id else None


class AlertGroupDetailSerializer(AlertGroupSerializer):
    alerts = AlertSerializer(many=True, read_only=True)

    class Meta(AlertGroupSerializer.Meta):
        fields = [*AlertGroupSerializer.Meta.fields, "alerts"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="List alert groups, newest last seen first"),
    retrieve=extend_schema(summary="One alert group with its alerts"),
)
class AlertGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"
    filterset_class = AlertGroupFilter
    action_permissions = {"list": VIEW_ALERTS, "retrieve": VIEW_ALERTS}

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.alert_group_detail_queryset()
        return selectors.alert_group_queryset()

    def filter_queryset(self, queryset):
        """Filters apply to the list only; a lookup by id should not pay for them."""
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_class(self):
        return AlertGroupSerializer if self.action == "list" else AlertGroupDetailSerializer
