from rest_framework.routers import DefaultRouter

from itsm.api.auth_events import AuthEventViewSet
from itsm.api.notifications import NotificationViewSet
from itsm.api.webhooks import WebhookSubscriptionViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("notifications", NotificationViewSet, basename="notification")
router.register("auth-events", AuthEventViewSet, basename="auth-event")
router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")

urlpatterns = router.urls
