from django.urls import path

import incidents.urls  # noqa: F401  (registers the <incident:…> converter these routes use)
from warroom import views
from warroom.communications import views as communication_views
from warroom.status import views as status_views

app_name = "warroom"

urlpatterns = [
    path("", views.warroom_list, name="list"),
    path("declare/<incident:number>/", views.warroom_declare, name="declare"),
    path("<incident:number>/", views.warroom_room, name="room"),
    path("<incident:number>/demote/", views.warroom_demote, name="demote"),
    path("<incident:number>/status-update/", status_views.post_update, name="status-update"),
    path(
        "<incident:number>/communications/",
        communication_views.communications_page,
        name="communications",
    ),
    path(
        "<incident:number>/communications/draft/",
        communication_views.communication_draft,
        name="communication-draft",
    ),
    path(
        "<incident:number>/communications/<int:pk>/",
        communication_views.communication_save,
        name="communication-save",
    ),
    path(
        "<incident:number>/communications/<int:pk>/send/",
        communication_views.communication_send,
        name="communication-send",
    ),
    path(
        "<incident:number>/communications/<int:pk>/improve/",
        communication_views.communication_improve,
        name="communication-improve",
    ),
]
