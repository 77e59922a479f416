"""The watcher's publishing thread: one asyncio loop with one Redis client, fed by the watch
threads through a queue.

Watch threads never wait on Redis or on viewers: `submit()` only enqueues. Items are
published in order. Viewers read the messages from the streams' replay logs (each web
process tails them once, dashboard/live/hub.py), so a slow viewer holds back nobody here.
Publishing is fenced by the lease: after it is lost nothing more goes out.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings

from dashboard import metrics, streams
from dashboard.releases import driver

from .lease import Lease

log = logging.getLogger(__name__)
WAKE_INTERVAL = 0.3  # at most one advance_release per release per this many seconds


@dataclass
class Item:
    stream: str
    type: str
    data: dict[str, Any]
    key: str = ""
    digest: str = ""
    mode: str = "set"
    wake: int | None = None  # release id to advance after this change
    at: float = field(default_factory=time.monotonic)  # when the watcher saw the change


class Publisher(threading.Thread):
    def __init__(self, lease: Lease, on_failed: Callable[[Item], None] | None = None,
                 enqueue: Callable[[int], None] | None = None) -> None:
        super().__init__(name="live-publisher", daemon=True)
        self.lease = lease
        self.on_failed = on_failed
        self.enqueue = enqueue or driver.wake
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self.ready = threading.Event()
        self.published = 0
        self._last_wake: dict[int, float] = {}
        self._pending_wake: set[int] = set()

    def submit(self, item: Item) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self.redis = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5, decode_responses=True
        )
        self.script = self.redis.register_script(streams.PUBLISH_ROW_SCRIPT)
        self.ready.set()
        while True:
            item = await self.queue.get()
            try:
                await self._publish(item)
            except Exception:
                log.warning("could not publish %s on %s", item.type, item.stream, exc_info=True)
                if self.on_failed is not None:
                    self.on_failed(item)

    async def _publish(self, item: Item) -> None:
        if not self.lease.held:
            if self.on_failed is not None:
                self.on_failed(item)
            return
        keys, args = streams.row_args(item.stream, item.type, item.data, key=item.key,
                                      digest=item.digest, mode=item.mode,
                                      fence=self.lease.fence())
        seq, _body = await self.script(keys=keys, args=args)
        if int(seq) < 0:
            self.lease.valid_until = 0.0  # fenced: someone else leads now
            if self.on_failed is not None:
                self.on_failed(item)
            return
        if int(seq) == 0:
            return  # unchanged (another watcher instance published it already)
        self.published += 1
        metrics.watcher_lag(time.monotonic() - item.at)
        if item.wake is not None:
            self._wake(item.wake)

    def _wake(self, release_id: int) -> None:
        """Leading edge at once, then at most one trailing call per WAKE_INTERVAL."""
        now = time.monotonic()
        wait = self._last_wake.get(release_id, 0.0) + WAKE_INTERVAL - now
        if wait <= 0:
            self._fire(release_id)
        elif release_id not in self._pending_wake:
            self._pending_wake.add(release_id)
            self.loop.call_later(wait, self._fire, release_id)

    def _fire(self, release_id: int) -> None:
        self._pending_wake.discard(release_id)
        self._last_wake[release_id] = time.monotonic()
        if self.lease.held:
            self.loop.run_in_executor(None, self.enqueue, release_id)
