from django.conf import settings
from django.utils.functional import SimpleLazyObject

from itsm.notifications import unread_count
from itsm.roles import Role, user_roles
from itsm.twofactor import pending_step


def roles(request):
    """The signed-in user's roles, so pages hide what the user may not do."""
    user = getattr(request, "user", None)
    held = user_roles(user) if user is not None else set()
    return {
        "user_roles": held,
        "is_manager": bool(held & {Role.ITSM_MANAGER, Role.SUPER_ADMIN}),
        "is_read_only": held <= {Role.STAKEHOLDER},
    }


def notifications(request):
    """The bell's unread count: one query, made only when a page shows it (admin pages do
    not)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user=user))}


def sign_in(request):
    """How people sign in, for the login pages: the provider's button (its name, when single
    sign-on is on) and whether the password form is offered."""
    return {
        "sso_provider_name": settings.OIDC_PROVIDER_NAME if settings.OIDC_ENABLED else "",
        "local_login_enabled": settings.LOCAL_LOGIN_ENABLED,
    }


def two_factor(request):
    """Whether the session still owes its two-factor step: its pages then show no navigation."""
    session = getattr(request, "session", None)
    return {"two_factor_pending": session is not None and pending_step(session) is not None}
