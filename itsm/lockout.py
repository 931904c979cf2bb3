"""What a client locked out by django-axes sees: the portal's page, 429, and when to retry."""

from django.conf import settings
from django.shortcuts import render


def cooloff_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def lockout_response(request, *args):
    """axes' AXES_LOCKOUT_CALLABLE, for the portal's and the admin's sign-in alike.

    axes calls it with (request, response, credentials) from a sync middleware chain and with
    (request, credentials) from an async one; neither is needed. The cool-off restarts with
    every attempt made while locked out, so the full cool-off is what remains now."""
    minutes = cooloff_minutes()
    response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
