"""A whole stack of its own for the fault drills: redis-server (TCP, a free port), the sandbox,
the ASGI web server, Celery worker(s) and beat, the watcher, and a SQLite database, all under
one temporary directory. Each process runs in its own session so a drill can SIGKILL it (and
its children) the way an OOM kill or a lost node would."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
_VENV = ROOT / ".venv" / "bin"
PY = str(_VENV / "python") if (_VENV / "python").exists() else sys.executable
ENDED = ("succeeded", "failed", "rolled_back", "cancelled", "superseded")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server() -> str:
    here = _VENV / "redis-server"
    return str(here) if here.exists() else (shutil.which("redis-server") or "redis-server")


class Proc:
    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.name, self.args, self.log, self.env = name, args, log, env
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("ab"),
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


class Stack:
    """Start with `start()`, always `stop()` (a context manager does both)."""

    def __init__(self, speed: float = 3, keep: bool = False, env: dict[str, str] | None = None
                 ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="drills-"))
        self.keep = keep
        self.speed = speed
        self.redis_port, self.kube_port = free_port(), free_port()
        self.cb_port, self.web_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.procs: dict[str, Proc] = {}
        self.token = ""
        self.env = {
            **os.environ,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "DATABASE_URL": f"sqlite:///{self.dir / 'db.sqlite3'}",
            "KUBECONFIG": str(self.dir / "kubeconfig"),
            "CLOUDBUILD_ENDPOINT": f"http://127.0.0.1:{self.cb_port}",
            "DJANGO_SECRET_KEY": "drills-" + uuid.uuid4().hex,
            "DASHBOARD_ADMIN_PASSWORD": "drills-admin-" + uuid.uuid4().hex[:8],
            "LIVE_LEASE_KEY": "live:watcher:leader",
            "PROMETHEUS_MULTIPROC_DIR": str(self.dir / "metrics"),
            **(env or {}),
        }
        self.env.pop("DASHBOARD_TEST_EMBEDDED_REDIS", None)

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- processes -----------------------------------------------------------------------
    def spawn(self, name: str, args: list[str]) -> Proc:
        old = self.procs.get(name)
        if old is not None:
            old.stop()
        proc = Proc(name, args, self.dir / f"{name}.log", self.env)
        self.procs[name] = proc
        return proc

    def start_redis(self) -> None:
        self.spawn("redis", [redis_server(), "--port", str(self.redis_port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(self.dir)])
        self._wait_port(self.redis_port, 20, "redis")

    def stop_redis(self) -> None:
        """Gone at once, keeping nothing (a failover to an empty replica, a pod restart)."""
        self.procs["redis"].kill()

    def start_worker(self, name: str = "worker") -> Proc:
        return self.spawn(name, [str(_VENV / "celery"), "-A", "config", "worker", "--loglevel",
                                 "INFO", "--concurrency", "2", "--hostname", f"{name}@%h"])

    def start_watcher(self) -> Proc:
        return self.spawn("watcher", [PY, "manage.py", "watch_clusters"])

    def start(self) -> None:
        self.start_redis()
        self.spawn("sandbox", [PY, "-m", "sandbox", "--kube-port", str(self.kube_port),
                               "--cloudbuild-port", str(self.cb_port), "--kubeconfig",
                               self.env["KUBECONFIG"], "--speed", str(self.speed)])
        self._wait_http(f"http://127.0.0.1:{self.kube_port}/version", 90, "sandbox")
        key = self.dir / "service-account.json"
        if key.exists():
            self.env["GOOGLE_APPLICATION_CREDENTIALS"] = str(key)
        for cmd in (["migrate", "-v", "0"], ["bootstrap_dev"]):
            subprocess.run([PY, "manage.py", *cmd], cwd=ROOT, env=self.env, check=True,
                           capture_output=True, timeout=180)
        out = subprocess.run([PY, "manage.py", "create_api_token", "drills", "--scopes", "admin",
                              "--replace"], cwd=ROOT, env=self.env, check=True,
                             capture_output=True, text=True, timeout=60).stdout
        self.token = out.strip().splitlines()[-1].split()[-1]
        self.spawn("web", [str(_VENV / "uvicorn"), "config.asgi:application", "--host",
                           "127.0.0.1", "--port", str(self.web_port), "--lifespan", "off",
                           "--ws", "websockets-sansio", "--no-access-log"])
        self.start_worker()
        self.spawn("beat", [str(_VENV / "celery"), "-A", "config", "beat", "--loglevel", "INFO",
                            "--schedule", str(self.dir / "beat-schedule")])
        self.start_watcher()
        self._wait_http(f"{self.base}/readyz", 120, "web")

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            try:
                proc.stop()
            except Exception:
                proc.kill()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def down(self) -> list[str]:
        return [n for n, p in self.procs.items() if not p.alive]

    def _wait_port(self, port: int, seconds: float, name: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{name} did not listen on {port}: {self.procs[name].tail()}")

    def _wait_http(self, url: str, seconds: float, name: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{name} not ready at {url}: {self.procs[name].tail()}")

    # -- the API ---------------------------------------------------------------------------
    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def deploy(self, commit: str | None = None, key: str | None = None) -> requests.Response:
        commit = commit or "c0ffee" + uuid.uuid4().hex[:34]
        return requests.post(f"{self.base}/api/v1/releases/",
                             json={"service": "license-api", "commit": commit},
                             headers={**self.headers, "Idempotency-Key": key or uuid.uuid4().hex},
                             timeout=30)

    def release(self, rid: int) -> dict[str, Any]:
        r = requests.get(f"{self.base}/api/v1/releases/{rid}/", headers=self.headers, timeout=10)
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def wait_state(self, rid: int, wanted: tuple[str, ...], seconds: float) -> str | None:
        deadline = time.monotonic() + seconds
        state = None
        while time.monotonic() < deadline:
            try:
                state = self.release(rid).get("state")
            except requests.RequestException:
                state = None
            if state in wanted:
                return state
            time.sleep(0.2)
        return state

    def build(self, build_id: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.cb_port}/v1/projects/sandbox/builds/{build_id}"
        data: dict[str, Any] = requests.get(url, timeout=10).json()
        return data

    def chaos(self, body: dict[str, Any]) -> None:
        token = (self.dir / "control-token")
        headers = {"X-Sandbox-Token": token.read_text().strip()} if token.exists() else {}
        requests.post(f"http://127.0.0.1:{self.kube_port}/sandbox/v1/chaos", json=body,
                      headers=headers, timeout=10).raise_for_status()
