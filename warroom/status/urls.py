"""The public status page, its Statuspage-compatible JSON and its feeds, under /status/.
Paths are exactly Statuspage's (no trailing slash), so that existing tools work unchanged."""

from django.urls import path

from warroom.status import feeds, statuspage, subscription_views, views

app_name = "status"

API = "api/v2/"
urlpatterns = [
    path("", views.status_page, name="page"),
    path("subscriptions/", subscription_views.subscribe, name="subscribe"),
    path(
        "subscriptions/confirm/<str:token>",
        subscription_views.confirm,
        name="subscription-confirm",
    ),
    path(
        "subscriptions/unsubscribe/<str:token>",
        subscription_views.unsubscribe,
        name="subscription-unsubscribe",
    ),
    path("history.rss", feeds.history_rss, name="history-rss"),
    path("history.atom", feeds.history_atom, name="history-atom"),
    path(f"{API}summary.json", statuspage.summary, name="summary"),
    path(f"{API}status.json", statuspage.status, name="status"),
    path(f"{API}components.json", statuspage.components, name="components"),
    path(f"{API}incidents.json", statuspage.incidents, name="incidents"),
    path(
        f"{API}incidents/unresolved.json",
        statuspage.unresolved_incidents,
        name="incidents-unresolved",
    ),
    path(
        f"{API}scheduled-maintenances.json",
        statuspage.scheduled_maintenances,
        name="scheduled-maintenances",
    ),
    path(
        f"{API}scheduled-maintenances/upcoming.json",
        statuspage.upcoming_maintenances,
        name="scheduled-maintenances-upcoming",
    ),
    path(
        f"{API}scheduled-maintenances/active.json",
        statuspage.active_maintenances,
        name="scheduled-maintenances-active",
    ),
]
