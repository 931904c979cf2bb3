from rest_framework.routers import DefaultRouter

from postmortems.api.views import ActionItemViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("action-items", ActionItemViewSet, basename="action-item")

urlpatterns = router.urls
