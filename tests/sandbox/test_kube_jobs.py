"""batch/v1 Jobs in the sandbox, through the official client and the real kubectl: a Job runs
one pod to completion, finishes with the conditions kube-controller-manager writes, and a
`dbfa11` image fails its migration with exit code 1."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.sandbox.kube_helpers import NS, push, unique, wait_for

KUBECTL = shutil.which("kubectl")
ROOT = Path(__file__).resolve().parents[2]
MIGRATE = ["python", "manage.py", "migrate", "--noinput"]


def job_body(name: str, image: str, *, command: list[str] = MIGRATE, backoff: int = 0,
             deadline: int | None = 60, ttl: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "backoffLimit": backoff,
        # Its own app label: this session's sandbox is shared, and other tests list the
        # Deployment's pods by app=license-api.
        "template": {"metadata": {"labels": {"app": "license-api-migrate"}}, "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "app", "image": image, "command": command,
                            "env": [{"name": "APP_ROLE", "value": "licenseapi"}]}]}},
    }
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}


def conditions(job: Any) -> dict[str, str]:
    return {c.type: c.status for c in ((job.status and job.status.conditions) or [])}


def finished(batch: client.BatchV1Api, name: str) -> Any:
    job = batch.read_namespaced_job(name, NS)
    cond = conditions(job)
    return job if cond.get("Complete") == "True" or cond.get("Failed") == "True" else None


def job_pods(core: client.CoreV1Api, job: Any) -> list[Any]:
    sel = ",".join(f"{k}={v}" for k, v in job.spec.selector.match_labels.items())
    return core.list_namespaced_pod(NS, label_selector=sel).items


def test_it_runs_a_job_pod_to_completion_and_prints_the_migrations(sandbox, kube_api) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    name = unique("migrate")
    batch.create_namespaced_job(NS, job_body(name, push(sandbox, "c0ffee" + "0" * 34)))
    job = wait_for(lambda: finished(batch, name), what="the job to finish")
    assert conditions(job) == {"SuccessCriteriaMet": "True", "Complete": "True"}
    assert job.status.succeeded == 1 and not job.status.failed and job.status.completion_time
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid":
                                              job.metadata.uid}
    [pod] = job_pods(core, job)
    assert pod.status.phase == "Succeeded"
    assert pod.metadata.owner_references[0].kind == "Job"
    assert pod.metadata.labels["job-name"] == name and pod.metadata.labels["app"] == "license-api-migrate"
    term = pod.status.container_statuses[0].state.terminated
    assert (term.exit_code, term.reason) == (0, "Completed")
    log = core.read_namespaced_pod_log(pod.metadata.name, NS)
    assert "Running migrations:" in log and "... OK" in log and "Traceback" not in log


def test_it_fails_a_dbfa11_migration_with_exit_code_1_and_no_retry(sandbox, kube_api) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    name = unique("migrate")
    batch.create_namespaced_job(NS, job_body(name, push(sandbox, "dbfa11" + "0" * 34)))
    job = wait_for(lambda: finished(batch, name), what="the job to fail")
    assert conditions(job) == {"FailureTarget": "True", "Failed": "True"}
    failed = next(c for c in job.status.conditions if c.type == "Failed")
    assert failed.reason == "BackoffLimitExceeded"
    assert job.status.failed == 1 and not job.status.succeeded
    [pod] = job_pods(core, job)  # backoffLimit 0: never a second pod
    assert pod.status.phase == "Failed"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 1
    log = core.read_namespaced_pod_log(pod.metadata.name, NS)
    assert "IntegrityError" in log and "contains null values" in log


def test_it_fails_a_job_past_its_active_deadline_and_removes_its_pod(sandbox, kube_api) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    name = unique("stuck")
    # An image nobody built: the pod never starts, so only the deadline can end the Job.
    batch.create_namespaced_job(NS, job_body(name, "gcr.io/sandbox/nowhere:1", deadline=2))
    job = wait_for(lambda: finished(batch, name), timeout=15, what="the deadline")
    failed = next(c for c in job.status.conditions if c.type == "Failed")
    assert failed.reason == "DeadlineExceeded"
    wait_for(lambda: not job_pods(core, job), what="the pod deleted")


def test_it_deletes_a_finished_job_after_its_ttl(sandbox, kube_api) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    name = unique("ttl")
    batch.create_namespaced_job(NS, job_body(name, push(sandbox, "1" * 40), ttl=1))
    job = wait_for(lambda: finished(batch, name), what="the job to finish")
    wait_for(lambda: not batch.list_namespaced_job(
        NS, field_selector=f"metadata.name={name}").items, timeout=10, what="TTL clean-up")
    wait_for(lambda: not job_pods(core, job), what="its pod collected")


def test_it_refuses_a_job_whose_pods_would_restart_forever(sandbox, kube_api) -> None:
    body = job_body(unique("bad"), "gcr.io/sandbox/license-api:any")
    body["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    with pytest.raises(client.ApiException) as err:
        client.BatchV1Api(kube_api).create_namespaced_job(NS, body)
    assert err.value.status == 422 and "restartPolicy" in err.value.body


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")
def test_kubectl_gets_waits_for_and_reads_the_logs_of_a_job(sandbox, kube_api) -> None:
    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, "--kubeconfig", str(sandbox.kubeconfig),
                               "--request-timeout=10s", *args],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)

    name = unique("kc-migrate")
    client.BatchV1Api(kube_api).create_namespaced_job(
        NS, job_body(name, push(sandbox, "c0ffee" + "1" * 34)))
    waited = kubectl("wait", "--for=condition=complete", f"job/{name}", "--timeout=30s")
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.strip() == f"job.batch/{name} condition met"
    got = kubectl("get", "jobs", name)
    assert got.returncode == 0, got.stderr
    header, row = got.stdout.splitlines()[:2]
    assert header.split()[:3] == ["NAME", "STATUS", "COMPLETIONS"]
    assert row.split()[:3] == [name, "Complete", "1/1"]
    logs = kubectl("logs", f"job/{name}")
    assert logs.returncode == 0, logs.stderr
    assert "Running migrations:" in logs.stdout and "... OK" in logs.stdout


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")
def test_managed_fields_name_the_manager_of_a_kubectl_set_image(sandbox, kube_api) -> None:
    from tests.sandbox.kube_helpers import create_ready

    name = unique("mf")
    create_ready(kube_api, sandbox, name, replicas=1)
    image = push(sandbox, "2" * 40)
    out = subprocess.run([KUBECTL, "--kubeconfig", str(sandbox.kubeconfig), "set", "image",
                          f"deployment/{name}", f"app={image}"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    apps = client.AppsV1Api(kube_api)
    apps.patch_namespaced_deployment_scale(name, NS, {"spec": {"replicas": 2}})
    dep = apps.read_namespaced_deployment(name, NS)
    by_manager = {e.manager: e for e in dep.metadata.managed_fields}
    setter = by_manager["kubectl-set"]
    assert setter.operation == "Update"
    assert setter.fields_v1 == {"f:spec": {"f:template": {"f:spec": {"f:containers": {
        'k:{"name":"app"}': {"f:image": {}}}}}}}
    apps.delete_namespaced_deployment(name, NS)
