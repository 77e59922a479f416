"""The Cloud Build sandbox for tests: the session's `python -m sandbox` when the `sandbox`
fixture (tests/plugins/sandbox.py) exists, else `create_app` served in-process.

Both are driven the same way, over real HTTP through the official clients: `url`, `client()`,
`storage()`, `set_chaos()`, `images()` (the shared registry), `request_count()`. Set
CLOUDBUILD_SANDBOX=inprocess to test this half alone. Tests do not reset between each other
(the shared sandbox serves other suites too): they tag their builds uniquely and filter by tag.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

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


def client_for(url: str) -> cb.CloudBuildClient:
    """The official client as the dashboard builds it for the sandbox."""
    return cb.CloudBuildClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=url),
    )


class CloudBuildSandbox:
    url: str

    def client(self) -> cb.CloudBuildClient:
        return client_for(self.url)

    def storage(self) -> storage.Client:
        return storage.Client(
            project="sandbox",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.url},
        )

    def set_chaos(self, error_rate: float = 0.0, codes: tuple[int, ...] = (503, 504),
                  latency_ms: int = 0) -> None:
        raise NotImplementedError

    def images(self) -> list[dict[str, Any]]:
        """The shared registry: [{repository, tag, digest, commit}]."""
        raise NotImplementedError

    def request_count(self) -> int:
        raise NotImplementedError

    def image(self, digest: str) -> dict[str, Any] | None:
        return next((i for i in self.images() if i["digest"] == digest), None)


class InProcess(CloudBuildSandbox):
    def __init__(self, url: str, registry: Registry, chaos: Chaos, app: web.Application) -> None:
        self.url, self.registry, self.chaos, self.app = url, registry, chaos, app

    def set_chaos(self, error_rate: float = 0.0, codes: tuple[int, ...] = (503, 504),
                  latency_ms: int = 0) -> None:
        self.chaos.cloudbuild = ApiChaos(error_rate=error_rate, error_codes=codes,
                                         latency_ms=latency_ms)

    def images(self) -> list[dict[str, Any]]:
        with self.registry._lock:  # what GET /sandbox/v1/images answers
            found = list(self.registry._by_digest.values())
        return [{"repository": i.repository, "tag": i.tag, "digest": i.digest, "commit": i.commit}
                for i in found]

    def request_count(self) -> int:
        return int(self.app["request_count"])


class ViaSandbox(CloudBuildSandbox):
    """The whole `python -m sandbox`, driven through its control API on the Kubernetes port."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.url = sandbox.cloudbuild_url

    def set_chaos(self, error_rate: float = 0.0, codes: tuple[int, ...] = (503, 504),
                  latency_ms: int = 0) -> None:
        self.sandbox.control("chaos", {"api": "cloudbuild", "error_rate": error_rate,
                                       "error_codes": list(codes), "latency_ms": latency_ms})

    def images(self) -> list[dict[str, Any]]:
        return list(self.sandbox.control("images"))

    def request_count(self) -> int:
        return int(self.sandbox.control("metrics")["requests"]["cloudbuild"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _in_process() -> Iterator[InProcess]:
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
    yield InProcess(url, registry, chaos, app)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture(scope="session")
def cloudbuild_sandbox(request: pytest.FixtureRequest) -> Iterator[CloudBuildSandbox]:
    if os.environ.get("CLOUDBUILD_SANDBOX") != "inprocess":
        try:
            sandbox = request.getfixturevalue("sandbox")
        except pytest.FixtureLookupError:
            sandbox = None
        if sandbox is not None:
            yield ViaSandbox(sandbox)
            return
    yield from _in_process()


@pytest.fixture
def cloudbuild(cloudbuild_sandbox: CloudBuildSandbox) -> Iterator[CloudBuildSandbox]:
    """The session's Cloud Build sandbox, with its chaos switched off before and after."""
    cloudbuild_sandbox.set_chaos()
    yield cloudbuild_sandbox
    cloudbuild_sandbox.set_chaos()


def unique(prefix: str) -> str:
    """A tag no other test (or earlier run against the same sandbox) has used."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"

GOOD_SHA = "c0ffee" + "1" * 34
BAD_SHA = "bad" + "0" * 37


def wait_done(client: cb.CloudBuildClient, build_id: str, *, name: str | None = None,
              timeout: float = 30) -> cb.Build:
    """Poll get_build (as the dashboard does) until the build reaches a terminal status."""
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
