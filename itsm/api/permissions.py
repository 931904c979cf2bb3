from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions, permissions

AUTHENTICATED = "authenticated"


class ActionPermission(permissions.BasePermission):
    """Checks the Django permission a view names for the action being run.

    Each view declares `action_permissions = {"list": "incidents.view_incident", ...}`. An
    action missing from the map is a programming error and fails loudly rather than open.
    `AUTHENTICATED` allows any signed-in user. A method a viewset does not route (DELETE on a
    read-only resource, OPTIONS) answers 405 rather than reaching the map.
    """

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        action = _action(request, view)
        mapping = getattr(view, "action_permissions", None)
        if mapping is None or action not in mapping:
            raise ImproperlyConfigured(
                f"{type(view).__name__}.action_permissions has no entry for {action!r}"
            )
        required = mapping[action]
        if required == AUTHENTICATED:
            return True
        return request.user.has_perm(required)


def _action(request, view) -> str:
    """The viewset action being run; for a plain APIView, the HTTP method."""
    if not hasattr(view, "action_map"):
        return request.method.lower()
    if view.action is None or view.action == "metadata":
        raise exceptions.MethodNotAllowed(request.method)
    return view.action
