"""How the portal names a person, the same way on every page: the full name, the username on
hover (the username alone when no name is recorded)."""

from django import template
from django.utils.html import format_html

register = template.Library()


def display_name(user) -> str:
    """A person's name as pages and messages show it."""
    return user.get_full_name() or user.get_username()


@register.filter
def person(user, missing: str = "—"):
    """`{{ incident.assignee|person }}`; `missing` (default "—") when there is nobody."""
    if user is None or not getattr(user, "pk", None):
        return missing
    return format_html(
        '<span class="person" title="{}">{}</span>', user.get_username(), display_name(user)
    )


register.filter("display_name", display_name)
