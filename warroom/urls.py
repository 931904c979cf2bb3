from django.urls import path

import incidents.urls  # noqa: F401  (registers the <incident:…> converter these routes use)
from warroom import views
from warroom.status import views as status_views

app_name = "warroom"

urlpatterns = [
    path("", views.warroom_list, name="list"),
    path("declare/<incident:number>/", views.warroom_declare, name="declare"),
    path("<incident:number>/", views.warroom_room, name="room"),
    path("<incident:number>/demote/", views.warroom_demote, name="demote"),
    path("<incident:number>/status-update/", status_views.post_update, name="status-update"),
]
