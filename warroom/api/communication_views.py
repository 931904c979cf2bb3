"""The communications API: an incident's communications
(`/api/incidents/{number}/communications/`: drafted, edited, sent) and the templates they are
drafted from (`/api/communication-templates/`). Stakeholders read; responders draft and edit;
the incident commander, communications lead and managers send
(warroom.communications.services)."""

from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from incidents.choices import ChangeSource
from incidents.models import Incident
from itsm.api import viewsets
from itsm.api.parsers import JSON_ONLY
from itsm.api.serializers import refuse_any_body
from warroom.api.communication_serializers import (
    CommunicationDraftSerializer,
    CommunicationSerializer,
    CommunicationTemplateSerializer,
    CommunicationUpdateSerializer,
)
from warroom.api.views import NUMBER, ROW_ID, _given, _valid
from warroom.communications import services
from warroom.communications.selectors import VIEW_COMMUNICATION_PERMISSION, communications_of
from warroom.models import (
    DRAFT_COMMUNICATION_PERMISSION,
    Communication,
    CommunicationTemplate,
)

API = ChangeSource.API
READ = VIEW_COMMUNICATION_PERMISSION


@extend_schema_view(list=extend_schema(summary="The incident's communications, newest first"))
@extend_schema(parameters=[NUMBER])
class CommunicationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = ROW_ID
    parser_classes = JSON_ONLY
    serializer_class = CommunicationSerializer
    pagination_class = None
    action_permissions = {
        "list": READ,
        "create": DRAFT_COMMUNICATION_PERMISSION,
        "partial_update": DRAFT_COMMUNICATION_PERMISSION,
        "send": READ,  # who may send is the service's rule (war-room roles, managers)
        "improve": DRAFT_COMMUNICATION_PERMISSION,
    }

    @cached_property
    def incident(self) -> Incident:
        return get_object_or_404(Incident, number=self.kwargs["number"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no incident
            return Communication.objects.none()
        return communications_of(self.incident)

    def _answer(self, pk: int, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=pk)
        return Response(CommunicationSerializer(fresh).data, status=code)

    @extend_schema(
        request=CommunicationDraftSerializer,
        responses={201: CommunicationSerializer},
        summary="Draft a communication of a kind from the incident's current state",
    )
    def create(self, request, number=None):
        data = _valid(CommunicationDraftSerializer, request)
        draft = services.communication_draft(
            incident=self.incident, kind=data["template"], actor=request.user, source=API
        )
        return self._answer(draft.pk, status.HTTP_201_CREATED)

    @extend_schema(
        request=CommunicationUpdateSerializer,
        responses={200: CommunicationSerializer},
        summary="Edit a draft's subject or body",
    )
    def partial_update(self, request, number=None, pk=None):
        changes = _given(CommunicationUpdateSerializer, request)
        services.communication_update(
            communication=self.get_object(), actor=request.user, source=API, **changes
        )
        return self._answer(pk)

    @extend_schema(
        request=None,
        responses={200: CommunicationSerializer},
        summary="Send a draft to its audience (once)",
    )
    @action(detail=True, methods=["post"])
    def send(self, request, number=None, pk=None):
        refuse_any_body(request)
        services.communication_send(communication=self.get_object(), actor=request.user, source=API)
        return self._answer(pk)

    @extend_schema(
        request=None,
        responses={200: CommunicationSerializer},
        summary="Rewrite a draft's body with the configured AI endpoint (409 when not set)",
    )
    @action(detail=True, methods=["post"])
    def improve(self, request, number=None, pk=None):
        refuse_any_body(request)
        services.communication_improve(
            communication=self.get_object(), actor=request.user, source=API
        )
        return self._answer(pk)


@extend_schema_view(list=extend_schema(summary="The communication templates, one per kind"))
class CommunicationTemplateViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    parser_classes = JSON_ONLY
    serializer_class = CommunicationTemplateSerializer
    pagination_class = None
    queryset = CommunicationTemplate.objects.select_related("audience")
    action_permissions = {"list": "warroom.view_communicationtemplate"}
