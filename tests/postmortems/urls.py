"""The portal's routes with the review meeting's and follow-ups' pages under /postmortems/, as
postmortems/urls.py is to include them, and a stand-in for the review page they return to."""

from django.http import HttpResponse
from django.urls import include, path

from itsm.urls import urlpatterns as portal
from postmortems import urls_meeting


def review_page(request, number):
    return HttpResponse(number)


urlpatterns = [
    *portal,
    path(
        "postmortems/",
        include(
            (
                [
                    *urls_meeting.urlpatterns,
                    path("<incident:number>/", review_page, name="review"),
                ],
                "postmortems",
            )
        ),
    ),
]
