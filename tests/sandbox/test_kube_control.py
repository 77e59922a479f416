"""The sandbox's control API (/sandbox/v1/): chaos, reset, clock, metrics, image pre-loading."""

from __future__ import annotations

import time

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.sandbox.kube_helpers import NS, condition, create_ready, push, unique, wait_for


@pytest.fixture
def no_chaos(sandbox):
    yield
    sandbox.control("chaos", {"api": "kube", "error_rate": 0, "latency_ms": 0})


def test_it_injects_errors_and_latency_into_the_kubernetes_api(sandbox, kube_api, no_chaos) -> None:
    core = client.CoreV1Api(kube_api)
    sandbox.control("chaos", {"api": "kube", "error_rate": 1.0, "error_codes": [503]})
    with pytest.raises(ApiException) as failed:
        core.list_namespaced_pod(NS)
    assert failed.value.status == 503
    settings = sandbox.control("chaos")
    assert settings["kube"] == {"error_rate": 1.0, "error_codes": [503], "latency_ms": 0}
    sandbox.control("chaos", {"api": "kube", "error_rate": 0, "latency_ms": 300})
    started = time.monotonic()
    core.list_namespaced_pod(NS)
    assert time.monotonic() - started >= 0.3


def test_it_resets_to_the_state_right_after_start(sandbox, kube_api) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    name = unique("gone")
    create_ready(kube_api, sandbox, name, replicas=1)
    apps.patch_namespaced_deployment("license-api", NS, {"spec": {"replicas": 4}})
    before = core.list_namespaced_pod(NS).metadata.resource_version
    sandbox.control("chaos", {"api": "kube", "latency_ms": 5})
    sandbox.reset()
    names = {d.metadata.name for d in apps.list_namespaced_deployment(NS).items}
    assert name not in names and "license-api" in names
    assert apps.read_namespaced_deployment("license-api", NS).spec.replicas == 3
    assert sandbox.control("chaos")["kube"]["latency_ms"] == 0
    after = core.list_namespaced_pod(NS).metadata.resource_version
    assert int(after) > int(before)  # versions keep rising across a reset
    with pytest.raises(ApiException) as gone:
        for _ in watch.Watch().stream(core.list_namespaced_pod, NS, resource_version=before,
                                      timeout_seconds=2):
            pass
    assert gone.value.status == 410
    secret = core.read_namespaced_secret("license-api-secrets", NS)
    assert set(secret.data) >= {"database-url", "redis-url", "django-secret-key"}


def test_it_times_out_a_rollout_when_the_clock_is_advanced(sandbox, kube_api) -> None:
    apps = client.AppsV1Api(kube_api)
    name = unique("clock")
    create_ready(kube_api, sandbox, name, replicas=1, deadline=600)
    image = push(sandbox, "fa11" + "2" * 36)
    apps.patch_namespaced_deployment(name, NS, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": image}]}}}})
    wait_for(lambda: len(apps.list_namespaced_replica_set(NS, label_selector=f"app={name}").items) == 2)
    time.sleep(0.3)
    assert condition(apps.read_namespaced_deployment(name, NS), "Progressing").reason != "ProgressDeadlineExceeded"
    sandbox.control("clock/advance", {"seconds": 700})
    d = wait_for(lambda: (lambda d: d if condition(d, "Progressing").reason == "ProgressDeadlineExceeded"
                          else None)(apps.read_namespaced_deployment(name, NS)), timeout=5)
    assert condition(d, "Progressing").status == "False"
    apps.delete_namespaced_deployment(name, NS)


def test_it_counts_open_watches_and_requests(sandbox, kube_api) -> None:
    metrics = sandbox.control("metrics")
    assert set(metrics) >= {"watches", "requests"}
    assert set(metrics["requests"]) == {"kube", "cloudbuild"}
    assert metrics["objects"]["deployments.apps"] >= 1


def test_it_recreates_pods_for_a_recreate_strategy_deployment(sandbox, kube_api) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    old = {p.metadata.name for p in core.list_namespaced_pod(NS, label_selector="component=beat").items}
    apps.patch_namespaced_deployment("dashboard-beat", NS, {"spec": {"template": {"metadata": {
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}})

    def replaced():
        d = apps.read_namespaced_deployment("dashboard-beat", NS)
        pods = {p.metadata.name for p in core.list_namespaced_pod(NS, label_selector="component=beat").items}
        return d if (d.status.updated_replicas == 1 and d.status.available_replicas == 1
                     and not pods & old) else None

    wait_for(replaced, timeout=20)
    events = core.list_namespaced_event(NS, field_selector="involvedObject.name=dashboard-beat,reason=ScalingReplicaSet").items
    downs = [e for e in events if "Scaled down" in e.message]
    ups = [e for e in events if "Scaled up" in e.message]
    assert downs and int(downs[-1].metadata.resource_version) < int(ups[-1].metadata.resource_version)
    sandbox.reset()


def test_it_advertises_a_reachable_host_not_the_listen_address():
    from sandbox.__main__ import parse_args

    assert parse_args([]).advertise_host == "127.0.0.1"
    assert parse_args(["--host", "0.0.0.0"]).advertise_host == "127.0.0.1"  # not routable
    assert parse_args(["--host", "0.0.0.0", "--advertise-host", "sandbox"]).advertise_host == (
        "sandbox")  # docker compose: the service name
