from django.urls import path, register_converter

from incidents import views, views_actions, views_live
from incidents.oncall import views as views_oncall


class IncidentNumberConverter:
    """INC + 7 digits in any case (views upper-case it); anything else is not a route."""

    regex = "[Ii][Nn][Cc][0-9]{7}"

    def to_python(self, value: str) -> str:
        return value.upper()

    def to_url(self, value: str) -> str:
        return value


register_converter(IncidentNumberConverter, "incident")

app_name = "incidents"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("incidents/", views.incident_list, name="list"),
    path("incidents/new/", views.incident_create, name="create"),
    path("incidents/<incident:number>/", views.incident_detail, name="detail"),
    path(
        "incidents/<incident:number>/transition/<str:name>/",
        views.incident_transition,
        name="transition",
    ),
    path("incidents/<incident:number>/edit/", views.incident_edit, name="edit"),
    path("incidents/<incident:number>/notes/", views.incident_note, name="note"),
    path(
        "incidents/<incident:number>/checklist/",
        views_actions.incident_checklist,
        name="checklist",
    ),
    path("incidents/<incident:number>/priority/", views.incident_priority, name="priority"),
    path(
        "incidents/<incident:number>/acknowledge/",
        views_actions.incident_acknowledge,
        name="acknowledge",
    ),
    path("incidents/<incident:number>/take/", views_actions.incident_take, name="take"),
    path("incidents/<incident:number>/page/", views_actions.incident_page, name="page"),
    path(
        "incidents/<incident:number>/responders/",
        views_actions.incident_responders,
        name="responders",
    ),
    path("oncall/", views_oncall.oncall, name="oncall"),
    path("incidents/live/dashboard/", views_live.dashboard_cards, name="live_dashboard"),
    path("incidents/live/list/", views_live.list_rows, name="live_list"),
    path("incidents/<incident:number>/live/", views_live.incident_parts, name="live_incident"),
    path(
        "incidents/<incident:number>/timeline/",
        views_live.incident_older_events,
        name="timeline",
    ),
    path("oncall/overrides/", views_oncall.oncall_override, name="oncall-override"),
]
