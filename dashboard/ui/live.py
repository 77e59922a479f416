"""Server-side reads of the live state the watcher keeps in Redis (dashboard.streams), so a
page is right on first paint, before its WebSocket connects. Best-effort: without Redis the
page renders without live data and the socket fills it in."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from dashboard import streams

log = logging.getLogger(__name__)


@dataclass
class LiveState:
    seq: int = 0
    pods: list[dict[str, Any]] = field(default_factory=list)
    rollout: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    available: bool = False

    @property
    def desired(self) -> int:
        return int((self.rollout or {}).get("desired") or 0)

    @property
    def ready(self) -> int:
        if self.rollout and self.rollout.get("available") is not None:
            return int(self.rollout.get("available") or 0)
        return sum(1 for p in self.pods if p.get("all_ready"))

    @property
    def health(self) -> str:
        """healthy / degraded / down / unknown (as text; colour comes from the CSS class)."""
        if not self.rollout:
            return "unknown"
        if self.desired and self.ready >= self.desired:
            return "healthy"
        return "down" if self.ready == 0 and self.desired else "degraded"


def service_state(name: str) -> LiveState:
    try:
        seq, rows = streams.state(streams.service_stream(name))
    except Exception:
        log.info("live state of %s unavailable", name, exc_info=True)
        return LiveState()
    state = LiveState(seq=seq, available=True)
    for message in rows.values():
        kind, data = message.get("type"), message.get("data") or {}
        if kind == "pod" and data.get("name"):
            state.pods.append(data)
        elif kind == "rollout.progress":
            state.rollout = data
        elif kind == "k8s.event":
            state.events.append(data)
    state.pods.sort(key=lambda p: str(p.get("name")))
    state.events.sort(key=lambda e: str(e.get("at") or ""), reverse=True)
    return state
