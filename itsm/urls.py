from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from itsm import health, views
from itsm.api import errors

admin.site.site_header = "ITSM portal administration"
admin.site.site_title = "ITSM portal"

urlpatterns = [
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("itsm.api.urls")),
    path("api/", include("incidents.api.urls")),
    path("api/", include("warroom.api.urls")),
    path("notifications/", views.notifications, name="notifications"),
    path("warroom/", include("warroom.urls")),
    path("", include("incidents.urls")),
]


def _api_or_page(api_view, page_view):
    """An error handler answering JSON in the API's error shape under /api/, the portal's
    page elsewhere."""

    def handler(request, *args, **kwargs):
        view = api_view if request.path_info.startswith("/api/") else page_view
        return view(request, *args, **kwargs)

    return handler


handler400 = _api_or_page(errors.api_bad_request, defaults.bad_request)
handler403 = _api_or_page(errors.api_permission_denied, defaults.permission_denied)
handler404 = _api_or_page(errors.api_not_found, defaults.page_not_found)
handler500 = _api_or_page(errors.api_server_error, defaults.server_error)
