"""The review meeting's invitation as a portal download: /postmortems/<number>/meeting.ics."""

from django.views.decorators.http import require_GET

from incidents.views import portal_view
from postmortems.api.meeting import VIEW_PERMISSION, ics_response, readable_meeting


@require_GET
@portal_view(VIEW_PERMISSION)
def meeting_ics(request, number):
    """The .ics of the meeting, for whoever may read the review (else 404)."""
    return ics_response(readable_meeting(request.user, number.upper()))
