"""Browser tests: Chromium (Debian's /usr/bin/chromium) driven by Playwright against a live
ASGI server, a real Celery worker, the live-stream watcher and the sandbox, all sharing the
test database (tests/plugins/worker.py worker_env()).

Each test world gets its own Service name, watcher lease key and release id range, so it
shares Redis safely with `make run` and other suites."""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.worker import ROOT, Proc, free_port, worker_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "browser-test-pw"


@dataclass
class World:
    base: str
    service: Any
    tmp: Path
    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)

    def start(self, args: list[str], name: str) -> Proc:
        proc = Proc(args, self.tmp / f"{name}.log", self.env)
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {p.log.name}\n{p.output()[-4000:]}" for p in self.procs)




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
    """A private Redis (broker, channel layer, live streams, lease) so that other suites and
    `make run` on this machine can neither take this world's tasks nor see its streams."""
    from config.embedded_redis import ensure_running

    sandbox.reset()
    _bump_release_ids()
    service = make_service(sandbox)
    sock_dir = Path(tempfile.mkdtemp(prefix="uir-", dir="/tmp"))
    redis_proc = ensure_running(sock_dir / "redis.sock")
    env = {**worker_env(), "REDIS_URL": f"unix://{sock_dir / 'redis.sock'}",
           "PYTHONUNBUFFERED": "1", "CLOUDBUILD_ENDPOINT": sandbox.cloudbuild_url,
           "KUBECONFIG": str(sandbox.kubeconfig), "RECONCILE_INTERVAL_SECONDS": "3",
           "LIVE_LEASE_KEY": f"live:test:ui:{uuid.uuid4().hex[:8]}"}
    port = free_port()
    world = World(f"http://127.0.0.1:{port}", service, tmp_path, env)
    try:
        server = world.start([sys.executable, "-m", "uvicorn", "config.asgi:application",
                              "--host", "127.0.0.1", "--port", str(port), "--log-level",
                              "warning", "--no-access-log", "--lifespan", "off"], "uvicorn")
        server.wait_port(port)
        if pipeline:
            world.start([sys.executable, "manage.py", "watch_clusters"], "watcher")
            worker = world.start([sys.executable, "-m", "celery", "-A", "config", "worker",
                                  "--loglevel", "INFO", "--concurrency", "2", "--hostname",
                                  f"ui{port}@%h", "--without-gossip", "--without-mingle"],
                                 "worker")
            world.start([sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel",
                         "INFO", "--schedule", str(tmp_path / "beat-schedule")], "beat")
            _wait_log(worker, "ready", 40)
        yield world
    finally:
        for proc in reversed(world.procs):
            proc.stop()
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)


def _wait_log(proc: Proc, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in proc.output():
            return
        if proc.proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"{proc.log.name}: no {text!r} in {timeout} s: {proc.output()[-3000:]}")


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
