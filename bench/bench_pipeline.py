"""Release pipeline latencies against the sandbox (issue 6 targets).

* success -> succeeded: from the moment the Deployment meets kubectl's success condition
  (seen by a 20 ms poll of the API here) to the release's `succeeded` transition
  (includes the health verification). Target <= 1 s.
* fatal -> rollback: from the first CrashLoopBackOff of a new pod (20 ms poll of pods) to
  the release's `rolling_back` transition. Target <= 5 s.
* orchestration overhead: release wall time (request to succeeded) minus the Cloud Build's
  own duration (create -> finish) minus the rollout (patch -> success condition).
  Target <= 1 s.

Everything runs in a child process with its own Redis, SQLite database, sandbox
(--speed 20) and Celery worker, so nothing is shared with a running `make run`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HEALTHY = int(os.environ.get("BENCH_PIPELINE_RELEASES", "5"))
CRASHING = int(os.environ.get("BENCH_PIPELINE_CRASHES", "3"))


def run() -> str:
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_pipeline", str(tmp)], cwd=ROOT,
            capture_output=True, text=True, timeout=1200,
        )
        if out.returncode != 0:
            raise RuntimeError(out.stdout[-3000:] + out.stderr[-3000:])
        return out.stdout.split("<<<RESULT>>>", 1)[1]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Any, seconds: float, what: str, every: float = 0.02) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")


def child(tmp: Path) -> str:
    from config.embedded_redis import command

    procs: list[subprocess.Popen[bytes]] = []
    sock = tmp / "redis.sock"
    procs.append(subprocess.Popen(command(sock), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL))
    kport, cport = _free_port(), _free_port()
    kubeconfig = tmp / "kubeconfig"
    env = {**os.environ, "REDIS_URL": f"unix://{sock}",
           "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
           "CLOUDBUILD_ENDPOINT": f"http://127.0.0.1:{cport}", "KUBECONFIG": str(kubeconfig),
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    os.environ.update(env)
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--kube-port", str(kport), "--cloudbuild-port",
         str(cport), "--kubeconfig", str(kubeconfig), "--speed", "20"],
        cwd=ROOT, stdout=(tmp / "sandbox.log").open("wb"), stderr=subprocess.STDOUT))
    try:
        _wait(lambda: sock.exists() and kubeconfig.exists(), 60, "redis and sandbox", 0.1)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "2",
             "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=(tmp / "worker.log").open("wb"),
            stderr=subprocess.STDOUT))
        from config.celery import app

        _wait(lambda: app.control.ping(timeout=0.5), 60, "worker", 0.1)
        return _measure(kubeconfig, f"http://127.0.0.1:{cport}")
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def _measure(kubeconfig: Path, cloudbuild: str) -> str:
    from dashboard import rollout, services, states
    from dashboard.adapters.cloudbuild import CloudBuildAdapter
    from dashboard.adapters.kube import KubeAdapter
    from dashboard.models import Cluster, Release, Service

    cluster = Cluster.objects.create(name="sandbox", kubeconfig_path=str(kubeconfig),
                                     context="sandbox")
    service = Service.objects.create(
        name="license-api", cluster=cluster, deployment="license-api", container="license-api",
        image_repository="gcr.io/sandbox/license-api", gcp_project="sandbox",
        build_trigger_id="license-api", health_service="license-api", health_port=80,
    )
    kube = KubeAdapter(cluster)
    cb = CloudBuildAdapter(endpoint=cloudbuild)
    _wait(lambda: rollout.progress(*_dep(kube)).done, 60, "sandbox ready", 0.2)

    def finished(release: Release) -> Release:
        def done() -> bool:
            release.refresh_from_db()
            return release.state in states.TERMINAL
        _wait(done, 180, f"release {release.pk}", 0.05)
        return release

    # One unmeasured release first: a fresh worker's first task pays for imports and clients.
    finished(services.request_release(service=service, commit="c0ffee" + "9" * 34, actor=None,
                                      via="cli"))
    to_succeeded, overheads, totals = [], [], []
    lags: list[tuple[float, ...]] = []
    for i in range(HEALTHY):
        commit = f"c0ffee{i:02d}" + "1" * 32
        release = services.request_release(service=service, commit=commit, actor=None, via="cli")
        _wait(lambda r=release: Release.objects.filter(pk=r.pk, patched_at__isnull=False)
              .exists(), 120, "patch")
        release.refresh_from_db()
        success_at = _wait(lambda image=release.image: _rolled_out(kube, image), 120, "rollout")
        release = finished(release)
        assert release.state == states.SUCCEEDED, release.failure_summary
        done_at = release.finished_at.timestamp()
        to_succeeded.append(done_at - success_at)
        info = cb.get_build("sandbox", release.build_id)
        build = (info.finish_time - info.create_time).total_seconds()
        rollout_s = success_at - release.patched_at.timestamp()
        total = done_at - release.created_at.timestamp()
        totals.append(total)
        overheads.append(total - build - rollout_s)
        deploying = release.events.get(kind="state", data__to=states.DEPLOYING).at.timestamp()
        lags.append((
            info.create_time.timestamp() - release.created_at.timestamp(),
            deploying - info.finish_time.timestamp(),
            release.patched_at.timestamp() - deploying,
            done_at - success_at,
            build,
            total - build - rollout_s,
        ))

    to_rollback = []
    for i in range(CRASHING):
        commit = f"dead{i:02d}" + "3" * 34
        release = services.request_release(service=service, commit=commit, actor=None, via="cli")
        _wait(lambda r=release: Release.objects.filter(pk=r.pk, patched_at__isnull=False)
              .exists(), 120, "patch")
        dep, _ = _dep(kube)
        crash_at = _wait(lambda d=dep: time.time() if _crashing(kube, d) else None, 60, "crash")
        release = finished(release)
        assert release.state == states.ROLLED_BACK, release.state
        ev = release.events.filter(kind="state", data__to=states.ROLLING_BACK).first()
        to_rollback.append(ev.at.timestamp() - crash_at)

    def row(name: str, values: list[float], target: str) -> str:
        return (f"| {name} | {statistics.median(values):.2f} | {max(values):.2f} | "
                f"{target} | {len(values)} |")

    return "\n".join([
        "## Release pipeline (bench/bench_pipeline.py)", "",
        "Sandbox at --speed 20, one Celery worker (concurrency 2), SQLite, private Redis. "
        "Seconds; each healthy release builds a new commit (after one unmeasured warm-up release).", "",
        "| measure | median | max | target | n |", "|---|---|---|---|---|",
        row("Deployment success condition -> release succeeded (incl. verify)", to_succeeded,
            "<= 1 s"),
        row("first CrashLoopBackOff -> failed + rollback started", to_rollback, "<= 5 s"),
        row("orchestration overhead per release (total - build - rollout)", overheads, "<= 1 s"),
        row("whole healthy release, request -> succeeded", totals, "-"),
        "",
        "Where the overhead goes, per healthy release (seconds): request -> build created, "
        "build finished -> deploying, deploying -> image patched, success condition -> "
        "succeeded.", "",
        "| release | -> build | build -> deploying | -> patched | success -> succeeded "
        "| build | overhead |",
        "|---|---|---|---|---|---|---|",
        *(f"| {i + 1} | " + " | ".join(f"{v:.2f}" for v in lag) + " |"
          for i, lag in enumerate(lags)),
        "",
    ]) + "\n"


def _dep(kube: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dep = kube.deployment("default", "license-api")
    return dep, kube.replicasets("default", dep)


def _rolled_out(kube: Any, image: str) -> float | None:
    from dashboard import rollout

    dep, rs = _dep(kube)
    current = dep["spec"]["template"]["spec"]["containers"][0]["image"]
    return time.time() if current == image and rollout.progress(dep, rs).done else None


def _crashing(kube: Any, dep: dict[str, Any]) -> bool:
    for pod in kube.pods("default", dep["spec"]["selector"]):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if ((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                return True
    return False


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    text = child(Path(sys.argv[1]))
    print("<<<RESULT>>>" + text)
