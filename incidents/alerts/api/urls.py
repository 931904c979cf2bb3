"""The monitoring senders' endpoints, under /api/alerts/ (integrations.py beside this). The
portal's URL conf includes them before every other pattern: in an alert storm each payload is
resolved among the first patterns instead of after the whole API's (about 0.5 ms a payload)."""

from django.urls import path, re_path

from incidents.alerts.api.integrations import (
    AlertmanagerReceiver,
    GenericReceiver,
    GrafanaReceiver,
    PagerDutyReceiver,
)

KEY = r"(?P<key>[0-9A-Za-z]+)"

urlpatterns = [
    re_path(rf"^alertmanager/{KEY}/$", AlertmanagerReceiver.as_view(), name="alerts-am"),
    path("alertmanager/", AlertmanagerReceiver.as_view(), name="alerts-am-bearer"),
    re_path(rf"^grafana/{KEY}/$", GrafanaReceiver.as_view(), name="alerts-grafana"),
    path("grafana/", GrafanaReceiver.as_view(), name="alerts-grafana-bearer"),
    re_path(rf"^generic/{KEY}/$", GenericReceiver.as_view(), name="alerts-generic"),
    path("generic/", GenericReceiver.as_view(), name="alerts-generic-bearer"),
    # PagerDuty's own path, without the slash (the slash middleware takes it with one too).
    path("v2/enqueue", PagerDutyReceiver.as_view(), name="alerts-pagerduty"),
]
