"""itsm.cache.OneClientRedisCache: Django's Redis backend, with one redis-py client for every
call of a process rather than a new one per call."""

import secrets

import pytest

from itsm.cache import OneClientRedisCache


def test_every_call_gets_the_same_client():
    cache = OneClientRedisCache("redis://127.0.0.1:6379/0", {})
    first = cache._cache.get_client("a", write=False)
    assert cache._cache.get_client("b", write=True) is first


@pytest.mark.redis
def test_it_keeps_and_forgets_values(settings):
    cache = OneClientRedisCache(settings.REDIS_URL, {"KEY_PREFIX": secrets.token_hex(4)})
    cache.set_many({"a": {"n": 1}, "b": b"\x00bytes"}, timeout=30)
    assert cache.get_many(["a", "b", "c"]) == {"a": {"n": 1}, "b": b"\x00bytes"}
    assert cache.add("a", 2) is False
    cache.delete_many(["a", "b"])
    assert cache.get_many(["a", "b"]) == {}
