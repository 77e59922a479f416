"""A real Celery worker, started as a subprocess against the test database and Redis.

Tests that use it need `transaction=True` database access (the worker is another process and
sees only committed data). `celery_worker` is function-scoped so every test starts from an
empty queue; `start_celery_worker()` lets a test kill and restart workers itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def worker_env() -> dict[str, str]:
    """The environment a child process needs to share this test session's DB and Redis."""
    from django.conf import settings
    from django.db import connection

    env = dict(os.environ)
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
    env["REDIS_URL"] = settings.REDIS_URL
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    # Tests' receivers (webhooks, Slack's response_url) listen on the loopback address.
    env.setdefault("OUTBOUND_PRIVATE_HOSTS", "127.0.0.1")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A child process in its own session (so its children die with it), logging to a file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL, as an OOM kill or a lost node would: no chance to ack or clean up."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_port(self, port: int, timeout: float = 40) -> None:
        """Until the process listens on 127.0.0.1:port; fails early if it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not listen on {port}: {self.output()[-3000:]}")


Worker = Proc  # a Celery worker is one of those


def start_celery_worker(tmp_dir: Path, name: str = "w1", extra_env: dict[str, str] | None = None,
                        concurrency: int = 2) -> Worker:
    from config.celery import app

    log = tmp_dir / f"celery-{name}.log"
    env = {**worker_env(), **(extra_env or {})}
    worker = Proc(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
         "--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--without-gossip",
         "--without-mingle"],
        log, env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if worker.proc.poll() is not None:
            raise RuntimeError(f"celery worker exited: {worker.output()[-2000:]}")
        replies = app.control.ping(destination=[f"{name}@{os.uname().nodename}"], timeout=0.5)
        if replies:
            return worker
    worker.kill()
    raise RuntimeError(f"celery worker did not answer a ping in 30 s: {worker.output()[-2000:]}")


@pytest.fixture
def celery_worker(transactional_db: None, tmp_path: Path) -> Iterator[Worker]:
    from config.celery import app

    app.control.purge()
    worker = start_celery_worker(tmp_path)
    yield worker
    worker.stop()
