from django.contrib import admin
from django.urls import include, path
from django.views import defaults

from itsm import favicon, health, metrics, signin, views
from itsm.api import errors
from itsm.api import views as api_views
from itsm.api.slashes import is_api_path

admin.site.site_header = "ITSM portal administration"
admin.site.site_title = "ITSM portal"

urlpatterns = [
    # Monitoring senders first: an alert storm resolves its paths among the first patterns.
    path("api/alerts/", include("incidents.alerts.api.urls")),
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("metrics", metrics.metrics, name="metrics"),
    path("favicon.ico", favicon.favicon, name="favicon"),
    path("admin/login/", signin.admin_login),  # before the admin's own, which it may refuse
    path("admin/", admin.site.urls),
    path("login/", signin.PortalLoginView.as_view(), name="login"),
    path("logout/", signin.PortalLogoutView.as_view(), name="logout"),
    path("oidc/authenticate/", signin.sso_sign_in, name="oidc_authentication_init"),
    path("oidc/callback/", signin.SsoCallbackView.as_view(), name="oidc_authentication_callback"),
    path("login/code/", views.TwoFactorCodeView.as_view(), name="two-factor-code"),
    path("account/two-factor/", views.two_factor, name="two-factor"),
    path("account/two-factor/disable/", views.two_factor_disable, name="two-factor-disable"),
    path("api/schema/", api_views.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", api_views.DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("itsm.api.urls")),
    path("api/", include("incidents.api.urls")),
    path("api/", include("warroom.api.urls")),
    path("api/", include("postmortems.api.urls")),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/live/", views.notifications_live, name="notifications-live"),
    path("warroom/", include("warroom.urls")),
    path("status/", include("warroom.status.urls")),
    path("postmortems/", include("postmortems.urls")),
    path("reports/", include("postmortems.urls_reports")),
    path("", include("incidents.urls")),
]


def _api_or_page(api_view, page_view):
    """An error handler answering JSON in the API's error shape under /api/, the portal's
    page elsewhere."""

    def handler(request, *args, **kwargs):
        view = api_view if is_api_path(request.path_info) else page_view
        return view(request, *args, **kwargs)

    return handler


handler400 = _api_or_page(errors.api_bad_request, defaults.bad_request)
handler403 = _api_or_page(errors.api_permission_denied, defaults.permission_denied)
handler404 = _api_or_page(errors.api_not_found, defaults.page_not_found)
handler500 = _api_or_page(errors.api_server_error, defaults.server_error)
