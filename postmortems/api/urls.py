from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from postmortems.api.followups import FollowUpViewSet
from postmortems.api.meeting import MeetingViewSet
from postmortems.api.metrics import MetricsViewSet
from postmortems.api.reviews import IncidentReviewViewSet, ReviewListViewSet
from postmortems.api.views import ActionItemViewSet
from postmortems.credits.api import CustomerViewSet, StatementViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("action-items", ActionItemViewSet, basename="action-item")
router.register("postmortems", ReviewListViewSet, basename="postmortem")
router.register("customers", CustomerViewSet, basename="customer")
router.register("credits/statements", StatementViewSet, basename="credit-statement")

REVIEW = r"^incidents/(?P<number>INC[0-9]{7})/postmortem/"
TRANSITIONS = {
    "submit": "submit",
    "publish": "publish",
    "return": "return_to_draft",
    "skip": "skip",
}

urlpatterns = [
    *router.urls,
    path("metrics/summary/", MetricsViewSet.as_view({"get": "summary"}), name="metrics-summary"),
    path(
        "metrics/timeseries/",
        MetricsViewSet.as_view({"get": "timeseries"}),
        name="metrics-timeseries",
    ),
    re_path(
        f"{REVIEW}$",
        IncidentReviewViewSet.as_view(
            {"get": "retrieve", "post": "create", "patch": "partial_update"}
        ),
        name="incident-postmortem",
    ),
    *(
        re_path(
            f"{REVIEW}{name}/$",
            IncidentReviewViewSet.as_view({"post": action}),
            name=f"incident-postmortem-{name}",
        )
        for name, action in TRANSITIONS.items()
    ),
    re_path(
        f"{REVIEW}sections/(?P<section>[a-z_]+)/$",
        IncidentReviewViewSet.as_view({"get": "section", "put": "save_section"}),
        name="incident-postmortem-section",
    ),
]

# The role follow-ups and the review meeting of a major incident's review.
followup_and_meeting_urlpatterns = [
    re_path(
        f"{REVIEW}followups/$",
        FollowUpViewSet.as_view({"get": "list"}),
        name="incident-postmortem-followups",
    ),
    re_path(
        rf"{REVIEW}followups/(?P<id>[0-9]+)/$",
        FollowUpViewSet.as_view({"patch": "partial_update"}),
        name="incident-postmortem-followup",
    ),
    re_path(
        f"{REVIEW}meeting/$",
        MeetingViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="incident-postmortem-meeting",
    ),
    re_path(
        rf"{REVIEW}meeting\.ics$",
        MeetingViewSet.as_view({"get": "invitation"}),
        name="incident-postmortem-meeting-ics",
    ),
]
urlpatterns += followup_and_meeting_urlpatterns
