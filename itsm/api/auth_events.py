"""`/api/auth-events/`: the authentication audit log, for ITSM managers and super admins."""

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers

from itsm.api import viewsets
from itsm.api.fields import UtcDateTimeFilter
from itsm.api.serializers import StrictModelSerializer
from itsm.choices import AuthEventKind
from itsm.models import AuthEvent

VIEW = "itsm.view_authevent"


class AuthEventSerializer(StrictModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AuthEvent
        fields = ["id", "at", "kind", "user", "username", "ip_address", "user_agent", "detail"]
        read_only_fields = fields


class AuthEventFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=AuthEventKind.choices)
    user = django_filters.CharFilter(
        field_name="user__username", label="Events of this user (their username)."
    )
    username = django_filters.CharFilter(label="Events where this username was given.")
    ip_address = django_filters.CharFilter(label="Events from this address.")
    since = UtcDateTimeFilter(field_name="at", lookup_expr="gte", label="At or after (ISO 8601).")
    until = UtcDateTimeFilter(field_name="at", lookup_expr="lt", label="Before (ISO 8601).")

    class Meta:
        model = AuthEvent
        fields = ["kind", "user", "username", "ip_address", "since", "until"]


@extend_schema_view(
    list=extend_schema(summary="Authentication events, newest first"),
    retrieve=extend_schema(summary="One authentication event"),
)
class AuthEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"
    queryset = AuthEvent.objects.select_related("user")
    serializer_class = AuthEventSerializer
    filterset_class = AuthEventFilter
    action_permissions = {"list": VIEW, "retrieve": VIEW}
