"""Portal routes of the review meeting and the role follow-ups, to be included under
/postmortems/ (in the `postmortems` namespace) by postmortems/urls.py."""

from django.urls import path

import incidents.urls  # noqa: F401  (registers the <incident:…> converter these routes use)
from postmortems import views_followups, views_meeting

urlpatterns = [
    path("<incident:number>/meeting.ics", views_meeting.meeting_ics, name="meeting_ics"),
    path(
        "<incident:number>/followups/<int:pk>/tick/",
        views_followups.followup_tick,
        name="followup_tick",
    ),
]
