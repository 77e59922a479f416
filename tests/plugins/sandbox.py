"""pytest plugin: a real `python -m sandbox` (Kubernetes + Cloud Build) for tests.

Registered from tests/conftest.py (`pytest_plugins`). Fixtures:

``sandbox`` (session scope)
    Starts ``python -m sandbox`` once per test session as a subprocess on free ports, with
    ``--speed 20`` (override with env ``SANDBOX_SPEED``) and a temporary kubeconfig; waits for
    ``/version`` and for the license-api Deployment to have 3 ready replicas. Yields a
    :class:`Sandbox` with

    - ``kube_url`` (``http://127.0.0.1:PORT``), ``cloudbuild_url``, ``kubeconfig`` (a Path;
      context ``sandbox``, any bearer token is accepted), ``speed``;
    - ``control_token``: the token the sandbox wrote to ``control-token`` beside the
      kubeconfig; ``control`` sends it (header ``X-Sandbox-Token``) with every write;
    - ``control(path, json=None, method=None)``: call the control API under ``/sandbox/v1/``
      (``control("metrics")``, ``control("chaos", {"api": "kube", "error_rate": 0.2})``,
      ``control("chaos/drop-watches", {})``, ``control("chaos/expire", {})``,
      ``control("changes?since=0")``, ``control("clock/advance", {"seconds": 30})``,
      ``control("images", {"image": "gcr.io/sandbox/license-api:x", "commit": "dead..."})``);
      POSTs when ``json`` is given, returns the decoded JSON body;
    - ``get(path)``: GET a Kubernetes API path and decode the JSON (e.g.
      ``get("/apis/apps/v1/namespaces/default/deployments/license-api")``);
    - ``log_path``: the sandbox's stdout/stderr, for debugging a failing test;
    - ``reset()``: back to the state right after start (manifests re-applied, chaos cleared,
      registry re-preloaded, Cloud Build forgotten, open watches closed, older
      resourceVersions answer 410), then waits for 3 ready license-api pods again (~0.2 s:
      the sandbox restores a snapshot of its settled start state);
    - ``wait_ready(name="license-api", replicas=3, timeout=30)``.

    The sandbox is shared by the whole session: a test that changes cluster state should call
    ``sandbox.reset()`` first (or use the ``fresh_sandbox`` fixture).

``fresh_sandbox`` (function scope)
    The same object, reset before the test.

``kube_api`` (function scope)
    A ``kubernetes.client.ApiClient`` built with ``kubernetes.config.new_client_from_config``
    from the sandbox kubeconfig; closed after the test.
"""

from __future__ import annotations

import json as jsonlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.plugins.worker import ROOT, free_port


@dataclass
class Sandbox:
    kube_url: str
    cloudbuild_url: str
    kubeconfig: Path
    speed: float
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_path: Path | None = None

    @property
    def control_token(self) -> str:
        return (self.kubeconfig.parent / "control-token").read_text().strip()

    def _request(self, url: str, body: Any = None, method: str | None = None,
                 headers: dict[str, str] | None = None) -> Any:
        data = None if body is None else jsonlib.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"),
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return jsonlib.loads(raw) if raw else None

    def control(self, path: str, json: Any = None, method: str | None = None) -> Any:
        return self._request(f"{self.kube_url}/sandbox/v1/{path.lstrip('/')}", json, method,
                             {"X-Sandbox-Token": self.control_token})

    def get(self, path: str) -> Any:
        """GET a Kubernetes API path, e.g. `/apis/apps/v1/namespaces/default/deployments`
        (with the kubeconfig's token, which an --auth required sandbox asks for)."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        token = config["users"][0]["user"]["token"]
        return self._request(f"{self.kube_url}{path}", headers={"Authorization": f"Bearer {token}"})

    def wait_ready(self, name: str = "license-api", replicas: int = 3,
                   timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                d = self.get(f"/apis/apps/v1/namespaces/default/deployments/{name}")
                st = d.get("status") or {}
                last = st
                if (st.get("readyReplicas") == replicas and st.get("updatedReplicas") == replicas
                        and st.get("replicas") == replicas):
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"deployment {name} not {replicas} ready within {timeout}s: {last}")

    def reset(self) -> None:
        self.control("reset", {})
        self.wait_ready()


def start_sandbox(speed: float, *extra: str) -> Sandbox:
    """A new `python -m sandbox` on free ports (`extra`: more arguments, e.g. --auth
    required); the caller stops it with stop_sandbox."""
    kube_port, cb_port = free_port(), free_port()
    tmp = Path(tempfile.mkdtemp(prefix="sandbox-"))
    kubeconfig = tmp / "kubeconfig"
    log_path = tmp / "sandbox.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--kube-port", str(kube_port), "--cloudbuild-port",
         str(cb_port), "--kubeconfig", str(kubeconfig), "--speed", str(speed), *extra],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    sb = Sandbox(f"http://127.0.0.1:{kube_port}", f"http://127.0.0.1:{cb_port}", kubeconfig,
                 speed, proc, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox exited with {proc.returncode}: "
                               f"{log_path.read_text()[-2000:]}")
        try:
            sb.get("/version")
            if kubeconfig.exists() and (tmp / "control-token").exists():
                break
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    sb.wait_ready(timeout=60)
    return sb


def stop_sandbox(sb: Sandbox) -> None:
    if sb.process is not None and sb.process.poll() is None:
        sb.process.terminate()
        try:
            sb.process.wait(10)
        except subprocess.TimeoutExpired:
            sb.process.kill()
            sb.process.wait(5)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    sb = start_sandbox(float(os.environ.get("SANDBOX_SPEED", "20")))
    try:
        yield sb
    finally:
        stop_sandbox(sb)


@pytest.fixture
def fresh_sandbox(sandbox: Sandbox) -> Sandbox:
    sandbox.reset()
    return sandbox


@pytest.fixture
def kube_api(sandbox: Sandbox) -> Iterator[Any]:
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(sandbox.kubeconfig))
    try:
        yield client
    finally:
        client.close()
