"""Fixed-window counters in the shared cache, so every web process sees the same count (and
the count outlives none of them for longer than a window): failed bearer-token
authentication per client address, and (`counted`) what other limits count, such as the
requests of an alert integration."""

import math
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache


def _window(length: int | None = None) -> tuple[int, int]:
    """The current window's number and the whole seconds left in it (windows of `length`
    seconds; default: the bearer-token failures' window)."""
    length = length or settings.API_AUTH_FAILURE_WINDOW
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
    return _incr(_key(address, number), left)


def counted(name: str, length: int) -> tuple[int, int]:
    """Count one more `name` in the current window of `length` seconds: the count so far and
    the seconds left in the window."""
    number, left = _window(length)
    return _incr(f"{name}:{number}", left), left


def _incr(key: str, left: int) -> int:
    """Add one to `key` atomically, creating it to expire with its window. On Redis, one round
    trip (SET NX with the expiry, then INCR, pipelined) where Django's add and incr take three;
    it counts every alert a sender posts."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        name = backend.make_and_validate_key(key)
        pipe = backend._cache.get_client(name, write=True).pipeline(transaction=False)
        pipe.set(name, 0, ex=left + 1, nx=True)
        pipe.incr(name)
        return pipe.execute()[1]
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
