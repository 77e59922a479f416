"""Watch fan-out: each open watch is a queue of pre-encoded event lines.

A change is offered to every watcher of its collection; the watcher decides, from whether
the old and the new state match its selectors, whether that is ADDED, MODIFIED or DELETED
for it (an object that stops matching a selector is DELETED for that watcher).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .store import Change, encode_event

Obj = dict[str, Any]
CLOSE = b""  # sentinel: the server closes this stream


@dataclass(eq=False)
class Watcher:
    key: str  # storage key of the watched collection
    label: str  # for metrics, e.g. "pods/default"
    match: Callable[[Obj], bool]
    transform: Callable[[Obj], Obj] | None = None  # e.g. core Event -> events.k8s.io Event
    queue: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    # Once the stream is live, lines go straight to the socket from the committing call: no
    # task wake-up per watcher per event (that is what keeps fan-out latency low).
    direct: Callable[[bytes], bool] | None = None  # takes one framed HTTP chunk

    def offer(self, change: Change) -> None:
        if change.key != self.key:
            return
        was = change.old is not None and change.type != "ADDED" and self.match(change.old)
        now = self.match(change.new)
        if change.type == "DELETED":
            event = "DELETED" if (was or now) else None
        elif now:
            event = "MODIFIED" if was else "ADDED"
        else:
            event = "DELETED" if was else None
        if event is None:
            return
        if self.direct is None:
            self.queue.put_nowait(change.line(event) if self.transform is None
                                  else encode_event(event, self.transform(change.new)))
            return
        if self.transform is None:
            chunk = change.chunk(event)
        else:
            chunk = frame(encode_event(event, self.transform(change.new)))
        if not self.direct(chunk):
            self.direct = None  # a closed or hopelessly slow client: end its watch
            self.close()

    def close(self) -> None:
        self.queue.put_nowait(CLOSE)


def frame(data: bytes) -> bytes:
    """One HTTP/1.1 chunk of a chunked body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class WatchHub:
    def __init__(self) -> None:
        self.watchers: set[Watcher] = set()
        self.by_key: dict[str, set[Watcher]] = {}  # storage key -> its watchers
        # Seconds each change took to reach every open watch's socket (server-side fan-out).
        self.fanout: deque[float] = deque(maxlen=10000)

    def on_change(self, change: Change) -> None:
        watchers = self.by_key.get(change.key)
        if not watchers:
            return
        started = time.perf_counter()
        for w in list(watchers):
            w.offer(change)
        self.fanout.append(time.perf_counter() - started)

    def fanout_ms(self) -> dict[str, float]:
        ordered = sorted(self.fanout)
        if not ordered:
            return {}

        def pct(p: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 3)

        return {"p50": pct(50), "p99": pct(99), "max": round(ordered[-1] * 1000, 3),
                "samples": len(ordered)}

    def add(self, watcher: Watcher) -> None:
        self.watchers.add(watcher)
        self.by_key.setdefault(watcher.key, set()).add(watcher)

    def discard(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)
        self.by_key.get(watcher.key, set()).discard(watcher)

    def drop_all(self) -> int:
        """Chaos: close every open watch now, as an apiserver restart would."""
        dropped = list(self.watchers)
        for w in dropped:
            w.close()
        return len(dropped)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for w in self.watchers:
            out[w.label] = out.get(w.label, 0) + 1
        return out
