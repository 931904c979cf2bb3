"""`/api/webhooks/`: outbound webhook subscriptions and their delivery logs (docs/webhooks.md).
ITSM managers and super admins only. The secret is in the answer of the create and of
`rotate-secret/`, and nowhere else."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from itsm.api import viewsets
from itsm.api.serializers import StrictModelSerializer, refuse_any_body
from itsm.choices import WebhookEvent
from itsm.models import WebhookDelivery, WebhookSubscription
from itsm.webhooks import (
    rotating,
    webhook_previous_secret_drop,
    webhook_secret_rotate,
    webhook_subscription_enable,
)

VIEW = "itsm.view_webhooksubscription"
CHANGE = "itsm.change_webhooksubscription"


class WebhookSubscriptionSerializer(StrictModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        allow_empty=True,
        required=False,
        help_text="The events to send; none while empty.",
    )
    rotating = serializers.SerializerMethodField(
        help_text="Whether a previous secret still signs beside the current one."
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "name",
            "url",
            "event_types",
            "active",
            "rotating",
            "secret_rotated_at",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "secret_rotated_at",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]

    def validate_event_types(self, value):
        return list(dict.fromkeys(value))

    def get_rotating(self, subscription) -> bool:
        return rotating(subscription)


class WebhookSecretSerializer(WebhookSubscriptionSerializer):
    """A subscription with its secret: the answer of a create and of a rotation, only."""

    secret = serializers.CharField(
        read_only=True, help_text="whsec_…: give it to the receiver now; it is not shown again."
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "message_id",
            "event_type",
            "status",
            "attempts",
            "last_response_code",
            "last_error",
            "next_attempt_at",
            "created_at",
            "last_attempt_at",
            "finished_at",
            "payload",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="List outbound webhook subscriptions"),
    retrieve=extend_schema(summary="One outbound webhook subscription"),
    create=extend_schema(
        summary="Subscribe a URL to events; the answer carries its secret, once",
        responses={201: WebhookSecretSerializer},
    ),
    partial_update=extend_schema(
        summary="Edit an outbound webhook subscription",
        request=WebhookSubscriptionSerializer,
        responses={200: WebhookSubscriptionSerializer},
    ),
    destroy=extend_schema(summary="Delete a subscription and its delivery log"),
)
class WebhookSubscriptionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = WebhookSubscription.objects.all()
    serializer_class = WebhookSubscriptionSerializer
    lookup_value_regex = "[0-9]+"
    action_permissions = {
        "list": VIEW,
        "retrieve": VIEW,
        "create": "itsm.add_webhooksubscription",
        "partial_update": CHANGE,
        "destroy": "itsm.delete_webhooksubscription",
        "rotate_secret": CHANGE,
        "drop_previous_secret": CHANGE,
        "deliveries": "itsm.view_webhookdelivery",
    }

    def partial_update(self, request, pk=None):
        """Edit (PATCH only). `"active": true` on a subscription a 410 disabled re-enables it."""
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        subscription = serializer.save()
        if subscription.active and subscription.disabled_at:
            subscription = webhook_subscription_enable(subscription=subscription)
        return Response(self.get_serializer(subscription).data)

    def get_serializer_class(self):
        if self.action == "create":
            return WebhookSecretSerializer
        return super().get_serializer_class()

    @extend_schema(
        request=None,
        responses={200: WebhookSecretSerializer},
        summary="A new secret; the old one keeps signing beside it for 24 hours",
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        refuse_any_body(request)
        subscription = webhook_secret_rotate(subscription=self.get_object(), now=timezone.now())
        return Response(WebhookSecretSerializer(subscription).data)

    @extend_schema(
        request=None,
        responses={200: WebhookSubscriptionSerializer},
        summary="Stop signing with the previous secret",
    )
    @action(detail=True, methods=["post"], url_path="drop-previous-secret")
    def drop_previous_secret(self, request, pk=None):
        refuse_any_body(request)
        subscription = webhook_previous_secret_drop(subscription=self.get_object())
        return Response(self.get_serializer(subscription).data)

    @extend_schema(
        responses={200: WebhookDeliverySerializer(many=True)},
        summary="The subscription's deliveries, newest first",
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        rows = self.get_object().deliveries.order_by("-created_at", "-id")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
