"""`{% status_update_form major user as form %}`: the war room's "Post status page update"
form for `user`, or None when they may not post this incident's updates."""

from django import template

from warroom.models import WORK_PERMISSION
from warroom.status import views
from warroom.status.services import may_post_status

register = template.Library()


@register.simple_tag
def status_update_form(major, user):
    incident = major.incident
    if not (major.is_live and user.has_perm(WORK_PERMISSION) and may_post_status(user, incident)):
        return None
    return views.status_update_form(incident)
