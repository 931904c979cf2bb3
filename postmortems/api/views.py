"""The action-item API: list (with filters), read, create and change action items. Every write
goes through postmortems/action_items.py with source `api`; stakeholders read only."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from incidents.choices import ChangeSource
from itsm.api import viewsets
from postmortems import selectors
from postmortems.action_items import action_item_create, action_item_update
from postmortems.api.filters import ActionItemFilter
from postmortems.api.serializers import (
    ActionItemCreateSerializer,
    ActionItemSerializer,
    ActionItemUpdateSerializer,
)
from postmortems.models.action_items import (
    ADD_ACTION_ITEM,
    CHANGE_ACTION_ITEM,
    VIEW_ACTION_ITEM,
)

API = ChangeSource.API


@extend_schema_view(
    list=extend_schema(summary="List action items, the earliest due first"),
    retrieve=extend_schema(summary="One action item"),
)
class ActionItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"
    serializer_class = ActionItemSerializer
    filterset_class = ActionItemFilter
    action_permissions = {
        "list": VIEW_ACTION_ITEM,
        "retrieve": VIEW_ACTION_ITEM,
        "create": ADD_ACTION_ITEM,
        "partial_update": CHANGE_ACTION_ITEM,
    }

    def get_queryset(self):
        return selectors.action_item_queryset()

    def filter_queryset(self, queryset):
        """The filters apply to the list only."""
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _item_response(self, pk: int, status_code=status.HTTP_200_OK):
        item = selectors.action_item_queryset().get(pk=pk)
        return Response(ActionItemSerializer(item).data, status=status_code)

    @extend_schema(
        request=ActionItemCreateSerializer,
        responses={201: ActionItemSerializer},
        summary="Add an action item to an incident (its review's items are the incident's)",
    )
    def create(self, request):
        body = ActionItemCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = action_item_create(actor=request.user, source=API, **body.validated_data)
        return self._item_response(item.pk, status.HTTP_201_CREATED)

    @extend_schema(
        request=ActionItemUpdateSerializer,
        responses={200: ActionItemSerializer},
        summary="Change an action item; status `wont_do` needs `wont_do_reason`",
    )
    def partial_update(self, request, pk=None):
        item = self.get_object()
        body = ActionItemUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        action_item_update(item=item, actor=request.user, source=API, **body.validated_data)
        return self._item_response(item.pk)
