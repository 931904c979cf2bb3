"""itsm.cache.OneClientRedisCache: Django's Redis backend, with one redis-py client for every
call of a process rather than a new one per call, and for every cache object: under ASGI each
request gets cache objects of its own, and each used to open its own pool and connection."""

import secrets

import pytest

from itsm.cache import OneClientRedisCache


def test_every_call_gets_the_same_client():
    cache = OneClientRedisCache("redis://127.0.0.1:6379/0", {})
    first = cache._cache.get_client("a", write=False)
    assert cache._cache.get_client("b", write=True) is first


def test_the_cache_objects_of_different_requests_share_one_client_and_pool():
    """The three caches of settings, as two ASGI requests build them: one client in all."""
    location = "redis://127.0.0.1:6379/0"
    first = OneClientRedisCache(location, {"KEY_PREFIX": "itsm"})._cache.get_client("a")
    again = OneClientRedisCache(location, {"KEY_PREFIX": "itsm"})._cache.get_client("a")
    status = OneClientRedisCache(location, {"KEY_PREFIX": "itsm-status"})._cache.get_client("b")
    assert first is again is status
    other = OneClientRedisCache("redis://127.0.0.1:6379/1", {})._cache.get_client("a")
    assert other is not first
    assert other.connection_pool is not first.connection_pool


@pytest.mark.redis
def test_it_keeps_and_forgets_values(settings):
    cache = OneClientRedisCache(settings.REDIS_URL, {"KEY_PREFIX": secrets.token_hex(4)})
    cache.set_many({"a": {"n": 1}, "b": b"\x00bytes"}, timeout=30)
    assert cache.get_many(["a", "b", "c"]) == {"a": {"n": 1}, "b": b"\x00bytes"}
    assert cache.add("a", 2) is False
    cache.delete_many(["a", "b"])
    assert cache.get_many(["a", "b"]) == {}
