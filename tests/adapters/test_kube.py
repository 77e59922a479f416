"""KubeAdapter (+ the pure rollout judgement) against the sandbox's Kubernetes API."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from dashboard.adapters.errors import AdapterError
from dashboard.adapters.kube import CHANGE_CAUSE, KubeAdapter
from dashboard.rollout import Progress, progress
from dashboard.rollout.failfast import fatal_reasons
from dashboard.rollout.summary import build_summary, log_target

from .conftest import REPO, commit

pytestmark = pytest.mark.timeout(120)
NS, NAME, CONTAINER = "default", "license-api", "license-api"
T = TypeVar("T")


def wait_until(fn: Callable[[], T], timeout: float = 30.0, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def status(kube: KubeAdapter) -> Progress:
    dep = kube.deployment(NS, NAME)
    return progress(dep, kube.replicasets(NS, dep))


def rolled_out(kube: KubeAdapter, timeout: float = 40.0) -> Progress:
    p = wait_until(lambda: (lambda s: s if s.done else None)(status(kube)), timeout)
    assert p is not None, status(kube).message
    return p


def image_of(sandbox: Any, prefix: str = "") -> str:
    """Push an image built from a fresh commit into the sandbox registry; its digest ref."""
    sha = commit(prefix)
    pushed = sandbox.control("images", {"image": f"{REPO}:{sha}", "commit": sha})
    return f"{REPO}@{pushed['digest']}"


def test_it_sets_the_image_and_follows_the_rollout_to_done(fresh_kube, sandbox):
    before = fresh_kube.deployment(NS, NAME)
    image = image_of(sandbox)
    generation = fresh_kube.set_image(NS, NAME, CONTAINER, image, change_cause="release 7 by ada: abc123")
    assert generation == before["metadata"]["generation"] + 1
    p = rolled_out(fresh_kube)
    assert (p.desired, p.updated, p.available, p.revision) == (3, 3, 3, 2)
    dep = fresh_kube.deployment(NS, NAME)
    assert dep["metadata"]["annotations"][CHANGE_CAUSE] == "release 7 by ada: abc123"
    [container] = dep["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image
    assert container["readinessProbe"]  # merged by name: the probes and ports stayed
    pods = fresh_kube.pods(NS, {"app": "license-api", "pod-template-hash": p.pod_template_hash})
    assert len(pods) == 3


def test_it_refuses_a_container_the_deployment_does_not_have(kube):
    with pytest.raises(AdapterError) as err:
        kube.set_image(NS, NAME, "sidecar", f"{REPO}:x")
    assert not err.value.retryable and "sidecar" in str(err.value)


def test_it_undoes_to_the_previous_revision_like_kubectl(fresh_kube, sandbox):
    original = fresh_kube.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"][0]["image"]
    with pytest.raises(AdapterError, match="no rollout history"):
        fresh_kube.undo(NS, NAME)
    fresh_kube.set_image(NS, NAME, CONTAINER, image_of(sandbox), "release 1")
    rolled_out(fresh_kube)
    result = fresh_kube.undo(NS, NAME, change_cause="rollback of release 1")
    assert (result.to_revision, result.skipped, result.image) == (1, False, original)
    p = rolled_out(fresh_kube)
    dep = fresh_kube.deployment(NS, NAME)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == original
    assert p.revision == 3  # the old ReplicaSet is reused with a new revision, as in GKE
    assert dep["metadata"]["annotations"][CHANGE_CAUSE] == "rollback of release 1"
    assert "pod-template-hash" not in dep["spec"]["template"]["metadata"]["labels"]
    assert fresh_kube.undo(NS, NAME, to_revision=3).skipped
    history = fresh_kube.history(NS, NAME)
    assert [(h["revision"], h["change_cause"]) for h in history] == [(2, "release 1"), (3, "rollback of release 1")]
    assert history[-1]["image"] == original and history[-1]["replicas"] == 3


def test_it_undoes_to_a_given_revision_and_refuses_an_unknown_one(fresh_kube, sandbox):
    second, third = image_of(sandbox), image_of(sandbox)
    fresh_kube.set_image(NS, NAME, CONTAINER, second)
    rolled_out(fresh_kube)
    fresh_kube.set_image(NS, NAME, CONTAINER, third)
    rolled_out(fresh_kube)
    with pytest.raises(AdapterError, match="revision 9") as err:
        fresh_kube.undo(NS, NAME, to_revision=9)
    assert not err.value.retryable
    assert fresh_kube.undo(NS, NAME, to_revision=2).image == second
    rolled_out(fresh_kube)
    assert fresh_kube.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"][0]["image"] == second


def test_it_pauses_and_resumes_a_rollout(fresh_kube, sandbox):
    fresh_kube.pause(NS, NAME)
    fresh_kube.pause(NS, NAME)  # idempotent: a retried task must not fail
    assert fresh_kube.deployment(NS, NAME)["spec"]["paused"] is True
    fresh_kube.set_image(NS, NAME, CONTAINER, image_of(sandbox))
    time.sleep(1.0)
    p = status(fresh_kube)
    assert p.paused and not p.done and p.updated == 0  # paused: no new ReplicaSet scaled up
    with pytest.raises(AdapterError, match="paused"):
        fresh_kube.undo(NS, NAME)
    fresh_kube.resume(NS, NAME)
    assert "paused" not in fresh_kube.deployment(NS, NAME)["spec"]
    assert rolled_out(fresh_kube).revision == 2


def test_it_reads_health_through_the_service_proxy(kube):
    code, body = kube.proxy_get(NS, "license-api", 80, "/health/ready")
    assert code == 200 and "ready" in body
    code, _ = kube.proxy_get(NS, "no-such-service", 80, "/health/ready")
    assert code in (404, 503)  # answered, not raised


def test_it_maps_kube_errors_to_retryable_or_not(kube, chaos):
    with pytest.raises(AdapterError) as missing:
        kube.deployment(NS, "no-such-deployment")
    assert not missing.value.retryable and missing.value.status == 404
    assert 'deployments.apps "no-such-deployment" not found' in str(missing.value)
    chaos("kube", error_rate=1.0, error_codes=[500, 503])
    with pytest.raises(AdapterError) as flaky:
        kube.deployment(NS, NAME)
    assert flaky.value.retryable and flaky.value.status in (500, 503)
    assert "after 3 attempts" in str(flaky.value)  # fast 5xx answers are retried twice first
    with pytest.raises(AdapterError) as flaky_patch:
        kube.pause(NS, NAME)
    assert flaky_patch.value.retryable


def test_it_times_out_a_slow_api_server_as_retryable(cluster, chaos):
    impatient = KubeAdapter(cluster, timeout=(1, 0.3))
    chaos("kube", latency_ms=1000)
    with pytest.raises(AdapterError) as err:
        impatient.deployment(NS, NAME)
    assert err.value.retryable and err.value.status == 0


def test_it_judges_a_crash_looping_rollout_fatal_and_summarises_it(fresh_kube, sandbox):
    started = datetime.now(UTC)
    previous = fresh_kube.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"][0]["image"]
    image = image_of(sandbox, "dead")
    fresh_kube.set_image(NS, NAME, CONTAINER, image)
    sightings: dict = {}

    def judge() -> list:
        p = status(fresh_kube)
        if not p.pod_template_hash:
            return []
        pods = fresh_kube.pods(NS, {"app": "license-api"})
        events = fresh_kube.events(NS, since=started, involved_names=[pod["metadata"]["name"] for pod in pods])
        return fatal_reasons(pods, events, None, sightings, datetime.now(UTC), pod_template_hash=p.pod_template_hash)

    fatal = wait_until(judge, timeout=40, interval=0.2)
    assert fatal, status(fresh_kube).message
    first = fatal[0]
    assert first.reason == "CrashLoopBackOff" and first.container == CONTAINER and first.exit_code == 1
    # The old pods keep serving meanwhile (maxUnavailable rounds down to 0 for 3 replicas).
    assert status(fresh_kube).available == 3
    pods = fresh_kube.pods(NS, {"app": "license-api"})
    pod, container = log_target(fatal, pods)
    logs = fresh_kube.recent_logs(NS, pod, container)
    assert logs
    events = fresh_kube.events(NS, since=started, field_selector="type=Warning")
    summary = build_summary(fatal=fatal, pods=pods, events=events, logs=logs,
                            digest_from=previous, digest_to=image)
    assert summary["reason"].startswith(f"CrashLoopBackOff: container {CONTAINER} in pod {pod} exited with code 1")
    assert any(e["reason"] == "BackOff" for e in summary["events"])
    assert summary["logs"] == logs[-25:]


def test_it_judges_a_missing_image_fatal(fresh_kube):
    started = datetime.now(UTC)
    fresh_kube.set_image(NS, NAME, CONTAINER, f"{REPO}:never-built-{commit()[:8]}")
    sightings: dict = {}

    def judge() -> list:
        p = status(fresh_kube)
        if not p.pod_template_hash:
            return []
        pods = fresh_kube.pods(NS, {"app": "license-api", "pod-template-hash": p.pod_template_hash})
        events = fresh_kube.events(NS, since=started)
        return fatal_reasons(pods, events, None, sightings, datetime.now(UTC), pod_template_hash=p.pod_template_hash)

    fatal = wait_until(judge, timeout=40, interval=0.2)
    assert fatal and fatal[0].reason == "ErrImagePull"


def test_it_sees_a_never_ready_rollout_exceed_its_progress_deadline(fresh_kube, sandbox, kube_api):
    from kubernetes import client

    started = datetime.now(UTC)
    # A short deadline keeps the test quick; deadlines run in real seconds in the sandbox.
    client.AppsV1Api(kube_api).patch_namespaced_deployment(NAME, NS, {"spec": {"progressDeadlineSeconds": 3}})
    fresh_kube.set_image(NS, NAME, CONTAINER, image_of(sandbox, "fa11"))
    sightings: dict = {}
    strict = {"Unhealthy": {"after_sightings": 2}}

    def readiness_fatal() -> list:
        p = status(fresh_kube)
        if not p.pod_template_hash:
            return []
        pods = fresh_kube.pods(NS, {"app": "license-api", "pod-template-hash": p.pod_template_hash})
        events = fresh_kube.events(NS, since=started, field_selector="involvedObject.kind=Pod")
        return fatal_reasons(pods, events, strict, sightings, datetime.now(UTC), pod_template_hash=p.pod_template_hash)

    fatal = wait_until(readiness_fatal, timeout=30, interval=0.2)
    assert fatal and fatal[0].reason == "Unhealthy" and "Readiness probe failed" in fatal[0].message
    p = wait_until(lambda: (lambda s: s if s.deadline_exceeded else None)(status(fresh_kube)), timeout=30)
    assert p is not None and not p.done
    assert p.message == f'deployment "{NAME}" exceeded its progress deadline'
    assert p.available == 3  # the old pods kept serving


def test_it_rolls_out_through_a_flaky_api_server(fresh_kube, sandbox, chaos):
    """30% of requests fail with 500/503: the adapter's own retries absorb most, and a
    caller that retries retryable errors (as the pipeline's tasks do) gets one rollout."""

    def retrying(fn: Callable[[], T]) -> T:
        for _ in range(20):
            try:
                return fn()
            except AdapterError as exc:
                assert exc.retryable, exc
                time.sleep(0.05)
        raise AssertionError("still failing after 20 attempts")

    generation = fresh_kube.deployment(NS, NAME)["metadata"]["generation"]
    image = image_of(sandbox)
    chaos("kube", error_rate=0.3, error_codes=[500, 503])
    new_generation = retrying(lambda: fresh_kube.set_image(NS, NAME, CONTAINER, image, "flaky"))
    # Patching again (a re-run task) changes nothing: no second rollout.
    assert retrying(lambda: fresh_kube.set_image(NS, NAME, CONTAINER, image, "flaky")) == new_generation
    p = wait_until(lambda: (lambda s: s if s.done else None)(retrying(lambda: status(fresh_kube))), timeout=40)
    chaos("kube", error_rate=0)
    assert new_generation == generation + 1
    assert p is not None and p.revision == 2
