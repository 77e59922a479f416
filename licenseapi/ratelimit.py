"""Fixed-window rate limits per license key and per client address, shared through Redis.

Counting is write-behind: each process counts requests locally and decides at once from
(last total seen in Redis + its own unflushed increments); a background thread pushes the
increments with one pipelined INCRBY/EXPIRE round trip every FLUSH_SECONDS and learns the
totals, which include other processes' traffic. So the request path never waits on Redis:
validate stays fast under load, and a hung or dead Redis costs requests nothing. The price is
that other processes' traffic is seen up to one flush interval late (a few requests of
overshoot per process at most); a single process is exact.

When Redis is unreachable the limiter fails open (a warning, once a minute): validation is
what paying customers' software depends on, and it must not fail because the limiter did.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import redis

from licenseapi import conf
from licenseapi.redis_client import get_client

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.05


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0
    scope: str = ""


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[tuple[str, str], int] = {}  # (redis url, key) -> unflushed count
        self.inflight: dict[tuple[str, str], int] = {}  # being flushed: not yet in `known`
        self.known: dict[tuple[str, str], tuple[int, float]] = {}  # -> (total, expires at)
        self.ttl: dict[tuple[str, str], int] = {}
        self.wake = threading.Event()
        self.pid = os.getpid()
        self.thread: threading.Thread | None = None
        self.last_warning = 0.0

    def ensure_flusher(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(
                target=self._run, name="licenseapi-ratelimit", daemon=True
            )
            self.thread.start()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            time.sleep(FLUSH_SECONDS)  # gather a batch
            self.wake.clear()
            self.flush()

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, {}
            for k, delta in batch.items():
                self.inflight[k] = self.inflight.get(k, 0) + delta
            ttls = dict(self.ttl)
        by_url: dict[str, list[tuple[str, int]]] = {}
        for (url, key), delta in batch.items():
            by_url.setdefault(url, []).append((key, delta))
        for url, items in by_url.items():
            try:
                pipe = get_client(url).pipeline(transaction=False)
                for key, delta in items:
                    pipe.incrby(key, delta)
                    pipe.expire(key, ttls.get((url, key), 60))
                results = pipe.execute()
            except (redis.RedisError, OSError) as exc:
                self._warn(exc)
                with self.lock:  # fail open: these counts are dropped
                    for key, delta in items:
                        self._settle((url, key), delta)
                continue
            now = time.time()
            with self.lock:
                for i, (key, delta) in enumerate(items):
                    self.known[(url, key)] = (int(results[2 * i]), now + ttls.get((url, key), 60))
                    self._settle((url, key), delta)
        self._prune()

    def _settle(self, k: tuple[str, str], delta: int) -> None:
        left = self.inflight.get(k, 0) - delta
        if left > 0:
            self.inflight[k] = left
        else:
            self.inflight.pop(k, None)

    def _prune(self) -> None:
        now = time.time()
        with self.lock:
            for k in [k for k, (_total, expires) in self.known.items() if expires < now]:
                self.known.pop(k, None)
                self.ttl.pop(k, None)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self.last_warning > 60:  # once a minute, not once per request
            self.last_warning = now
            log.warning("rate limiting is failing open: Redis unavailable (%s)", type(exc).__name__)


_counters = _Counters()


def _state() -> _Counters:
    global _counters
    if _counters.pid != os.getpid():  # forked: the parent's counts and thread are not ours
        _counters = _Counters()
    return _counters


def check(endpoint: str, key_id: str | None, client_ip: str) -> Decision:
    """Count this request against its buckets; deny if any is over its limit."""
    if not conf.rate_limits_enabled():
        return Decision(True)
    window = conf.get_int("LICENSE_RATE_LIMIT_WINDOW_SECONDS")
    now = time.time()
    slot = int(now // window)
    prefix, url = conf.redis_prefix(), conf.redis_url()
    buckets = [
        (
            "ip",
            f"{prefix}rl:{endpoint}:ip:{client_ip}:{slot}",
            conf.get_int("LICENSE_RATE_LIMIT_PER_IP"),
        )
    ]
    if key_id:
        limit = conf.get_int("LICENSE_RATE_LIMIT_PER_KEY")
        buckets.append(("key", f"{prefix}rl:{endpoint}:key:{key_id}:{slot}", limit))
    state = _state()
    denied = ""
    with state.lock:
        for scope, name, limit in buckets:
            k = (url, name)
            seen = state.known.get(k, (0, 0.0))[0] + state.inflight.get(k, 0)
            count = seen + state.pending.get(k, 0) + 1
            state.pending[k] = state.pending.get(k, 0) + 1
            state.ttl[k] = window + 1
            if count > limit and not denied:
                denied = scope
    state.ensure_flusher()
    state.wake.set()
    if denied:
        return Decision(False, max(1, int((slot + 1) * window - now + 0.999)), denied)
    return Decision(True)


def flush() -> None:
    """Push pending counts now (tests; a graceful shutdown)."""
    _state().flush()


def forget_local_counts() -> None:
    """Drop what this process knows (tests simulate another process with it)."""
    state = _state()
    with state.lock:
        state.pending.clear()
        state.inflight.clear()
        state.known.clear()
