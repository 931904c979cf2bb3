"""The role follow-ups API: /api/incidents/{number}/postmortem/followups/ (the checklists of
a major incident's review) and .../followups/{id}/ (tick or untick one, PATCH {"done": bool}).
Readers of the review read them; the assignee or a manager ticks (postmortems/followups.py)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from incidents.choices import ChangeSource
from itsm.api import viewsets
from itsm.api.serializers import StrictModelSerializer, StrictSerializer
from postmortems import followups
from postmortems.api.reviews import NUMBER, readable_reviews
from postmortems.models import FollowUp, PostIncidentReview
from postmortems.selectors import followup_list
from warroom.api.serializers import PersonSerializer

VIEW_PERMISSION = "postmortems.view_followup"
ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The follow-up's id.")


class FollowUpSerializer(StrictModelSerializer):
    role_label = serializers.CharField(source="get_role_display")
    assignee = PersonSerializer()
    done = serializers.BooleanField()
    done_by = PersonSerializer(allow_null=True)
    may_tick = serializers.SerializerMethodField(help_text="The reader may tick or untick it.")

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "role",
            "role_label",
            "assignee",
            "position",
            "text",
            "done",
            "done_at",
            "done_by",
            "may_tick",
        ]
        read_only_fields = fields

    def get_may_tick(self, followup) -> bool:
        return followups.may_tick(self.context["request"].user, followup)


class FollowUpDoneSerializer(StrictSerializer):
    done = serializers.BooleanField()


class FollowUpViewSet(viewsets.GenericViewSet):
    queryset = FollowUp.objects.none()  # for the schema: the views look up their own
    serializer_class = FollowUpSerializer
    pagination_class = None
    action_permissions = {
        "list": VIEW_PERMISSION,
        # and being its assignee or a manager, checked by the service
        "partial_update": VIEW_PERMISSION,
    }

    def _review(self, number: str) -> PostIncidentReview:
        return get_object_or_404(readable_reviews(self.request.user), incident__number=number)

    @extend_schema(
        parameters=[NUMBER],
        responses=FollowUpSerializer(many=True),
        summary="The role follow-ups of a major incident's review",
    )
    def list(self, request, number=None):
        rows = followup_list(self._review(number))
        return Response(FollowUpSerializer(rows, many=True, context={"request": request}).data)

    @extend_schema(
        parameters=[NUMBER, ID],
        request=FollowUpDoneSerializer,
        summary="Tick or untick a follow-up (its assignee, or a manager)",
    )
    def partial_update(self, request, number=None, id=None):
        followup = get_object_or_404(FollowUp, review=self._review(number), pk=id)
        body = FollowUpDoneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        followup = followups.followup_set_done(
            followup=followup,
            actor=request.user,
            source=ChangeSource.API,
            done=body.validated_data["done"],
        )
        fresh = FollowUp.objects.select_related("assignee", "done_by").get(pk=followup.pk)
        return Response(FollowUpSerializer(fresh, context={"request": request}).data)
