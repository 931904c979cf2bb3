"""`{% communications_card incident user back writable as card %}`: the Communications card of
the incident page ("incident") or the war room ("room") for `user`, or None when they may not
read the incident's communications. `writable` False (an ended war room) offers no form."""

from django import template

from warroom.communications.selectors import VIEW_COMMUNICATION_PERMISSION
from warroom.communications.views import CommunicationsCard

register = template.Library()


@register.simple_tag
def communications_card(incident, user, back: str, writable: bool = True):
    if not user.has_perm(VIEW_COMMUNICATION_PERMISSION):
        return None
    return CommunicationsCard(incident, user, back=back, writable=writable)
