"""Failed bearer-token authentication, counted per client address in fixed windows in the
shared cache, so every web process sees the same count (and the count outlives none of them
for longer than a window)."""

import math
import time

from django.conf import settings
from django.core.cache import cache


def _window() -> tuple[int, int]:
    """The current window's number and the whole seconds left in it."""
    length = settings.API_AUTH_FAILURE_WINDOW
    now = time.time()
    number = int(now // length)
    return number, max(1, math.ceil((number + 1) * length - now))


def _key(address: str, number: int) -> str:
    return f"api-auth-failures:{address}:{number}"


def seconds_refused(address: str) -> int:
    """Seconds until `address` may try a token again; 0 when it may now."""
    number, left = _window()
    failures = cache.get(_key(address, number), 0)
    return left if failures >= settings.API_AUTH_FAILURE_LIMIT else 0


def failure_count(address: str) -> int:
    """Count one more failure from `address` in this window; the count so far."""
    number, left = _window()
    key = _key(address, number)
    if cache.add(key, 1, timeout=left + 1):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=left + 1)
        return 1


def forget(address: str) -> None:
    """Clear this window's count for `address` (an operator's unblock, and tests)."""
    cache.delete(_key(address, _window()[0]))
