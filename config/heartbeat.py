"""Liveness signals of the roles that serve no HTTP: the beat scheduler and the cluster
watcher touch `heartbeat-<role>` in HEARTBEAT_DIR (default var/) from their main loops, and
deploy/healthcheck.py calls a role dead when its file is older than the limit. A stuck loop
stops touching it even though the process is still there."""

from __future__ import annotations

import os
import time
from pathlib import Path


def directory() -> Path:
    default = Path(__file__).resolve().parent.parent / "var"
    return Path(os.environ.get("HEARTBEAT_DIR") or default)


def beat(role: str) -> None:
    """Mark `role` alive now (never raises: a full or read-only disk must not stop the loop)."""
    path = directory() / f"heartbeat-{role}"
    try:
        path.touch()
        os.utime(path)
    except OSError:
        pass


def age(role: str) -> float | None:
    """Seconds since `role` last marked itself alive, or None when it never did."""
    try:
        return time.time() - (directory() / f"heartbeat-{role}").stat().st_mtime
    except OSError:
        return None
