from django.core.exceptions import ImproperlyConfigured
from rest_framework import permissions

AUTHENTICATED = "authenticated"


class ActionPermission(permissions.BasePermission):
    """Checks the Django permission a view names for the action being run.

    Each view declares `action_permissions = {"list": "incidents.view_incident", ...}`. An
    action missing from the map is a programming error and fails loudly rather than open.
    `AUTHENTICATED` allows any signed-in user.
    """

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        action = getattr(view, "action", None) or request.method.lower()
        mapping = getattr(view, "action_permissions", None)
        if mapping is None or action not in mapping:
            raise ImproperlyConfigured(
                f"{type(view).__name__}.action_permissions has no entry for {action!r}"
            )
        required = mapping[action]
        if required == AUTHENTICATED:
            return True
        return request.user.has_perm(required)
