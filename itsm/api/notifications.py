"""`/api/notifications/`: the caller's own notifications, and marking them read. Another
user's notification answers 404, as if it did not exist."""

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from itsm.api import viewsets
from itsm.api.serializers import StrictModelSerializer, refuse_any_body
from itsm.choices import NotificationChannel
from itsm.models import Notification
from itsm.notifications import notification_mark_read, notifications_mark_all_read

VIEW = "itsm.view_notification"


class NotificationSerializer(StrictModelSerializer):
    unread = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "channel",
            "subject",
            "body",
            "link",
            "context",
            "status",
            "created_at",
            "sent_at",
            "read_at",
            "unread",
        ]
        read_only_fields = fields

    def get_unread(self, obj) -> bool:
        return obj.read_at is None


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", label="Only unread (true) or read (false)."
    )
    channel = django_filters.ChoiceFilter(choices=NotificationChannel.choices)

    class Meta:
        model = Notification
        fields = ["unread", "channel"]


@extend_schema_view(
    list=extend_schema(summary="Your notifications, newest first"),
    retrieve=extend_schema(summary="One of your notifications"),
)
class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    lookup_value_regex = "[0-9]+"
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    action_permissions = {"list": VIEW, "retrieve": VIEW, "read": VIEW, "read_all": VIEW}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Notification.objects.none()
        return Notification.objects.filter(recipient=self.request.user)

    @extend_schema(
        request=None,
        responses={200: NotificationSerializer},
        summary="Mark one of your notifications read",
    )
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        refuse_any_body(request)
        notification = notification_mark_read(notification=self.get_object(), now=timezone.now())
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer("ReadAll", fields={"marked": serializers.IntegerField()}),
        },
        summary="Mark all your notifications read",
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        refuse_any_body(request)
        marked = notifications_mark_all_read(user=request.user, now=timezone.now())
        return Response({"marked": marked})
