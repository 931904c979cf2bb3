from django.urls import path

from incidents import views, views_oncall

app_name = "incidents"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("incidents/", views.incident_list, name="list"),
    path("incidents/new/", views.incident_create, name="create"),
    path("incidents/<str:number>/", views.incident_detail, name="detail"),
    path(
        "incidents/<str:number>/transition/<str:name>/",
        views.incident_transition,
        name="transition",
    ),
    path("incidents/<str:number>/edit/", views.incident_edit, name="edit"),
    path("incidents/<str:number>/notes/", views.incident_note, name="note"),
    path("incidents/<str:number>/checklist/", views.incident_checklist, name="checklist"),
    path("incidents/<str:number>/priority/", views.incident_priority, name="priority"),
    path("oncall/", views_oncall.oncall, name="oncall"),
]
