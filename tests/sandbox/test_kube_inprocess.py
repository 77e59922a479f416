"""The controllers in-process with an injected manual clock: deterministic, no HTTP, no sleeps.

The same Cluster the server runs, driven pass by pass; time only moves when the test moves it
(to the next timer the controllers asked for), so rollout steps can be checked exactly."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from sandbox.chaos import Chaos
from sandbox.kube.clock import Clock
from sandbox.kube.cluster import Cluster
from sandbox.kube.resources import DEPLOYMENTS, PODS, REPLICASETS
from sandbox.registry import Registry
from tests.sandbox.kube_helpers import deployment_body

START = 1_800_000_000.0


class ManualClock(Clock):
    def __init__(self, speed: float = 1.0) -> None:
        super().__init__(speed)
        self.t = START

    def now(self) -> float:
        return self.t


def make_cluster() -> tuple[Cluster, ManualClock]:
    clock = ManualClock()
    registry = Registry()
    registry.push("gcr.io/sandbox/app", "v1", "0" * 40)
    registry.push("gcr.io/sandbox/app", "v2", "1" * 40)
    registry.push("gcr.io/sandbox/app", "never", "fa11" + "0" * 36)
    cluster = Cluster(registry=registry, chaos=Chaos(), clock=clock, manifests=None)
    cluster.bootstrap()
    return cluster, clock


def run_until(cluster: Cluster, clock: ManualClock, done: Callable[[], bool],
              observe: Callable[[], None] = lambda: None, limit: int = 2000) -> None:
    for _ in range(limit):
        wake = cluster.run_passes()
        observe()
        if done():
            return
        assert wake is not None, "nothing left to happen but the condition does not hold"
        clock.t = max(clock.t, wake)
    raise AssertionError("did not converge")


def deployment(cluster: Cluster, name: str) -> dict[str, Any]:
    d = cluster.store.get(DEPLOYMENTS, "default", name)
    assert d is not None
    return d


def complete(cluster: Cluster, name: str) -> bool:
    d = deployment(cluster, name)
    st, n = d.get("status") or {}, d["spec"]["replicas"]
    return (st.get("observedGeneration") == d["metadata"]["generation"]
            and st.get("updatedReplicas") == st.get("availableReplicas") == st.get("replicas") == n)


def test_it_steps_a_rolling_update_exactly_one_surge_pod_at_a_time() -> None:
    cluster, clock = make_cluster()
    cluster.api.create(DEPLOYMENTS, "default", deployment_body("web", "gcr.io/sandbox/app:v1"))
    run_until(cluster, clock, lambda: complete(cluster, "web"))
    cluster.api.patch(DEPLOYMENTS, "default", "web", "application/strategic-merge-patch+json",
                      {"spec": {"template": {"spec": {"containers": [
                          {"name": "app", "image": "gcr.io/sandbox/app:v2"}]}}}})
    sizes: list[tuple[int, int]] = []
    lowest = [99]

    def on_change(change: Any) -> None:  # every committed write, not just settled states
        if change.key == REPLICASETS.key:
            by_rev = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]:
                      rs["spec"]["replicas"] for rs in cluster.store.list(REPLICASETS, "default")}
            step = (by_rev.get("1", 0), by_rev.get("2", 0))
            if not sizes or sizes[-1] != step:
                sizes.append(step)
        if change.key == DEPLOYMENTS.key and change.new["metadata"]["name"] == "web":
            lowest[0] = min(lowest[0], (change.new.get("status") or {}).get("availableReplicas", 0))

    cluster.store.listeners.append(on_change)
    run_until(cluster, clock, lambda: complete(cluster, "web")
              and len(cluster.store.list(PODS, "default")) == 3)
    assert sizes == [(3, 1), (2, 1), (2, 2), (1, 2), (1, 3), (0, 3)]
    assert lowest[0] >= 3
    conds = {c["type"]: c["reason"] for c in deployment(cluster, "web")["status"]["conditions"]}
    assert conds == {"Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}


def test_it_exceeds_the_progress_deadline_at_exactly_the_deadline() -> None:
    cluster, clock = make_cluster()
    body = deployment_body("stuck", "gcr.io/sandbox/app:v1", replicas=2, deadline=600)
    cluster.api.create(DEPLOYMENTS, "default", body)
    run_until(cluster, clock, lambda: complete(cluster, "stuck"))
    cluster.api.patch(DEPLOYMENTS, "default", "stuck", "application/merge-patch+json",
                      {"spec": {"template": {"metadata": {"labels": {"app": "stuck", "v": "2"}},
                                             "spec": {"containers": [
                                                 {"name": "app", "image": "gcr.io/sandbox/app:never",
                                                  "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}]}}}})
    started = clock.t

    def timed_out() -> bool:
        cond = next(c for c in deployment(cluster, "stuck")["status"]["conditions"]
                    if c["type"] == "Progressing")
        return cond["reason"] == "ProgressDeadlineExceeded"

    run_until(cluster, clock, timed_out)
    assert 600 <= clock.t - started <= 603
    assert deployment(cluster, "stuck")["status"]["availableReplicas"] == 2


def test_it_backs_off_a_crash_loop_10_20_40_seconds() -> None:
    cluster, clock = make_cluster()
    cluster.registry.push("gcr.io/sandbox/app", "dead", "dead" + "0" * 36)
    cluster.api.create(DEPLOYMENTS, "default",
                       deployment_body("crash", "gcr.io/sandbox/app:dead", replicas=1))
    crashes: list[float] = []

    def observe() -> None:
        pods = cluster.store.list(PODS, "default")
        cs = (pods[0].get("status") or {}).get("containerStatuses") if pods else None
        if cs and cs[0]["restartCount"] > len(crashes):
            crashes.append(clock.t)

    run_until(cluster, clock, lambda: len(crashes) >= 4, observe)
    gaps = [b - a for a, b in itertools.pairwise(crashes)]
    # each gap is the back-off plus the simulated start (0.3 s) and 2 s of running
    assert [round(g - 2.3) for g in gaps] == [10, 20, 40]


def test_it_preloads_manifest_images_and_a_preload_file(tmp_path) -> None:
    from pathlib import Path

    preload = tmp_path / "images.txt"
    preload.write_text("# image [commit]\ngcr.io/sandbox/license-api:abc dead1234\n"
                       "gcr.io/sandbox/other:1\n")
    root = Path(__file__).resolve().parents[2]
    registry = Registry()
    cluster = Cluster(registry=registry, chaos=Chaos(), clock=ManualClock(),
                      manifests=root / "deploy" / "k8s", preload=preload)
    cluster.bootstrap()
    assert registry.resolve("gcr.io/sandbox/license-api:latest") is not None
    assert registry.resolve("us-docker.pkg.dev/sandbox/apps/deploy-dashboard:latest") is not None
    image = registry.resolve("gcr.io/sandbox/license-api:abc")
    assert image is not None and image.commit == "dead1234"
    assert registry.resolve(f"gcr.io/sandbox/license-api@{image.digest}") == image
    assert registry.resolve("gcr.io/sandbox/other:1") is not None
    assert cluster.store.get(DEPLOYMENTS, "default", "license-api") is not None
