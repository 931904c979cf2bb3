"""The four roles of the portal. Each is a Django group; migrations give each its permissions."""

from django.db.models import TextChoices


class Role(TextChoices):
    RESPONDER = "responder", "Responder"
    ITSM_MANAGER = "itsm_manager", "ITSM manager"
    SUPER_ADMIN = "super_admin", "Super admin"
    STAKEHOLDER = "stakeholder", "Stakeholder (read-only)"


STAFF_ROLES = (Role.RESPONDER, Role.ITSM_MANAGER, Role.SUPER_ADMIN)
# Roles whose holders open the admin: is_staff, as the demo users and the deployment guide have it.
ADMIN_ROLES = frozenset({Role.ITSM_MANAGER, Role.SUPER_ADMIN})


def user_roles(user) -> set[str]:
    """The role names a user holds, cached on the user object for the request."""
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_itsm_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) & set(Role.values)
        if user.is_superuser:
            cached.add(Role.SUPER_ADMIN)
        user._itsm_roles = cached
    return cached
