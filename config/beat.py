"""The beat scheduler with a liveness signal: every tick touches the heartbeat file."""

from __future__ import annotations

from typing import Any

from celery.beat import PersistentScheduler

from config import heartbeat


class HeartbeatScheduler(PersistentScheduler):
    def tick(self, *args: Any, **kwargs: Any) -> float:
        heartbeat.beat("beat")
        # Tick at least every 30 s so the heartbeat stays fresh between sparse schedules.
        return min(float(super().tick(*args, **kwargs)), 30.0)
