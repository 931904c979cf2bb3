"""Portal sessions end after SESSION_IDLE_TIMEOUT without a request, and SESSION_MAX_LIFETIME
after sign-in whatever the activity. The last-seen time is written at most once a minute, so a
busy page does not rewrite its session row on every request."""

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.signals import user_logged_in

SIGNED_IN_AT = "itsm_signed_in_at"
SEEN_AT = "itsm_seen_at"
SEEN_GRANULARITY = 60


def expiry_reason(session, now: float) -> str:
    """Why this signed-in session is over ("idle", "lifetime"), or "" while it is not."""
    signed_in_at = session.get(SIGNED_IN_AT, now)
    seen_at = session.get(SEEN_AT, now)
    if now - signed_in_at >= settings.SESSION_MAX_LIFETIME:
        return "lifetime"
    if now - seen_at >= settings.SESSION_IDLE_TIMEOUT:
        return "idle"
    return ""


def note_activity(session, now: float) -> None:
    session.setdefault(SIGNED_IN_AT, int(now))  # a session from before this middleware
    if now - session.get(SEEN_AT, 0) >= SEEN_GRANULARITY:
        session[SEEN_AT] = int(now)


class SessionExpiryMiddleware:
    """After AuthenticationMiddleware: an expired session is signed out (and the sign-out
    audited with its reason) before the view runs, so the request is served as anonymous."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        if SESSION_KEY in session:
            now = time.time()
            reason = expiry_reason(session, now)
            if reason:
                request.signed_out_because = reason
                logout(request)
            else:
                note_activity(session, now)
        return self.get_response(request)


def _start_clocks(sender, request, user, **kwargs):
    """A new sign-in starts both clocks, also when it reuses the session of an earlier one."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SIGNED_IN_AT] = now
        request.session[SEEN_AT] = now


def connect() -> None:
    user_logged_in.connect(_start_clocks, dispatch_uid="itsm-session-clocks")
