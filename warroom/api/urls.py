from django.urls import re_path
from rest_framework.routers import DefaultRouter

from warroom.api.communication_views import (
    CommunicationTemplateViewSet,
    CommunicationViewSet,
)
from warroom.api.status_views import (
    IncidentStatusUpdateViewSet,
    MaintenanceViewSet,
    StatusComponentViewSet,
)
from warroom.api.views import (
    DeclarationRuleViewSet,
    MajorIncidentViewSet,
    NoteViewSet,
    RoleViewSet,
    TaskViewSet,
    TimelineViewSet,
)
from warroom.models import NUMBER_PATTERN

ROOM = rf"major-incidents/(?P<number>{NUMBER_PATTERN})"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("major-incidents", MajorIncidentViewSet, basename="major-incident")
router.register(f"{ROOM}/roles", RoleViewSet, basename="major-incident-role")
router.register(f"{ROOM}/tasks", TaskViewSet, basename="major-incident-task")
router.register(f"{ROOM}/timeline", TimelineViewSet, basename="major-incident-timeline")
router.register(f"{ROOM}/notes", NoteViewSet, basename="major-incident-note")
router.register("declaration-rules", DeclarationRuleViewSet, basename="declaration-rule")
router.register("status/components", StatusComponentViewSet, basename="status-component")
router.register("maintenances", MaintenanceViewSet, basename="maintenance")
router.register(
    rf"incidents/(?P<number>{NUMBER_PATTERN})/communications",
    CommunicationViewSet,
    basename="incident-communication",
)
router.register(
    "communication-templates", CommunicationTemplateViewSet, basename="communication-template"
)

urlpatterns = [
    *router.urls,
    re_path(
        rf"^incidents/(?P<number>{NUMBER_PATTERN})/status-updates/$",
        IncidentStatusUpdateViewSet.as_view({"post": "create"}),
        name="incident-status-updates",
    ),
]
