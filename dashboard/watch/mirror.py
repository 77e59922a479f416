"""The pipeline's own messages about an active release (build steps, build log lines, timeline
events, verification) are published on "release:<id>"; a Service page shows its active
release too, so the leading watcher copies them onto "service:<name>" (with the release id).
Release state changes are already published on both streams and are not copied.

The position reached in each release's log is kept in Redis, so a new leader carries on
where the last one stopped (at most the few messages in flight at a handover repeat).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from dashboard import streams
from dashboard.watch.publisher import Item

if TYPE_CHECKING:
    from dashboard.watch.watcher import Watcher

log = logging.getLogger(__name__)
COPIED = frozenset({"build.step", "build.log", "release.event", "verify"})
BLOCK_MS = 500


def _position_key(release_id: int) -> str:
    return f"live:mirror:{release_id}"


class Mirror(threading.Thread):
    def __init__(self, watcher: Watcher) -> None:
        super().__init__(name="release-mirror", daemon=True)
        self.watcher = watcher
        self.client = streams.client()

    def active(self) -> dict[int, str]:
        """release id -> service name, for the releases active now."""
        out: dict[int, str] = {}
        for nsw in list(self.watcher.namespaces.values()):
            for spec in list(nsw.services.values()):
                if spec.release_id is not None:
                    out[spec.release_id] = spec.name
        return out

    def run(self) -> None:
        while not self.watcher.stopped.is_set():
            try:
                if not self.watcher.leading or not self.step():
                    self.watcher.stopped.wait(BLOCK_MS / 1000)
            except Exception:
                log.warning("release mirror", exc_info=True)
                self.watcher.stopped.wait(1.0)

    def step(self) -> bool:
        releases = self.active()
        if not releases:
            return False
        positions = {
            rid: str(self.client.get(_position_key(rid)) or "0-0") for rid in releases
        }
        keys: Any = {streams.replay_key(streams.release_stream(rid)): pos
                     for rid, pos in positions.items()}
        batch: Any = self.client.xread(keys, count=200, block=BLOCK_MS)
        for key, entries in batch or []:
            rid = int(key.rsplit(":", 1)[1])
            name = releases.get(rid)
            last = ""
            for entry_id, fields in entries:
                last = entry_id
                message = streams.json.loads(fields.get("m") or "{}")
                if name and message.get("type") in COPIED and self.watcher.leading:
                    data = {**(message.get("data") or {}), "release": rid}
                    self.watcher.publisher.submit(
                        Item(streams.service_stream(name), message["type"], data, mode="none"))
            if last and self.watcher.leading:
                self.client.set(_position_key(rid), last, ex=86400)
        return True
