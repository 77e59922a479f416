"""An injectable clock: wall time plus an offset that tests (and /sandbox/v1/clock/advance) move."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime


class Clock:
    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed  # simulated durations are divided by this
        self.offset = 0.0
        self.advanced = asyncio.Event()  # set when time jumps, so sleepers re-plan

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.advanced.set()

    def sim(self, seconds: float) -> float:
        """A simulated duration (pull, start, probe delay) in clock seconds."""
        return seconds / self.speed

    def stamp(self, at: float | None = None) -> str:
        """RFC 3339 with seconds, as Kubernetes timestamps are written."""
        moment = datetime.fromtimestamp(self.now() if at is None else at, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def micro_stamp(self, at: float | None = None) -> str:
        moment = datetime.fromtimestamp(self.now() if at is None else at, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str | None) -> float | None:
    if not text:
        return None
    text = text.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
