"""The Redis cache backend of settings.CACHES (the default cache and the status page's):
Django's, with one redis-py client per connection pool instead of one per call. Django builds
a `redis.Redis` for every cache operation, and with redis-py 8 that takes about 0.1 ms, more
than the round trip to a local Redis; the client is thread-safe, so one serves every thread
of a process."""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _Client(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        if index not in self._clients:
            self._clients[index] = super().get_client(key, write=write)
        return self._clients[index]


class OneClientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _Client
