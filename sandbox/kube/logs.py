"""Container logs the simulated kubelet writes, served by pods/{name}/log (with follow)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .clock import Clock


@dataclass
class Stream:
    lines: list[tuple[float, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False  # the container stopped; followers finish after the last line


class LogStore:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.streams: dict[tuple[str, str], Stream] = {}  # (pod uid, container) -> lines
        self.previous: dict[tuple[str, str], Stream] = {}  # the last terminated instance

    def stream(self, uid: str, container: str) -> Stream:
        return self.streams.setdefault((uid, container), Stream())

    def write(self, uid: str, container: str, *lines: str) -> None:
        s = self.stream(uid, container)
        s.closed = False
        now = self.clock.now()
        s.lines.extend((now, line) for line in lines)
        s.changed.set()
        s.changed = asyncio.Event()

    def restart(self, uid: str, container: str) -> None:
        """A container restarted: its old output becomes `--previous`."""
        old = self.streams.pop((uid, container), None)
        if old is not None:
            self.close_stream(old)
            self.previous[(uid, container)] = old

    def close(self, uid: str, container: str) -> None:
        s = self.streams.get((uid, container))
        if s is not None:
            self.close_stream(s)

    @staticmethod
    def close_stream(s: Stream) -> None:
        s.closed = True
        s.changed.set()
        s.changed = asyncio.Event()

    def forget(self, uid: str) -> None:
        for key in [k for k in self.streams if k[0] == uid]:
            self.close_stream(self.streams.pop(key))
        for key in [k for k in self.previous if k[0] == uid]:
            self.previous.pop(key)

    def clear(self) -> None:
        for s in self.streams.values():
            self.close_stream(s)
        self.streams.clear()
        self.previous.clear()


def startup_lines(image: str, commit: str, pod: str) -> list[str]:
    short = commit[:12] or "unknown"
    app = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0] or "app"
    return [
        f"[entrypoint] starting {app} image={image} commit={short} pod={pod}",
        "[entrypoint] APP_ROLE=licenseapi; running migrations check",
        "Operations to perform: apply all migrations: no migrations to apply.",
        "[gunicorn] Starting gunicorn 23.0.0",
        "[gunicorn] Listening at: http://0.0.0.0:8000 (1)",
        "[gunicorn] Using worker: uvicorn.workers.UvicornWorker",
        "[gunicorn] Booting worker with pid: 7",
    ]


def crash_lines(commit: str) -> list[str]:
    return [
        "Traceback (most recent call last):",
        '  File "/app/manage.py", line 22, in <module>',
        "    main()",
        '  File "/app/licenseapi/apps.py", line 41, in ready',
        "    self.check_schema_version()",
        '  File "/app/licenseapi/apps.py", line 58, in check_schema_version',
        "    raise RuntimeError(f'schema version mismatch in build {commit}')",
        f"RuntimeError: schema version mismatch in build {commit[:12]}",
        "[gunicorn] Worker failed to boot. Shutting down: Master",
    ]


def health_line(status: int, path: str) -> str:
    return f'10.8.0.1 - - "GET {path} HTTP/1.1" {status} 17 "-" "kube-probe/1.32"'
