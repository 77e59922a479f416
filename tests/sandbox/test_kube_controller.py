"""Deployment-controller details: minReadySeconds, revision history cleanup, proportional
scaling in the middle of a rollout, and server-side apply."""

from __future__ import annotations

import time

from kubernetes import client

from tests.sandbox.kube_helpers import (
    NS,
    create_ready,
    deployment_body,
    push,
    ready,
    unique,
    wait_for,
)


def _rs(apps: client.AppsV1Api, name: str) -> list[client.V1ReplicaSet]:
    return apps.list_namespaced_replica_set(NS, label_selector=f"app={name}").items


def _set_image(apps: client.AppsV1Api, name: str, image: str) -> None:
    apps.patch_namespaced_deployment(name, NS, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": image}]}}}})


def test_it_counts_a_ready_pod_available_only_after_min_ready_seconds(sandbox, kube_api) -> None:
    apps = client.AppsV1Api(kube_api)
    name = unique("minready")
    image = push(sandbox, "6" * 40)
    apps.create_namespaced_deployment(NS, deployment_body(name, image, replicas=1, min_ready=2))
    rs = wait_for(lambda: next((r for r in _rs(apps, name) if r.status.ready_replicas == 1), None))
    ready_at = time.monotonic()
    assert not rs.status.available_replicas
    assert rs.spec.min_ready_seconds == 2
    wait_for(lambda: apps.read_namespaced_deployment(name, NS).status.available_replicas == 1, timeout=10)
    assert time.monotonic() - ready_at >= 1.0
    apps.delete_namespaced_deployment(name, NS)


def test_it_keeps_only_revision_history_limit_old_replica_sets(sandbox, kube_api) -> None:
    apps = client.AppsV1Api(kube_api)
    name = unique("history")
    create_ready(kube_api, sandbox, name, replicas=1)
    apps.patch_namespaced_deployment(name, NS, {"spec": {"revisionHistoryLimit": 1}})
    for commit in ("7" * 40, "8" * 40):
        _set_image(apps, name, push(sandbox, commit))
        wait_for(lambda: ready(apps, name, 1) and all(
            (r.spec.replicas == 0) == (r.metadata.annotations["deployment.kubernetes.io/revision"] != str(
                max(int(x.metadata.annotations["deployment.kubernetes.io/revision"]) for x in _rs(apps, name))))
            for r in _rs(apps, name)))
    revisions = wait_for(lambda: (lambda rs: rs if len(rs) == 2 else None)(
        sorted(r.metadata.annotations["deployment.kubernetes.io/revision"] for r in _rs(apps, name))))
    assert revisions == ["2", "3"]
    apps.delete_namespaced_deployment(name, NS)


def test_it_scales_proportionally_when_resized_mid_rollout(sandbox, kube_api) -> None:
    apps = client.AppsV1Api(kube_api)
    name = unique("prop")
    create_ready(kube_api, sandbox, name, replicas=10, max_surge=3, max_unavailable=2)
    _set_image(apps, name, push(sandbox, "fa11" + "3" * 36))

    def sizes() -> dict[str, int]:
        return {r.metadata.annotations["deployment.kubernetes.io/revision"]: r.spec.replicas
                for r in _rs(apps, name)}

    wait_for(lambda: sizes() == {"1": 8, "2": 5}, what="stuck rollout at old 8 / new 5")
    time.sleep(0.3)
    assert sizes() == {"1": 8, "2": 5}
    # The Deployments docs' example: 10 -> 15 with maxSurge 3 spreads 5 extra as +3 / +2.
    apps.patch_namespaced_deployment_scale(name, NS, {"spec": {"replicas": 15}})
    wait_for(lambda: sizes() == {"1": 11, "2": 7}, what="proportional 11 / 7")
    d = apps.read_namespaced_deployment(name, NS)
    rs = {r.metadata.annotations["deployment.kubernetes.io/revision"]: r for r in _rs(apps, name)}
    assert rs["1"].metadata.annotations["deployment.kubernetes.io/max-replicas"] == "18"
    assert rs["1"].metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "15"
    assert d.spec.replicas == 15
    wait_for(lambda: apps.read_namespaced_deployment(name, NS).status.available_replicas == 11)
    apps.delete_namespaced_deployment(name, NS)


def test_it_accepts_server_side_apply_patches(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    name = unique("ssa")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}}
    created = core.patch_namespaced_config_map(name, NS, body, field_manager="test",
                                               _content_type="application/apply-patch+yaml")
    assert created.data == {"a": "1"}
    body["data"] = {"b": "2"}
    merged = core.patch_namespaced_config_map(name, NS, body, field_manager="test",
                                              _content_type="application/apply-patch+yaml")
    assert merged.data == {"a": "1", "b": "2"}  # an approximation: no managed-fields pruning
    core.delete_namespaced_config_map(name, NS)


def test_it_deletes_replica_sets_and_pods_with_their_deployment(sandbox, kube_api) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    name = unique("cascade")
    create_ready(kube_api, sandbox, name, replicas=2)
    apps.delete_namespaced_deployment(name, NS)
    wait_for(lambda: not _rs(apps, name), what="replica sets collected")
    wait_for(lambda: not core.list_namespaced_pod(NS, label_selector=f"app={name}").items,
             what="pods collected")
