"""The audit log follows Django's authentication signals and axes' lockout signal, so every
way of signing in records itself here: the portal's form, the admin's, and any backend added
later (single sign-on, a second factor) that goes through `django.contrib.auth`."""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from itsm.choices import AuthEventKind
from itsm.services import auth_event_record


def _logged_in(sender, request, user, **kwargs):
    auth_event_record(kind=AuthEventKind.LOGIN, request=request, user=user)


def _logged_out(sender, request, user, **kwargs):
    if user is None:  # a sign-out of nobody (a stray POST /logout/) is not an event
        return
    reason = getattr(request, "signed_out_because", "")
    detail = {"reason": reason} if reason else {}
    auth_event_record(kind=AuthEventKind.LOGOUT, request=request, user=user, detail=detail)


def shown_username(typed: str) -> str:
    """What the log keeps of a username typed at a failed sign-in: the name of an account in
    full; anything else (often a password typed into the wrong box) only by its first two
    characters and its length, enough to see which name a guesser is trying."""
    if not typed or get_user_model().objects.filter(username__iexact=typed).exists():
        return typed
    return f"{typed[:2]}… ({len(typed)} characters, no such account)"


def _login_failed(sender, credentials, request=None, **kwargs):
    auth_event_record(
        kind=AuthEventKind.LOGIN_FAILED,
        request=request,
        username=shown_username(str(credentials.get("username") or "")),
        detail={"locked_out": bool(getattr(request, "axes_locked_out", False))},
    )


def _locked_out(sender, request, username, ip_address, **kwargs):
    auth_event_record(
        kind=AuthEventKind.LOCKED_OUT,
        request=request,
        username=shown_username(str(username or "")),
        detail={"via": "sign_in"},
    )


def connect() -> None:
    user_logged_in.connect(_logged_in, dispatch_uid="itsm-audit-login")
    user_logged_out.connect(_logged_out, dispatch_uid="itsm-audit-logout")
    user_login_failed.connect(_login_failed, dispatch_uid="itsm-audit-login-failed")
    user_locked_out.connect(_locked_out, dispatch_uid="itsm-audit-locked-out")
