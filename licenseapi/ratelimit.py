"""Fixed-window rate limits in Redis, per license key and per client address.

One pipelined round trip per request checks both buckets (SET NX EX, then INCR, which keeps
the TTL: works on every Redis version, unlike EXPIRE NX which needs 7.0). When Redis
is unreachable the limiter fails open: validation is what paying customers' software depends
on, so an outage of the limiter must not become an outage of the API. A short circuit-breaker
keeps a dead Redis from adding its timeout to every request.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import redis

from licenseapi import conf
from licenseapi.redis_client import get_client

log = logging.getLogger(__name__)
BREAKER_SECONDS = 5.0

_breaker_lock = threading.Lock()
_skip_until = 0.0
_last_warning = 0.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0
    scope: str = ""


def _open_breaker(exc: Exception) -> None:
    global _skip_until, _last_warning
    with _breaker_lock:
        now = time.monotonic()
        _skip_until = now + BREAKER_SECONDS
        if now - _last_warning > 60:  # one warning a minute, not one per request
            _last_warning = now
            log.warning(
                "rate limiting disabled for %.0fs: Redis unavailable (%s)",
                BREAKER_SECONDS,
                type(exc).__name__,
            )


def reset_breaker() -> None:
    global _skip_until
    _skip_until = 0.0


def check(endpoint: str, key_id: str | None, client_ip: str) -> Decision:
    """Count this request against its buckets; deny if any is over its limit."""
    if not conf.rate_limits_enabled() or time.monotonic() < _skip_until:
        return Decision(True)
    window = conf.get_int("LICENSE_RATE_LIMIT_WINDOW_SECONDS")
    now = time.time()
    slot = int(now // window)
    prefix = conf.redis_prefix()
    buckets: list[tuple[str, str, int]] = [
        (
            "ip",
            f"{prefix}rl:{endpoint}:ip:{client_ip}:{slot}",
            conf.get_int("LICENSE_RATE_LIMIT_PER_IP"),
        ),
    ]
    if key_id:
        buckets.append(
            (
                "key",
                f"{prefix}rl:{endpoint}:key:{key_id}:{slot}",
                conf.get_int("LICENSE_RATE_LIMIT_PER_KEY"),
            )
        )
    try:
        pipe = get_client(conf.redis_url()).pipeline(transaction=False)
        for _scope, name, _limit in buckets:
            pipe.set(name, 0, ex=window + 1, nx=True)
            pipe.incr(name)
        results = pipe.execute()
    except (redis.RedisError, OSError) as exc:
        _open_breaker(exc)
        return Decision(True)
    retry_after = max(1, int((slot + 1) * window - now + 0.999))
    for i, (scope, _name, limit) in enumerate(buckets):
        if int(results[2 * i + 1]) > limit:
            return Decision(False, retry_after, scope)
    return Decision(True)
