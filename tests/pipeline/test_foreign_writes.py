"""Foreign writes end to end: somebody runs `kubectl set image` on the Deployment while a
release bakes its step: the release fails as foreign_write naming kubectl-set and the image
field, does not undo the other writer, and un-pauses what it paused. A scale is not one."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from dashboard import audit, services, states
from dashboard.models import AuditEntry
from tests.pipeline.conftest import SHA, deployment
from tests.sandbox.kube_helpers import push

KUBECTL = shutil.which("kubectl")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")]


def kubectl(sandbox, *args: str) -> None:
    out = subprocess.run([KUBECTL, "--kubeconfig", str(sandbox.kubeconfig), *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_a_kubectl_set_image_during_the_bake_fails_the_release_without_undoing_it(
        service, worker, settle, fresh_sandbox):
    service.rollout_steps, service.bake_seconds = [1], 600
    service.save()
    release = services.request_release(service=service, commit=SHA["good"], actor=None,
                                       via="cli")
    release = settle(release, lambda r: r.rollout_step.get("phase") == "baking", timeout=60)
    theirs = push(fresh_sandbox, "f0e1" + "9" * 36)
    kubectl(fresh_sandbox, "set", "image", "deployment/license-api", f"license-api={theirs}")
    release = settle(release, states.TERMINAL, timeout=30)
    assert release.state == states.FAILED  # not rolled back over the other writer
    summary = release.failure_summary
    assert summary["code"] == "foreign_write"
    assert summary["foreign_write"]["manager"] == "kubectl-set"
    assert summary["foreign_write"]["fields"] == [
        "spec.template.spec.containers[license-api].image"]
    assert "kubectl-set" in summary["reason"]
    dep = deployment(fresh_sandbox)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == theirs
    assert not dep["spec"].get("paused")
    entry = AuditEntry.objects.filter(release_id=release.pk, action="release.transition").last()
    assert entry.payload["to"] == "failed" and entry.payload["code"] == "foreign_write"
    assert audit.verify()[1] is None


def test_a_scale_during_the_release_is_not_a_foreign_write(service, worker, settle,
                                                           fresh_sandbox):
    release = services.request_release(service=service, commit=SHA["slow"], actor=None,
                                       via="cli")
    settle(release, lambda r: r.patched_at is not None, timeout=60)
    kubectl(fresh_sandbox, "scale", "deployment/license-api", "--replicas=4")
    release = settle(release, states.TERMINAL, timeout=120)
    assert release.state == states.SUCCEEDED, release.failure_summary
