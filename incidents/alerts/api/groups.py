"""GET /api/alerts/ and /api/alerts/{id}/: the alert groups monitoring sent, read-only, for
everyone who reads incidents; POST /api/alerts/payloads/{id}/replay/ for managers. (The
senders' endpoints are in incidents/alerts/api/integrations.py.)"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from incidents.alerts import selectors
from incidents.alerts.services import REPLAY_PERMISSION, received_payload_replay
from incidents.api.serializers import incident_path
from incidents.filters import AlertGroupFilter
from incidents.models import Alert, AlertGroup, Integration, ReceivedPayload
from incidents.models.alerts import ALERT_FIELDS
from itsm.api import viewsets
from itsm.api.serializers import StrictModelSerializer, refuse_any_body

VIEW_ALERTS = "incidents.view_alertgroup"


class AlertIntegrationSerializer(StrictModelSerializer):
    class Meta:
        model = Integration
        fields = ["id", "name", "kind"]
        read_only_fields = fields


class AlertSerializer(StrictModelSerializer):
    labels = serializers.DictField(child=serializers.CharField(), read_only=True)
    annotations = serializers.DictField(child=serializers.CharField(), read_only=True)
    generator_url = serializers.CharField(read_only=True, help_text="As the sender wrote it.")

    class Meta:
        model = Alert
        fields = list(ALERT_FIELDS)
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


class ReceivedPayloadSerializer(StrictModelSerializer):
    integration = AlertIntegrationSerializer(read_only=True)
    incident = serializers.SerializerMethodField(help_text="The incident its group belongs to.")

    class Meta:
        model = ReceivedPayload
        fields = [
            "id",
            "integration",
            "received_at",
            "outcome",
            "error",
            "replay_of",
            "group",
            "incident",
        ]
        read_only_fields = fields

    def get_incident(self, payload) -> str | None:
        group = payload.group
        return group.incident.number if group and group.incident_id else None


class ReceivedPayloadViewSet(viewsets.GenericViewSet):
    """POST /api/alerts/payloads/{id}/replay/: a kept payload read again through its
    integration's current mapping (incidents/alerts/services.py)."""

    lookup_value_regex = "[0-9]+"
    queryset = ReceivedPayload.objects.all()
    serializer_class = ReceivedPayloadSerializer
    action_permissions = {"replay": REPLAY_PERMISSION}

    @extend_schema(
        request=None,
        responses={201: ReceivedPayloadSerializer},
        summary="Replay a received payload through its integration's current mapping",
    )
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        refuse_any_body(request)
        replayed = received_payload_replay(payload=self.get_object(), actor=request.user)
        return Response(ReceivedPayloadSerializer(replayed).data, status=status.HTTP_201_CREATED)
