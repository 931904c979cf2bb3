"""Two-factor authentication for local accounts: who owes which step, and when.

A password sign-in (a backend in TWO_FACTOR_BACKENDS) records in the session the step it still
owes: a code from the user's authenticator app, or, for a manager who must have one and has
none, enrolment. Until that step is done the session is signed in but not verified: pages send
it to the step (itsm.middleware), the API refuses it (itsm.api.authentication) and so does the
war room's websocket (VerifiedSessionMiddleware). Single sign-on sessions owe nothing: the
identity provider asks for its own second factor. Deciding once, at sign-in, keeps every other
request free of device queries; a role or setting changed later applies from the next sign-in.
"""

from enum import StrEnum

import django_otp
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from itsm.roles import Role, user_roles

PENDING_SESSION_KEY = "itsm_two_factor_pending"
MANAGER_ROLES = {Role.ITSM_MANAGER, Role.SUPER_ADMIN}


class Step(StrEnum):
    CODE = "code"
    ENROL = "enrol"


def has_two_factor(user) -> bool:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def must_have_two_factor(user) -> bool:
    return settings.TWO_FACTOR_REQUIRED_FOR_MANAGERS and bool(user_roles(user) & MANAGER_ROLES)


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def step_after_password(user) -> Step | None:
    if has_two_factor(user):
        return Step.CODE
    if must_have_two_factor(user):
        return Step.ENROL
    return None


def pending_step(session) -> Step | None:
    value = session.get(PENDING_SESSION_KEY)
    return Step(value) if value else None


def record_pending_step(sender, request, user, **kwargs) -> None:
    """On sign-in (user_logged_in): note the step a password sign-in still owes. A new
    password sign-in drops an earlier verification, so it asks for a fresh code."""
    backend = request.session.get(BACKEND_SESSION_KEY) if request is not None else None
    if backend not in settings.TWO_FACTOR_BACKENDS:
        return
    step = step_after_password(user)
    if step is not None:
        request.session.pop(DEVICE_ID_SESSION_KEY, None)
        request.session[PENDING_SESSION_KEY] = step


def mark_verified(request, device) -> None:
    """The session is verified by `device`: it owes nothing more. It gets a new key, as at
    any rise in privilege."""
    request.session.cycle_key()
    django_otp.login(request, device)
    request.session.pop(PENDING_SESSION_KEY, None)


class VerifiedSessionMiddleware(BaseMiddleware):
    """For websockets, inside Channels' AuthMiddlewareStack: a session that still owes its
    second factor connects as nobody."""

    async def __call__(self, scope, receive, send):
        session = scope.get("session")
        if session is not None and await database_sync_to_async(pending_step)(session):
            scope = dict(scope, user=AnonymousUser())
        return await super().__call__(scope, receive, send)
