"""Per-token (or per-user for sessions) request rates, counted in Redis.

A sliding-window counter: one Redis counter per token and window, and the count a request sees
is this window's plus the previous window's weighted by how much of it still overlaps the
last `duration` seconds. One atomic script call per request, whatever the rate (DRF's
SimpleRateThrottle keeps every request's timestamp in one cache value and rewrites the whole
list on each request, which grows with the limit). Refused requests are not counted, so a
client that backs off by Retry-After gets through.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from dashboard.api.models import ApiToken

log = logging.getLogger(__name__)

DEFAULT_RATE = "1200/min"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# KEYS: this window's counter, the previous window's. ARGV: limit, weight of the previous
# window (0..1), counter lifetime. Returns this window's count after the request, or -1 with
# nothing counted when the estimate is already at the limit; and the two counts seen.
_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[2]) + current >= tonumber(ARGV[1]) then
  return {-1, current, previous}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return {current, current, previous}
"""


def parse_rate(rate: str) -> tuple[int, int]:
    """'1200/min' -> (1200, 60)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[:1]]


def retry_after(limit: int, duration: int, elapsed: float, current: int, previous: int) -> float:
    """Seconds until previous*weight + current drops below `limit` with no new requests."""
    if current < limit and previous:
        # wait until the previous window's weight (1 - t/duration) is small enough
        return max(0.0, duration * (1 - (limit - current) / previous) - elapsed)
    # this window alone is full: it becomes "previous" and must fade below the limit
    return (duration - elapsed) + duration * max(0.0, 1 - limit / max(current, 1))


class TokenRateThrottle(BaseThrottle):
    scope = "api_token"

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def rate_for(self, request: Request) -> str:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is not None and token.rate_limit:
            return f"{token.rate_limit}/min"
        return str(getattr(settings, "API_TOKEN_RATE", DEFAULT_RATE))

    def ident(self, request: Request) -> str | None:
        if isinstance(request.auth, ApiToken):
            # the hash, not the id: ids repeat across test databases sharing one Redis
            return request.auth.token_hash[:32]
        if request.user is not None and request.user.is_authenticated:
            return f"user-{request.user.pk}"
        return None

    def allow_request(self, request: Request, view: Any) -> bool:
        ident = self.ident(request)
        if ident is None:
            return True
        limit, duration = parse_rate(self.rate_for(request))
        now = time.time()
        window = int(now // duration)
        elapsed = now - window * duration
        base = f"dashboard_api:throttle:{self.scope}:{ident}:{duration}"
        keys = [cache.make_and_validate_key(f"{base}:{window}"),
                cache.make_and_validate_key(f"{base}:{window - 1}")]
        try:
            client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
            result, current, previous = client.register_script(_SCRIPT)(  # EVALSHA
                keys=keys, args=[limit, 1 - elapsed / duration, 2 * duration])
        except RedisError as exc:
            # Fail open: losing the rate limit for a moment beats refusing every deploy.
            log.warning("throttle: Redis unavailable (%s); request allowed", type(exc).__name__)
            return True
        if int(result) >= 0:
            return True
        self.wait_seconds = retry_after(limit, duration, elapsed, int(current), int(previous))
        return False

    def wait(self) -> float | None:
        if self.wait_seconds is None:
            return None
        return float(max(1, math.ceil(self.wait_seconds)))
