"""The image's HEALTHCHECK, one script for every role (standard library only: it runs often).

The role is read from PID 1's command line, which deploy/docker-entrypoint.sh exec'd:
- web, licenseapi (uvicorn): GET /healthz, /health/live on 127.0.0.1:8000 answers 200;
- worker (celery worker): `celery inspect ping` answered by this container's own node;
- beat (celery beat), watcher (watch_clusters): their heartbeat file (config/heartbeat.py)
  was touched within HEARTBEAT_MAX_AGE seconds (default 90);
- anything else (sandbox, migrate, a shell): healthy.
Exit status 0 healthy, 1 unhealthy, as Docker expects.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def pid1() -> tuple[list[str], dict[str, str]]:
    try:
        argv = Path("/proc/1/cmdline").read_bytes().split(b"\0")
        env = Path("/proc/1/environ").read_bytes().split(b"\0")
    except OSError:
        return [], {}
    pairs = (e.decode(errors="replace").partition("=") for e in env if b"=" in e)
    return [a.decode(errors="replace") for a in argv if a], {k: v for k, _, v in pairs}


def role_of(argv: list[str], env: dict[str, str]) -> str:
    words = " ".join(argv)
    if "uvicorn" in words:
        return "licenseapi" if env.get("APP_ROLE") == "licenseapi" else "web"
    if "celery" in words and " worker" in words:
        return "worker"
    if "celery" in words and " beat" in words:
        return "beat"
    if "watch_clusters" in words:
        return "watcher"
    return "other"


def http_ok(path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:8000{path}", timeout=4) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def heartbeat_ok(role: str) -> bool:
    directory = Path(os.environ.get("HEARTBEAT_DIR") or "/app/var")
    limit = float(os.environ.get("HEARTBEAT_MAX_AGE") or 90)
    try:
        return time.time() - (directory / f"heartbeat-{role}").stat().st_mtime < limit
    except OSError:
        return False


def worker_ok() -> bool:
    node = f"celery@{socket.gethostname()}"
    try:
        done = subprocess.run(["celery", "-A", "config", "inspect", "ping", "-d", node,
                               "--timeout", "5"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and b"pong" in done.stdout


def main() -> int:
    role = role_of(*pid1())
    checks = {
        "web": lambda: http_ok("/healthz"),
        "licenseapi": lambda: http_ok("/health/live"),
        "worker": worker_ok,
        "beat": lambda: heartbeat_ok("beat"),
        "watcher": lambda: heartbeat_ok("watcher"),
    }
    check = checks.get(role)
    return 0 if check is None or check() else 1


if __name__ == "__main__":
    sys.exit(main())
