"""The review meeting API: /api/incidents/{number}/postmortem/meeting/ (read; PATCH to move
it: the review's owner or a manager) and .../meeting.ics (the invitation, text/calendar)."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from incidents.choices import ChangeSource
from itsm.api import viewsets
from itsm.api.serializers import StrictModelSerializer, StrictSerializer
from postmortems import invitation, meeting
from postmortems.api.reviews import NUMBER, readable_reviews
from postmortems.models import LOCATION_MAX_LENGTH, MEETING_MAX_MINUTES, ReviewMeeting
from warroom.api.serializers import PersonSerializer

VIEW_PERMISSION = "postmortems.view_reviewmeeting"


def readable_meeting(user, number: str) -> ReviewMeeting:
    """The meeting of `number`'s review, if `user` may read the review (else 404)."""
    return get_object_or_404(
        ReviewMeeting.objects.select_related("review__incident", "review__owner").filter(
            review__in=readable_reviews(user)
        ),
        review__incident__number=number,
    )


def ics_response(found: ReviewMeeting) -> HttpResponse:
    """The invitation as a download."""
    number = found.review.incident.number
    text = invitation.meeting_ics(found, attendees=found.attendees.order_by("pk"))
    response = HttpResponse(text, content_type=f"{invitation.MIMETYPE}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{invitation.ics_filename(number)}"'
    return response


class MeetingSerializer(StrictModelSerializer):
    number = serializers.CharField(source="review.incident.number")
    ends_at = serializers.DateTimeField()
    bridge_link = serializers.CharField(help_text="The call's link (the war room's), or empty.")
    attendees = PersonSerializer(many=True)
    ics_url = serializers.SerializerMethodField(help_text="The invitation (text/calendar).")

    class Meta:
        model = ReviewMeeting
        fields = [
            "number",
            "starts_at",
            "ends_at",
            "duration_minutes",
            "location",
            "bridge_link",
            "attendees",
            "sequence",
            "ics_url",
        ]
        read_only_fields = fields

    def get_ics_url(self, found) -> str:
        return f"/api/incidents/{found.review.incident.number}/postmortem/meeting.ics"


class MeetingMoveSerializer(StrictSerializer):
    starts_at = serializers.DateTimeField(required=False, help_text="With its time zone.")
    duration_minutes = serializers.IntegerField(
        required=False, min_value=15, max_value=MEETING_MAX_MINUTES
    )
    location = serializers.CharField(
        required=False, allow_blank=True, max_length=LOCATION_MAX_LENGTH
    )


class MeetingViewSet(viewsets.GenericViewSet):
    queryset = ReviewMeeting.objects.none()  # for the schema: the views look up their own
    serializer_class = MeetingSerializer
    action_permissions = {
        "retrieve": VIEW_PERMISSION,
        "partial_update": VIEW_PERMISSION,  # and being the owner or a manager: the service
        "invitation": VIEW_PERMISSION,
    }

    def _answer(self, found: ReviewMeeting) -> Response:
        fresh = readable_meeting(self.request.user, found.review.incident.number)
        return Response(MeetingSerializer(fresh).data)

    @extend_schema(parameters=[NUMBER], summary="The review meeting of a major incident")
    def retrieve(self, request, number=None):
        return self._answer(readable_meeting(request.user, number))

    @extend_schema(
        parameters=[NUMBER],
        request=MeetingMoveSerializer,
        summary="Move the review meeting (its owner, or a manager); the invitation is sent again",
    )
    def partial_update(self, request, number=None):
        found = readable_meeting(request.user, number)
        body = MeetingMoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        moved = meeting.meeting_move(
            meeting=found, actor=request.user, source=ChangeSource.API, **body.validated_data
        )
        return self._answer(moved)

    @extend_schema(
        parameters=[NUMBER],
        responses={(200, invitation.MIMETYPE): OpenApiResponse(OpenApiTypes.STR)},
        summary="The review meeting's invitation, as an iCalendar file",
    )
    def invitation(self, request, number=None):
        return ics_response(readable_meeting(request.user, number))
