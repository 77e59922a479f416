"""A WebSocket viewer of a release page, in a thread: records every message it receives."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from websockets.sync.client import connect


class Viewer(threading.Thread):
    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.stopped = threading.Event()
        self.error = ""

    def run(self) -> None:
        try:
            origin = "http://" + self.url.split("//", 1)[1].split("/", 1)[0]
            with connect(self.url, additional_headers={"Authorization": f"Bearer {self.token}"},
                         origin=origin, open_timeout=10) as ws:  # type: ignore[call-overload]
                while not self.stopped.is_set():
                    try:
                        raw = ws.recv(timeout=0.5)
                    except TimeoutError:
                        continue
                    self.messages.append((time.time(), json.loads(raw)))
        except Exception as exc:
            self.error = repr(exc)

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)

    def since(self, t: float) -> list[dict[str, Any]]:
        return [m for at, m in self.messages if at >= t]

    def saw_state(self, state: str, after: float = 0.0) -> bool:
        """A snapshot or a state change after `after` that shows the release in `state`."""
        for m in self.since(after):
            data = m.get("data") or {}
            if m.get("type") == "snapshot" and (data.get("release") or {}).get("state") == state:
                return True
            if m.get("type") == "release.state" and (data.get("state") == state
                                                     or data.get("to") == state):
                return True
        return False
