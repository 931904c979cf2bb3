from rest_framework.routers import DefaultRouter

from incidents.api.views import IncidentViewSet, ServiceViewSet, TeamViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("incidents", IncidentViewSet, basename="incident")
router.register("services", ServiceViewSet, basename="service")
router.register("teams", TeamViewSet, basename="team")

urlpatterns = router.urls
