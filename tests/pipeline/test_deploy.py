"""Deploys end to end: sandbox Cloud Build + Kubernetes, a real Celery worker."""

from __future__ import annotations

import pytest

from dashboard import audit, services, states
from tests.pipeline.conftest import SHA, deployment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_it_deploys_a_healthy_commit_to_succeeded(service, worker, settle, fresh_sandbox):
    release = services.request_release(service=service, commit=SHA["good"], actor=None,
                                       via="cli", reason="test")
    release = settle(release, states.TERMINAL, timeout=90)
    assert release.state == states.SUCCEEDED, release.failure_summary
    assert release.build_id
    assert release.image.startswith("gcr.io/sandbox/license-api@sha256:")
    dep = deployment(fresh_sandbox)
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == release.image
    cause = dep["metadata"]["annotations"]["kubernetes.io/change-cause"]
    assert cause == f"release {release.pk} by cli: {SHA['good']}"
    assert release.revision_after and release.revision_after > (release.revision_before or 0)
    kinds = list(release.events.values_list("kind", flat=True))
    assert "build.step" in kinds and "rollout" in kinds and "verify" in kinds
    assert set(release.timings) >= {"building", "deploying", "verifying"}
    assert audit.verify()[1] is None


def test_it_fails_a_bad_build_without_touching_the_cluster(service, worker, settle, fresh_sandbox):
    before = deployment(fresh_sandbox)["metadata"]["generation"]
    release = services.request_release(service=service, commit=SHA["bad"], actor=None, via="cli")
    release = settle(release, states.TERMINAL, timeout=60)
    assert release.state == states.FAILED
    assert release.failure_summary["code"] == "BuildFailed"
    assert "build" in release.failure_summary["reason"].lower()
    assert release.patched_at is None
    assert deployment(fresh_sandbox)["metadata"]["generation"] == before


def test_it_reuses_an_earlier_build_of_the_same_commit(service, worker, settle, fresh_sandbox):
    from dashboard.adapters.cloudbuild import CloudBuildAdapter

    first = services.request_release(service=service, commit=SHA["good"], actor=None, via="cli")
    first = settle(first, [states.SUCCEEDED], timeout=90)
    again = services.request_release(service=service, commit=SHA["good"], actor=None, via="cli")
    again = settle(again, states.TERMINAL, timeout=90)
    assert again.state == states.SUCCEEDED
    assert again.build_id == "" and again.image == first.image
    cb = CloudBuildAdapter(endpoint=fresh_sandbox.cloudbuild_url)
    assert len(cb.list_builds("sandbox", f'substitutions.COMMIT_SHA="{SHA["good"]}"')) == 1
