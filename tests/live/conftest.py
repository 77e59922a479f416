"""Live-stream test harness: a real ASGI server (uvicorn) and watcher processes
(`manage.py watch_clusters`) against the test database, the session's Redis and the sandbox.

Each test gets its own lease key and its own Service name, so it shares Redis safely with
`make run` and other suites.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.worker import Proc, free_port, worker_env

os.environ.setdefault("LIVE_LEASE_KEY", f"live:test:leader:{uuid.uuid4().hex[:8]}")


@dataclass
class Live:
    """One test's world: its Service, a staff session, the server URL, its watchers."""

    sandbox: Any
    tmp: Path
    env: dict[str, str]
    service: Any
    cookie: str
    ws_base: str
    http_base: str
    procs: list[Proc] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.ws_base + path

    @property
    def stream(self) -> str:
        return f"service:{self.service.name}"

    def start_watcher(self, name: str = "w1", wait: bool = True) -> Proc:
        proc = Proc([sys.executable, "manage.py", "watch_clusters"],
                    self.tmp / f"watcher-{name}.log", self.env)
        self.procs.append(proc)
        if wait:
            self.wait_for(lambda: self.lease_holder() is not None, 20, "a watcher to lead")
        return proc

    def lease_holder(self) -> str | None:
        from dashboard import streams

        value = streams.client().get(os.environ["LIVE_LEASE_KEY"])
        return str(value) if value else None

    def watcher_token(self, proc: Proc) -> str:
        for line in proc.output().splitlines():
            if "watcher " in line and " started" in line:
                return line.split("watcher ", 1)[1].split()[0]
        return ""

    def wait_for(self, check: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        logs = "\n".join(p.output()[-3000:] for p in self.procs)
        raise AssertionError(f"timed out waiting for {what}\n{logs}")

    def watch_counts(self) -> dict[str, int]:
        return dict(self.sandbox.control("metrics")["watches"])




def start_server(tmp: Path, env: dict[str, str]) -> tuple[Proc, int]:
    port = free_port()
    proc = Proc([sys.executable, "-m", "uvicorn", "config.asgi:application", "--host",
                 "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
                tmp / "uvicorn.log", env)
    proc.wait_port(port)
    return proc, port


def make_service(sandbox: Any, name: str | None = None) -> Any:
    from dashboard.models import Cluster, Service

    cluster, _ = Cluster.objects.get_or_create(
        name="sandbox-live", defaults={"kubeconfig_path": str(sandbox.kubeconfig),
                                       "context": "sandbox"})
    return Service.objects.create(
        name=name or f"lt-{uuid.uuid4().hex[:8]}", cluster=cluster, namespace="default",
        deployment="license-api", container="license-api",
        image_repository="gcr.io/sandbox/license-api", gcp_project="sandbox",
    )


def session_cookie(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.fixture
def live(transactional_db: None, sandbox: Any, tmp_path: Path) -> Iterator[Live]:
    from django.contrib.auth import get_user_model

    sandbox.reset()
    service = make_service(sandbox)
    admin = get_user_model().objects.create_superuser(
        f"admin-{service.name}", "a@example.com", "pw")
    env = {**worker_env(), "LIVE_LEASE_KEY": os.environ["LIVE_LEASE_KEY"],
           "PYTHONUNBUFFERED": "1"}
    server, port = start_server(tmp_path, env)
    world = Live(sandbox, tmp_path, env, service, session_cookie(admin),
                 f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}", [server])
    try:
        yield world
    finally:
        for proc in reversed(world.procs):
            proc.stop()
        from dashboard import streams

        streams.client().delete(os.environ["LIVE_LEASE_KEY"])
