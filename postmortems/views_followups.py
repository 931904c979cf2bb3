"""Ticking a role follow-up from the review page (templates/postmortems/_followups.html)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect

from incidents.choices import ChangeSource
from incidents.views import portal_view
from itsm.errors import PermissionDeniedError
from itsm.http import post_only
from postmortems import followups
from postmortems.api.followups import VIEW_PERMISSION
from postmortems.invitation import review_path
from postmortems.models import FollowUp
from postmortems.selectors import readable_reviews

# The review's page (postmortems/urls.py), where a GET of the tick address is sent.
REVIEW_PAGE = "postmortems:detail"


@post_only(REVIEW_PAGE, "number")
@portal_view(VIEW_PERMISSION)
def followup_tick(request, number, pk):
    """POST done=1 ticks the follow-up, done=0 unticks it: its assignee, or a manager."""
    number = number.upper()
    review = get_object_or_404(readable_reviews(request.user), incident__number=number)
    followup = get_object_or_404(FollowUp, review=review, pk=pk)
    done = request.POST.get("done") == "1"
    try:
        followups.followup_set_done(
            followup=followup, actor=request.user, source=ChangeSource.PORTAL, done=done
        )
    except PermissionDeniedError as error:
        raise PermissionDenied(error.message) from error
    messages.success(request, "Follow-up done." if done else "Follow-up marked not done.")
    return redirect(review_path(number))
