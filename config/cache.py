"""Django's Redis cache backend with one connection pool per process.

Django keeps cache backends per async context, and under ASGI every request runs in a fresh
context: with the stock backend each request built its own client and opened (and leaked until
garbage collection) a new Redis connection, which cost more than the throttle's GET it was for.
Here the pools live at module level, keyed by server and options. redis-py pools notice a fork
and reset themselves, so Celery's prefork children get their own connections.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_pools: dict[tuple[str, str], Any] = {}
_pools_lock = threading.Lock()


class SharedPoolClient(RedisCacheClient):
    def _get_connection_pool(self, write: bool) -> Any:
        me: Any = self  # django-stubs do not declare the client's private attributes
        server = me._servers[me._get_connection_pool_index(write)]
        if "_options_key" not in me.__dict__:  # options never change: spell them once
            me._options_key = repr(sorted(me._pool_options.items()))
        key = (server, me._options_key)
        pool = _pools.get(key)
        if pool is None:
            with _pools_lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = me._pool_class.from_url(server, **me._pool_options)
        return pool


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedPoolClient
