"""An in-process Cloud Build sandbox: `create_app` served from a background thread's loop.

The Cloud Build tests need only this half of the sandbox, a fast --speed, and direct access to
the shared registry and chaos settings, so they start the app themselves instead of the whole
`python -m sandbox`. Everything still goes over real HTTP through the official clients.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from google.api_core.client_options import ClientOptions
from google.api_core.future.polling import DEFAULT_POLLING
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.devtools import cloudbuild_v1 as cb

from sandbox.chaos import ApiChaos, Chaos
from sandbox.cloudbuild import create_app
from sandbox.registry import Registry

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEED = 25.0


@dataclass
class CloudBuildSandbox:
    url: str
    registry: Registry
    chaos: Chaos
    app: web.Application
    loop: asyncio.AbstractEventLoop

    def client(self) -> cb.CloudBuildClient:
        return cb.CloudBuildClient(
            transport="rest",
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.url),
        )

    def storage(self) -> storage.Client:
        return storage.Client(
            project="sandbox",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.url},
        )

    def set_chaos(self, error_rate: float = 0.0, codes: tuple[int, ...] = (503, 504),
                  latency_ms: int = 0) -> None:
        self.chaos.cloudbuild = ApiChaos(error_rate=error_rate, error_codes=codes,
                                         latency_ms=latency_ms)

    def reset(self) -> None:
        done = threading.Event()

        def run() -> None:
            self.app["reset"]()
            done.set()

        self.loop.call_soon_threadsafe(run)
        done.wait(5)
        self.registry.clear()
        self.chaos.reset()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def cloudbuild_sandbox() -> Iterator[CloudBuildSandbox]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    registry, chaos = Registry(), Chaos()
    loop = asyncio.new_event_loop()
    app = create_app(registry=registry, chaos=chaos, speed=SPEED, repo_root=REPO_ROOT, public_url=url)
    runner = web.AppRunner(app)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    thread = threading.Thread(target=loop.run_forever, name="cloudbuild-sandbox", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield CloudBuildSandbox(url, registry, chaos, app, loop)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture
def cloudbuild(cloudbuild_sandbox: CloudBuildSandbox) -> Iterator[CloudBuildSandbox]:
    """The session's sandbox, with chaos off and builds, logs and registry cleared after."""
    cloudbuild_sandbox.chaos.reset()
    yield cloudbuild_sandbox
    cloudbuild_sandbox.reset()


GOOD_SHA = "c0ffee" + "1" * 34
BAD_SHA = "bad" + "0" * 37


def wait_done(client: cb.CloudBuildClient, build_id: str, *, name: str | None = None,
              timeout: float = 30) -> cb.Build:
    """Poll get_build (as the dashboard does) until the build reaches a terminal status."""
    import time

    ongoing = (cb.Build.Status.QUEUED, cb.Build.Status.WORKING, cb.Build.Status.PENDING)
    deadline = time.monotonic() + timeout
    while True:
        build = client.get_build(name=name) if name else client.get_build(project_id="sandbox", id=build_id)
        if build.status not in ongoing:
            return build
        assert time.monotonic() < deadline, f"build {build_id} still {build.status.name}"
        time.sleep(0.1)


def wait_status(client: cb.CloudBuildClient, build_id: str, status: cb.Build.Status,
                timeout: float = 10) -> cb.Build:
    import time

    deadline = time.monotonic() + timeout
    while True:
        build = client.get_build(project_id="sandbox", id=build_id)
        if build.status == status:
            return build
        assert time.monotonic() < deadline, f"build {build_id} never {status.name}: {build.status.name}"
        time.sleep(0.05)


def sleep_build(seconds: int, *, tags: list[str] | None = None, timeout: int | None = None) -> cb.Build:
    """A build whose one step runs `sleep N` simulated seconds (N / SPEED real ones)."""
    build = cb.Build(
        steps=[cb.BuildStep(id="wait", name="ubuntu", args=["bash", "-c", f"sleep {seconds}"])],
        tags=tags or [],
    )
    if timeout:
        build.timeout = timedelta(seconds=timeout)
    return build


# op.result() polls from 1 s up to 20 s apart by default; a fast sandbox build needs less.
FAST_POLLING = DEFAULT_POLLING.with_delay(initial=0.1, maximum=0.2, multiplier=1.0)
