"""`{% load credits %}`: `{% affected_customers incident as customers %}`, the active customers
using a service the incident touches (one query; none for someone who may not see customers).
The incident page includes postmortems/_affected_customers.html, so `incidents` imports
nothing of this app."""

from django import template

from postmortems.credits.selectors import affected_customers as customers_of
from postmortems.models.credits import VIEW_CUSTOMER

register = template.Library()


@register.simple_tag
def affected_customers(incident, user) -> list | None:
    """None when `user` may not see customers, so the card is not shown at all."""
    if not user.has_perm(VIEW_CUSTOMER):
        return None
    return customers_of(incident)
