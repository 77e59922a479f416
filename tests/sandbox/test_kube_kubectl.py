"""kubectl (a client nobody here wrote) against the sandbox: get, set image, rollout status,
undo, pause/resume, history, restart and logs. Skipped only when kubectl is not installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from tests.sandbox.kube_helpers import NS, create_ready, push, unique

KUBECTL = shutil.which("kubectl")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")


def kubectl(sandbox, *args: str, ok: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    proc = subprocess.run([KUBECTL, "--kubeconfig", str(sandbox.kubeconfig), "--request-timeout=10s", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if ok:
        assert proc.returncode == 0, f"kubectl {' '.join(args)} failed: {proc.stderr}"
    return proc


def test_it_gets_deployments_replica_sets_and_pods_in_columns(sandbox) -> None:
    out = kubectl(sandbox, "get", "deploy,rs,pods", "-l", "app=license-api").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert any(line.split()[:4] == ["deployment.apps/license-api", "3/3", "3", "3"] for line in lines)
    assert any(line.startswith("replicaset.apps/license-api-") for line in lines)
    pods = [line.split() for line in lines if line.startswith("pod/license-api-")]
    assert len(pods) >= 3 and all(p[1:3] == ["1/1", "Running"] for p in pods[:3])
    wide = kubectl(sandbox, "get", "pods", "-l", "app=license-api", "-o", "wide").stdout
    assert "gke-sandbox-pool-1-" in wide and "10.8." in wide


def test_it_sets_an_image_and_waits_for_the_rollout_then_undoes_it(sandbox, kube_api) -> None:
    name = unique("kc")
    create_ready(kube_api, sandbox, name, replicas=2)
    image = push(sandbox, "4" * 40)
    out = kubectl(sandbox, "set", "image", f"deployment/{name}", f"app={image}").stdout
    assert out.strip() == f"deployment.apps/{name} image updated"
    status = kubectl(sandbox, "rollout", "status", f"deployment/{name}", "--timeout=60s").stdout
    assert status.strip().endswith(f'deployment "{name}" successfully rolled out')
    history = kubectl(sandbox, "rollout", "history", f"deployment/{name}").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    undo = kubectl(sandbox, "rollout", "undo", f"deployment/{name}").stdout
    assert undo.strip() == f"deployment.apps/{name} rolled back"
    kubectl(sandbox, "rollout", "status", f"deployment/{name}", "--timeout=60s")
    rev = kubectl(sandbox, "get", "deploy", name, "-o",
                  r"jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}").stdout
    assert rev == "3"
    current = kubectl(sandbox, "get", "deploy", name, "-o",
                      "jsonpath={.spec.template.spec.containers[0].image}").stdout
    assert current != image
    client.AppsV1Api(kube_api).delete_namespaced_deployment(name, NS)


def test_it_fails_rollout_status_when_the_progress_deadline_is_exceeded(sandbox, kube_api) -> None:
    name = unique("kcdl")
    create_ready(kube_api, sandbox, name, replicas=1, deadline=2)
    image = push(sandbox, "fa11" + "1" * 36)
    kubectl(sandbox, "set", "image", f"deployment/{name}", f"app={image}")
    proc = kubectl(sandbox, "rollout", "status", f"deployment/{name}", "--timeout=30s", ok=False)
    assert proc.returncode == 1
    assert f'deployment "{name}" exceeded its progress deadline' in proc.stderr
    assert "Waiting for deployment" in proc.stdout
    client.AppsV1Api(kube_api).delete_namespaced_deployment(name, NS)


def test_it_pauses_and_resumes_a_rollout(sandbox, kube_api) -> None:
    name = unique("kcp")
    create_ready(kube_api, sandbox, name, replicas=1)
    assert kubectl(sandbox, "rollout", "pause", f"deployment/{name}").stdout.strip() == \
        f"deployment.apps/{name} paused"
    again = kubectl(sandbox, "rollout", "pause", f"deployment/{name}", ok=False)
    assert again.returncode != 0 and "already paused" in again.stderr
    assert kubectl(sandbox, "get", "deploy", name, "-o", "jsonpath={.spec.paused}").stdout == "true"
    image = push(sandbox, "5" * 40)
    kubectl(sandbox, "set", "image", f"deployment/{name}", f"app={image}")
    assert len(kubectl(sandbox, "get", "rs", "-l", f"app={name}", "--no-headers").stdout.splitlines()) == 1
    assert kubectl(sandbox, "rollout", "resume", f"deployment/{name}").stdout.strip() == \
        f"deployment.apps/{name} resumed"
    assert kubectl(sandbox, "get", "deploy", name, "-o", "jsonpath={.spec.paused}").stdout == ""
    kubectl(sandbox, "rollout", "status", f"deployment/{name}", "--timeout=60s")
    assert len(kubectl(sandbox, "get", "rs", "-l", f"app={name}", "--no-headers").stdout.splitlines()) == 2
    client.AppsV1Api(kube_api).delete_namespaced_deployment(name, NS)


def test_it_restarts_a_deployment_into_a_new_replica_set(sandbox, kube_api) -> None:
    name = unique("kcr")
    create_ready(kube_api, sandbox, name, replicas=2)
    assert kubectl(sandbox, "rollout", "restart", f"deployment/{name}").stdout.strip() == \
        f"deployment.apps/{name} restarted"
    kubectl(sandbox, "rollout", "status", f"deployment/{name}", "--timeout=60s")
    rs = kubectl(sandbox, "get", "rs", "-l", f"app={name}", "--no-headers").stdout.splitlines()
    assert sorted(line.split()[1] for line in rs) == ["0", "2"]
    client.AppsV1Api(kube_api).delete_namespaced_deployment(name, NS)


def test_it_prints_container_logs(sandbox) -> None:
    out = kubectl(sandbox, "logs", "deployment/license-api", "--tail=50").stdout
    assert "starting license-api image=gcr.io/sandbox/license-api:latest" in out
    tail = kubectl(sandbox, "logs", "deployment/license-api", "--tail=1", "--timestamps").stdout
    assert len(tail.splitlines()) == 1 and tail[:4].isdigit()


def test_it_describes_a_deployment_with_conditions_and_events(sandbox) -> None:
    out = kubectl(sandbox, "describe", "deployment", "license-api").stdout
    assert "NewReplicaSetAvailable" in out and "MinimumReplicasAvailable" in out
    assert "ScalingReplicaSet" in out
    events = kubectl(sandbox, "get", "events", "--field-selector", "reason=ScalingReplicaSet").stdout
    assert "deployment/license-api" in events


def test_it_applies_the_repo_manifests_as_unchanged_and_validates_server_side(sandbox) -> None:
    out = kubectl(sandbox, "apply", "-f", "deploy/k8s/").stdout
    assert "deployment.apps/license-api unchanged" in out
    assert "service/license-api unchanged" in out


def test_it_decodes_the_protobuf_bodies_of_kubectl_create_generators(sandbox, kube_api) -> None:
    name = unique("gen")
    image = push(sandbox, "9" * 40)
    out = kubectl(sandbox, "create", "deployment", name, f"--image={image}", "--replicas=2",
                  "--port=8000").stdout
    assert out.strip() == f"deployment.apps/{name} created"
    kubectl(sandbox, "rollout", "status", f"deployment/{name}", "--timeout=60s")
    d = client.AppsV1Api(kube_api).read_namespaced_deployment(name, NS)
    assert d.spec.replicas == 2 and d.spec.selector.match_labels == {"app": name}
    container = d.spec.template.spec.containers[0]
    assert (container.image, container.ports[0].container_port) == (image, 8000)
    kubectl(sandbox, "create", "configmap", name, "--from-literal=a=1", "--from-literal=b=2")
    assert client.CoreV1Api(kube_api).read_namespaced_config_map(name, NS).data == {"a": "1", "b": "2"}
    kubectl(sandbox, "create", "secret", "generic", name, "--from-literal=k=v")
    assert client.CoreV1Api(kube_api).read_namespaced_secret(name, NS).data == {"k": "dg=="}
    kubectl(sandbox, "create", "namespace", name)
    assert client.CoreV1Api(kube_api).read_namespace(name).metadata.name == name
    client.AppsV1Api(kube_api).delete_namespaced_deployment(name, NS)
