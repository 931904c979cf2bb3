from rest_framework.routers import DefaultRouter

from incidents.alerts.api.groups import AlertGroupViewSet, ReceivedPayloadViewSet
from incidents.alerts.api.integrations import IntegrationViewSet
from incidents.api.views import IncidentViewSet, ServiceViewSet, TeamViewSet
from incidents.oncall.api import (
    EscalationPolicyViewSet,
    IncidentEscalationViewSet,
    ScheduleViewSet,
)
from incidents.sla.api import BusinessCalendarViewSet, SlaPolicyViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("incidents", IncidentViewSet, basename="incident")
router.register("services", ServiceViewSet, basename="service")
router.register("teams", TeamViewSet, basename="team")
router.register("integrations", IntegrationViewSet, basename="integration")
router.register("alerts", AlertGroupViewSet, basename="alert-group")
router.register("alerts/payloads", ReceivedPayloadViewSet, basename="received-payload")
router.register("sla-policies", SlaPolicyViewSet, basename="sla-policy")
router.register("calendars", BusinessCalendarViewSet, basename="calendar")
router.register("schedules", ScheduleViewSet, basename="schedule")
router.register("escalation-policies", EscalationPolicyViewSet, basename="escalation-policy")
router.register(
    r"incidents/(?P<number>INC[0-9]{7})/escalation",
    IncidentEscalationViewSet,
    basename="incident-escalation",
)

urlpatterns = router.urls
