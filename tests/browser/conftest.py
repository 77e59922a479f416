"""Browser tests: Chromium (Debian's /usr/bin/chromium) driven by Playwright against a live
ASGI server, a real Celery worker, the live-stream watcher and the sandbox, all sharing the
test database (tests/plugins/worker.py worker_env()).

Each test world gets its own Service name, watcher lease key and release id range, so it
shares Redis safely with `make run` and other suites."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.worker import ROOT, Worker, start_celery_worker, worker_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "browser-test-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class World:
    base: str
    service: Any
    tmp: Path
    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)
    worker: Worker | None = None

    def logs(self) -> str:
        out = [f"--- {p.log.name}\n{p.output()[-4000:]}" for p in self.procs]
        if self.worker is not None:
            out.append(f"--- worker\n{self.worker.output()[-4000:]}")
        return "\n".join(out)


def _wait_port(port: int, proc: Proc, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.output()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}: {proc.output()[-3000:]}")


def _bump_release_ids() -> None:
    """Start release ids at a random offset: live streams are named release:<id> in the
    shared Redis, and other runs' release:1 must not show up on this test's pages."""
    from django.db import connection

    from dashboard.models import Release

    start = random.randint(10**6, 10**9)
    table = Release._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, start])
        else:
            cur.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
            cur.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, start])


def make_service(sandbox: Any) -> Any:
    from dashboard.models import Cluster, Service

    cluster = Cluster.objects.create(name=f"sb-{uuid.uuid4().hex[:6]}",
                                     kubeconfig_path=str(sandbox.kubeconfig), context="sandbox")
    return Service.objects.create(
        name=f"ui-{uuid.uuid4().hex[:6]}", cluster=cluster, namespace="default",
        deployment="license-api", container="license-api",
        image_repository="gcr.io/sandbox/license-api", gcp_project="sandbox",
        build_trigger_id="license-api", health_service="license-api", health_port=80,
        health_path="/health/ready", rollout_timeout_seconds=60, verify_successes=2,
        verify_window_seconds=20,
    )


def _reconciler(stop: threading.Event) -> None:
    """What beat does in `make run`: re-drive releases whose chain stalled."""
    from datetime import timedelta

    from django.db import connection

    from dashboard import pipeline

    while not stop.wait(3):
        with contextlib.suppress(Exception):  # the next round tries again
            pipeline.reconcile(stale_after=timedelta(seconds=8))
    connection.close()


@pytest.fixture
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("browser tests need /usr/bin/chromium (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code, so let Django allow them while the browser is open.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


def _world(sandbox: Any, tmp_path: Path, *, pipeline: bool) -> Iterator[World]:
    sandbox.reset()
    _bump_release_ids()
    service = make_service(sandbox)
    lease = f"live:test:ui:{uuid.uuid4().hex[:8]}"
    env = {**worker_env(), "LIVE_LEASE_KEY": lease, "PYTHONUNBUFFERED": "1",
           "CLOUDBUILD_ENDPOINT": sandbox.cloudbuild_url, "KUBECONFIG": str(sandbox.kubeconfig)}
    port = free_port()
    server = Proc([sys.executable, "-m", "uvicorn", "config.asgi:application", "--host",
                   "127.0.0.1", "--port", str(port), "--log-level", "warning",
                   "--no-access-log", "--lifespan", "off"], tmp_path / "uvicorn.log", env)
    world = World(f"http://127.0.0.1:{port}", service, tmp_path, env, [server])
    stop = threading.Event()
    try:
        _wait_port(port, server)
        if pipeline:
            world.procs.append(Proc([sys.executable, "manage.py", "watch_clusters"],
                                    tmp_path / "watcher.log", env))
            from config.celery import app

            app.control.purge()
            world.worker = start_celery_worker(tmp_path, f"ui{port}", extra_env=env)
            threading.Thread(target=_reconciler, args=(stop,), daemon=True).start()
        yield world
    finally:
        stop.set()
        if world.worker is not None:
            world.worker.stop()
        for proc in reversed(world.procs):
            proc.stop()
        from dashboard import streams

        streams.client().delete(lease)


@pytest.fixture
def world(transactional_db: None, sandbox: Any, tmp_path: Path) -> Iterator[World]:
    yield from _world(sandbox, tmp_path, pipeline=True)


@pytest.fixture
def web_only(transactional_db: None, sandbox: Any, tmp_path: Path) -> Iterator[World]:
    yield from _world(sandbox, tmp_path, pipeline=False)


def login(page: Any, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base + "/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(base + "/admin/")


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
