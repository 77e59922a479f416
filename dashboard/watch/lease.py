"""Leader election with a Redis lease, so that of several watchers exactly one publishes.

SET NX PX takes a free lease; a Lua compare-and-extend renews it only while this holder's
token is still there. The holder trusts its lease only until `valid_until` (the last renew
plus the TTL minus a safety margin, on the monotonic clock), so a leader cut off from Redis
stops before anybody else can take over; the token is also the publish fence
(streams.publish_row refuses a stale token atomically).
"""

from __future__ import annotations

import contextlib
import time
import uuid

import redis

from dashboard.streams import LEASE_KEY

__all__ = ["LEASE_KEY", "Lease"]

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(self, client: redis.Redis, key: str = LEASE_KEY, ttl: float = 5.0) -> None:
        self.client = client
        self.key = key
        self.ttl = ttl
        self.token = f"{uuid.uuid4().hex}"
        self.valid_until = 0.0

    @property
    def held(self) -> bool:
        return time.monotonic() < self.valid_until

    def fence(self) -> tuple[str, str]:
        return self.key, self.token

    def try_hold(self) -> bool:
        """Take the lease if free, or extend it if ours. False when someone else has it (or
        Redis cannot be reached: then we must assume someone else might)."""
        started = time.monotonic()
        ttl_ms = int(self.ttl * 1000)
        try:
            if self.held or self.valid_until:
                ok = bool(self.client.eval(_RENEW, 1, self.key, self.token, ttl_ms))
            else:
                ok = bool(self.client.set(self.key, self.token, nx=True, px=ttl_ms))
        except (redis.RedisError, OSError):
            ok = False
        # Measure from before the request: the lease may have been set as soon as it was sent.
        self.valid_until = started + self.ttl * 0.8 if ok else 0.0
        return ok

    def release(self) -> None:
        self.valid_until = 0.0
        with contextlib.suppress(redis.RedisError, OSError):
            self.client.eval(_RELEASE, 1, self.key, self.token)

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        return str(value) if value else None
