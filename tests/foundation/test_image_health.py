"""The image's per-role HEALTHCHECK (deploy/healthcheck.py) and what the runtime image
installs: pyproject's runtime dependencies pinned by the lock, never the dev extra."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from config import heartbeat

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "deploy" / "healthcheck.py")
assert spec and spec.loader
healthcheck = importlib.util.module_from_spec(spec)
spec.loader.exec_module(healthcheck)


@pytest.mark.parametrize(("argv", "env", "role"), [
    (["/opt/venv/bin/python", "/opt/venv/bin/uvicorn", "config.asgi:application"], {}, "web"),
    (["uvicorn", "config.asgi:application"], {"APP_ROLE": "licenseapi"}, "licenseapi"),
    (["/opt/venv/bin/python", "/opt/venv/bin/celery", "-A", "config", "worker"], {}, "worker"),
    (["/opt/venv/bin/python", "/opt/venv/bin/celery", "-A", "config", "beat"], {}, "beat"),
    (["python", "manage.py", "watch_clusters"], {}, "watcher"),
    (["python", "-m", "sandbox", "--host", "0.0.0.0"], {}, "other"),
])
def test_it_tells_the_role_from_pid_1s_command_line(argv, env, role) -> None:
    assert healthcheck.role_of(argv, env) == role


def test_a_heartbeat_goes_stale_when_its_loop_stops(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HEARTBEAT_DIR", str(tmp_path))
    monkeypatch.setenv("HEARTBEAT_MAX_AGE", "5")
    assert not healthcheck.heartbeat_ok("beat")  # never beaten: not alive yet
    heartbeat.beat("beat")
    assert healthcheck.heartbeat_ok("beat")
    assert heartbeat.age("beat") is not None and heartbeat.age("beat") < 5
    old = time.time() - 10
    os.utime(tmp_path / "heartbeat-beat", (old, old))
    assert not healthcheck.heartbeat_ok("beat")


def test_beat_marks_itself_alive_on_every_tick(tmp_path) -> None:
    env = {**os.environ, "HEARTBEAT_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "beat", "--schedule",
                             str(tmp_path / "schedule"), "--loglevel", "WARNING"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (tmp_path / "heartbeat-beat").exists():
            time.sleep(0.2)
        assert (tmp_path / "heartbeat-beat").exists(), "beat never touched its heartbeat"
    finally:
        proc.terminate()
        proc.wait(10)


def runtime_closure() -> set[str]:
    """Every distribution pyproject's runtime dependencies pull in (from this venv)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        for raw in dist.requires or []:
            sub = Requirement(raw)
            extras = req.extras or {""}
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                todo.append(sub)
    return seen


def test_the_runtime_image_installs_no_test_only_packages() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.lock" not in text
    assert "-c requirements.lock" in text and "['project']['dependencies']" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dev = {re.sub(r"[-_.]+", "-", Requirement(r).name).lower()
           for r in project["optional-dependencies"]["dev"]}
    dev.discard("websockets")  # the tests' WebSocket client, and uvicorn[standard]'s too
    closure = runtime_closure()
    assert {"django", "google-cloud-container", "google-cloud-artifact-registry"} <= closure
    assert not closure & (dev | {"pytest", "mypy", "playwright", "hypothesis"}), closure & dev


@pytest.mark.django_db(transaction=True)
def test_the_worker_check_pings_its_own_node(tmp_path, monkeypatch) -> None:
    """What the HEALTHCHECK runs in a worker container: `celery inspect ping` of
    celery@<hostname>, the entrypoint's default node name; another node's answer is no proof."""
    from tests.plugins.worker import start_celery_worker

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert not healthcheck.worker_ok()  # nobody answers for this host yet
    other = start_celery_worker(tmp_path, "other")
    try:
        assert not healthcheck.worker_ok()
    finally:
        other.kill()
    own = start_celery_worker(tmp_path, "celery")  # node celery@<this host>
    try:
        assert healthcheck.worker_ok()
    finally:
        own.kill()
