"""One lazily created Redis client per URL, shared by the process (its pool reuses
connections). Short timeouts and no retries: callers are a readiness probe and a rate limiter,
and both must answer fast when Redis is gone rather than wait for it."""

from __future__ import annotations

import threading

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

SOCKET_TIMEOUT_SECONDS = 0.5

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}


def get_client(url: str) -> redis.Redis:
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = redis.Redis.from_url(
                    url,
                    socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                    socket_timeout=SOCKET_TIMEOUT_SECONDS,
                    retry=Retry(NoBackoff(), 0),
                    health_check_interval=30,
                )
                _clients[url] = client
    return client
