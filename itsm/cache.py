"""The Redis cache backend of settings.CACHES (the default cache and the status page's):
Django's, with one redis-py client, and so one connection pool, per server and options for
the whole process.

Django keeps a cache's connection pool on the cache object, and under ASGI each request gets
its own cache objects (they live in a context-local that a request's task does not hand
back): every request opened a new pool and a new TCP connection to Redis, and redis-py read
its own package metadata from disk for each. Django also builds a `redis.Redis` for every
cache operation, which with redis-py 8 takes about 0.1 ms. The client is thread-safe and its
pool reconnects after a fork, so one serves every thread and request of a process."""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_CLIENTS: dict[tuple[str, str], object] = {}


class _Client(RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        shared = (self._servers[index], repr(sorted(self._pool_options.items())))
        if shared not in _CLIENTS:
            _CLIENTS[shared] = super().get_client(key, write=write)
        return _CLIENTS[shared]


class OneClientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _Client
