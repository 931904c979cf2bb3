"""The post-incident review API: the list of reviews, an incident's review (read, start an
optional one, edit), and its transitions. Every write goes through postmortems/services.py with
source `api`; a reader who may not edit reviews (a stakeholder) sees published ones only."""

from decimal import Decimal

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from incidents.api.serializers import UsernameField
from incidents.choices import ChangeSource, Priority
from incidents.models import Incident
from itsm.api import viewsets
from itsm.api.serializers import StrictModelSerializer, StrictSerializer, refuse_any_body
from postmortems import services
from postmortems.choices import ReviewStatus
from postmortems.models import SECTIONS, PostIncidentReview
from postmortems.models.review import CHANGE_PERMISSION, REVENUE_MAX_DIGITS, SECTION_MAX_LENGTH
from postmortems.selectors import OPEN_REVIEW_STATUSES as OPEN
from postmortems.selectors import overdue_review_condition, readable_reviews
from warroom.api.serializers import (
    PersonSerializer,
    ReasonSerializer,
    ScratchpadSavedSerializer,
    ScratchpadSaveSerializer,
)

API = ChangeSource.API
VIEW_PERMISSION = "postmortems.view_postincidentreview"
ADD_PERMISSION = "postmortems.add_postincidentreview"
NUMBER = OpenApiParameter(
    "number", str, OpenApiParameter.PATH, description="The incident's number, e.g. INC0001234."
)
SECTION = OpenApiParameter(
    "section", str, OpenApiParameter.PATH, enum=list(SECTIONS), description="The section's name."
)


# --- bodies ------------------------------------------------------------------------------------


class ProposalSerializer(StrictSerializer):
    """A proposed action item as the review shows it."""

    text = serializers.CharField()
    source = serializers.CharField()
    accepted_item = serializers.IntegerField(
        allow_null=True,
        default=None,
        help_text="The id of the action item created from it (a POST to /api/action-items/ "
        "with its text as the title), or null while it is only proposed.",
    )


class ReviewSerializer(StrictModelSerializer):
    number = serializers.CharField(source="incident.number")
    title = serializers.CharField(source="incident.title")
    priority = serializers.ChoiceField(source="incident.priority", choices=Priority.choices)
    owner = PersonSerializer(allow_null=True)
    overdue = serializers.SerializerMethodField(help_text="Due and not yet published.")
    proposed_action_items = ProposalSerializer(many=True, read_only=True)

    class Meta:
        model = PostIncidentReview
        fields = [
            "number",
            "title",
            "priority",
            "status",
            "required",
            "owner",
            "due_at",
            "overdue",
            "created_at",
            "submitted_at",
            "published_at",
            "skip_reason",
            "return_reason",
            *SECTIONS,
            "public_summary",
            "revenue_impact",
            "timeline",
            "proposed_action_items",
            "facts",
            "section_versions",
        ]
        read_only_fields = fields

    def get_overdue(self, review) -> bool:
        return review.status in OPEN and review.due_at < timezone.now()


class TimelineRowSerializer(StrictSerializer):
    at = serializers.CharField(allow_blank=True, required=False)
    event = serializers.CharField(allow_blank=True, required=False)
    action = serializers.CharField(allow_blank=True, required=False)
    owner = serializers.CharField(allow_blank=True, required=False)


class ProposedItemSerializer(StrictSerializer):
    """A proposal as an edit sends it: accepted marks stay on the rows of the same text."""

    text = serializers.CharField()
    source = serializers.CharField(allow_blank=True, required=False)


def _section_field() -> serializers.CharField:
    return serializers.CharField(allow_blank=True, required=False, max_length=SECTION_MAX_LENGTH)


class ReviewUpdateSerializer(StrictSerializer):
    """Only the fields sent change. Sections are Markdown."""

    owner = UsernameField(allow_null=True, required=False)
    public_summary = _section_field()
    revenue_impact = serializers.DecimalField(
        max_digits=REVENUE_MAX_DIGITS,
        decimal_places=2,
        min_value=Decimal(0),
        allow_null=True,
        required=False,
        help_text="Revenue lost, estimated, in REPORTS_CURRENCY; null: not estimated.",
    )
    timeline = TimelineRowSerializer(many=True, required=False)
    proposed_action_items = ProposedItemSerializer(many=True, required=False)

    def get_fields(self):
        fields = super().get_fields()
        for name in SECTIONS:
            fields[name] = _section_field()
        return fields


class SectionSerializer(StrictSerializer):
    section = serializers.ChoiceField(choices=list(SECTIONS.items()))
    version = serializers.IntegerField(help_text="0 for the generated draft's text.")
    text = serializers.CharField()


class SectionSaveSerializer(ScratchpadSaveSerializer):
    """As the war room's scratchpad takes an edit: the whole text and the version it was
    typed against."""

    text = serializers.CharField(
        max_length=SECTION_MAX_LENGTH, allow_blank=True, trim_whitespace=False
    )


class SectionSavedSerializer(ScratchpadSavedSerializer):
    section = serializers.ChoiceField(choices=list(SECTIONS.items()))


# --- the list ----------------------------------------------------------------------------------


class ReviewFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=ReviewStatus.choices)
    owner = filters.CharFilter(method="filter_owner", help_text="A username, or `me`.")
    priority = filters.MultipleChoiceFilter(
        field_name="incident__priority", choices=Priority.choices
    )
    overdue = filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = PostIncidentReview
        fields = ["status", "owner", "priority", "overdue"]

    def filter_owner(self, queryset, name, value):
        if value == "me":
            return queryset.filter(owner=self.request.user)
        return queryset.filter(owner__username=value)

    def filter_overdue(self, queryset, name, value):
        overdue = overdue_review_condition(timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


@extend_schema(summary="List post-incident reviews, the earliest due first")
class ReviewListViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ReviewSerializer
    filterset_class = ReviewFilter
    action_permissions = {"list": VIEW_PERMISSION}

    def get_queryset(self):
        return readable_reviews(self.request.user).order_by("due_at", "pk")


# --- an incident's review ----------------------------------------------------------------------


class IncidentReviewViewSet(viewsets.GenericViewSet):
    """/api/incidents/{number}/postmortem/ and its transitions."""

    serializer_class = ReviewSerializer
    action_permissions = {
        "retrieve": VIEW_PERMISSION,
        "create": ADD_PERMISSION,
        "partial_update": CHANGE_PERMISSION,
        "submit": CHANGE_PERMISSION,
        "publish": CHANGE_PERMISSION,  # and postmortems.publish_review, checked by the service
        "return_to_draft": CHANGE_PERMISSION,
        "skip": CHANGE_PERMISSION,
        "section": VIEW_PERMISSION,
        "save_section": CHANGE_PERMISSION,
    }

    def _review(self, number: str) -> PostIncidentReview:
        return get_object_or_404(readable_reviews(self.request.user), incident__number=number)

    def _answer(self, review: PostIncidentReview, status_code=status.HTTP_200_OK) -> Response:
        fresh = readable_reviews(self.request.user).get(pk=review.pk)
        return Response(ReviewSerializer(fresh).data, status=status_code)

    @extend_schema(parameters=[NUMBER], summary="The incident's post-incident review")
    def retrieve(self, request, number=None):
        return Response(ReviewSerializer(self._review(number)).data)

    @extend_schema(
        parameters=[NUMBER],
        request=None,
        responses={201: ReviewSerializer},
        summary="Start the review of a resolved incident (an optional one, or a required one "
        "not yet drafted)",
    )
    def create(self, request, number=None):
        refuse_any_body(request)
        incident = get_object_or_404(Incident, number=number)
        review = services.review_create(incident=incident, actor=request.user, source=API)
        return self._answer(review, status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[NUMBER],
        request=ReviewUpdateSerializer,
        summary="Edit the review's document or owner (draft or in review)",
    )
    def partial_update(self, request, number=None):
        review = self._review(number)
        body = ReviewUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        sections = {name: data.pop(name) for name in SECTIONS if name in data}
        review = services.review_update(
            review=review, actor=request.user, source=API, sections=sections or None, **data
        )
        return self._answer(review)

    @extend_schema(
        parameters=[NUMBER, SECTION],
        responses={200: SectionSerializer},
        summary="One section's current version and text",
    )
    def section(self, request, number=None, section=None):
        review = self._review(number)
        if section not in SECTIONS:
            raise Http404
        version = review.section_versions.get(section, 0)
        text = getattr(review, section)
        return Response(
            SectionSerializer({"section": section, "version": version, "text": text}).data
        )

    @extend_schema(
        parameters=[NUMBER, SECTION],
        request=SectionSaveSerializer,
        responses={200: SectionSavedSerializer},
        summary="Save one section, typed against a version: others' words saved since are "
        "merged in, not overwritten (draft or in review)",
    )
    def save_section(self, request, number=None, section=None):
        review = self._review(number)
        if section not in SECTIONS:
            raise Http404
        body = SectionSaveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.review_section_save(
            review=review, actor=request.user, section=section, **body.validated_data
        )
        return Response(SectionSavedSerializer(result).data)

    @extend_schema(parameters=[NUMBER], request=None, summary="Submit the draft for review")
    def submit(self, request, number=None):
        refuse_any_body(request)
        review = services.review_submit(review=self._review(number), actor=request.user, source=API)
        return self._answer(review)

    @extend_schema(parameters=[NUMBER], request=None, summary="Publish a review (managers)")
    def publish(self, request, number=None):
        refuse_any_body(request)
        review = services.review_publish(
            review=self._review(number), actor=request.user, source=API
        )
        return self._answer(review)

    @extend_schema(parameters=[NUMBER], request=ReasonSerializer, summary="Return it to draft")
    def return_to_draft(self, request, number=None):
        return self._with_reason(request, number, services.review_return)

    @extend_schema(parameters=[NUMBER], request=ReasonSerializer, summary="Skip an optional review")
    def skip(self, request, number=None):
        return self._with_reason(request, number, services.review_skip)

    def _with_reason(self, request, number, service):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = service(
            review=self._review(number),
            actor=request.user,
            source=API,
            reason=body.validated_data["reason"],
        )
        return self._answer(review)
