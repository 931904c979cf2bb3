from django.urls import path

import incidents.urls  # noqa: F401  (registers the <incident:…> converter these routes use)
from postmortems import urls_meeting, views

app_name = "postmortems"

urlpatterns = [
    path("", views.review_list, name="list"),
    path("<incident:number>/", views.review_detail, name="detail"),
    path("<incident:number>/export.md", views.review_export, name="export"),
    path("<incident:number>/print/", views.review_print, name="print"),
    path("<incident:number>/start/", views.review_start, name="start"),
    path("<incident:number>/sections/<str:name>/", views.review_section, name="section"),
    path("<incident:number>/timeline/", views.review_timeline, name="timeline"),
    path("<incident:number>/owner/", views.review_owner, name="owner"),
    path(
        "<incident:number>/public-summary/",
        views.review_public_summary,
        name="public_summary",
    ),
    path(
        "<incident:number>/revenue-impact/",
        views.review_revenue_impact,
        name="revenue_impact",
    ),
    path(
        "<incident:number>/transition/<str:name>/",
        views.review_transition,
        name="transition",
    ),
    path(
        "<incident:number>/proposed/<int:index>/accept/",
        views.proposed_accept,
        name="accept_proposed",
    ),
    path("<incident:number>/action-items/", views.action_item_add, name="add_item"),
    path(
        "<incident:number>/action-items/<int:pk>/status/",
        views.action_item_status,
        name="item_status",
    ),
    *urls_meeting.urlpatterns,
]
