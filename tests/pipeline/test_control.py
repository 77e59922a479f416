"""Cancel in each phase, pause/resume, manual rollback."""

from __future__ import annotations

import pytest

from dashboard import services, states
from dashboard.adapters.types import BUILD_TERMINAL
from dashboard.models import AuditEntry
from tests.pipeline.conftest import SHA, deployment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_it_cancels_a_queued_release(service, transactional_db):
    service.save()
    blocker = services.request_release(service=service, commit=SHA["good"], actor=None, via="cli")
    queued = services.request_release(service=service, commit=SHA["good2"], actor=None, via="cli")
    assert queued.state == states.QUEUED
    queued = services.cancel_release(release=queued, actor=None, via="cli", reason="not now")
    assert queued.state == states.CANCELLED
    blocker.refresh_from_db()
    assert blocker.state == states.BUILDING


def test_it_cancels_a_build_and_the_cloud_build(service, worker, settle, fresh_sandbox):
    from dashboard.adapters.cloudbuild import CloudBuildAdapter

    before = deployment(fresh_sandbox)["metadata"]["generation"]
    release = services.request_release(service=service, commit=SHA["slow"], actor=None, via="cli")
    release = settle(release, lambda r: bool(r.build_id), timeout=30)
    services.cancel_release(release=release, actor=None, via="cli", reason="wrong commit")
    release.refresh_from_db()
    assert release.state == states.CANCELLED
    builder = CloudBuildAdapter(endpoint=fresh_sandbox.cloudbuild_url)
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        info = builder.get_build("sandbox", release.build_id)
        if info.status in BUILD_TERMINAL:
            break
        time.sleep(0.2)
    assert info.status == "CANCELLED"
    assert deployment(fresh_sandbox)["metadata"]["generation"] == before


@pytest.mark.parametrize("phase", [states.DEPLOYING, states.VERIFYING])
def test_it_cancels_a_rollout_by_rolling_back(service, worker, settle, fresh_sandbox, phase):
    image_before = deployment(fresh_sandbox)["spec"]["template"]["spec"]["containers"][0]["image"]
    if phase == states.VERIFYING:
        service.verify_successes = 1000  # never enough: stays verifying until cancelled
        service.save()
    commit = SHA["slow"] if phase == states.DEPLOYING else SHA["good"]
    release = services.request_release(service=service, commit=commit, actor=None, via="cli")
    release = settle(release, lambda r: r.state == phase and r.patched_at is not None, timeout=60)
    services.cancel_release(release=release, actor=None, via="cli", reason="stop")
    release = settle(release, states.TERMINAL, timeout=60)
    assert release.state == states.ROLLED_BACK
    image = deployment(fresh_sandbox)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == image_before


def test_it_pauses_and_resumes_a_rollout(service, worker, settle, fresh_sandbox):
    release = services.request_release(service=service, commit=SHA["slow"], actor=None, via="cli")
    release = settle(release, lambda r: r.state == states.DEPLOYING and r.patched_at, timeout=60)
    services.pause_service(service=service, actor=None, via="cli", reason="look first")
    assert deployment(fresh_sandbox)["spec"].get("paused") is True
    service.refresh_from_db()
    assert service.paused
    import time

    time.sleep(3)
    release.refresh_from_db()
    assert release.state == states.DEPLOYING
    services.resume_service(service=service, actor=None, via="cli", reason="go")
    assert not deployment(fresh_sandbox)["spec"].get("paused")
    release = settle(release, states.TERMINAL, timeout=90)
    assert release.state == states.SUCCEEDED
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"pause", "resume"} <= actions


def test_it_rolls_back_manually_to_an_earlier_release(service, worker, settle, fresh_sandbox):
    first = services.request_release(service=service, commit=SHA["good"], actor=None, via="cli")
    first = settle(first, [states.SUCCEEDED], timeout=90)
    second = services.request_release(service=service, commit=SHA["good2"], actor=None, via="cli")
    second = settle(second, [states.SUCCEEDED], timeout=90)
    assert second.image != first.image
    back = services.request_rollback(service=service, actor=None, via="cli", reason="regression",
                                     to_release=first)
    assert back.kind == states.KIND_ROLLBACK and back.image == first.image
    back = settle(back, states.TERMINAL, timeout=90)
    assert back.state == states.SUCCEEDED
    assert back.build_id == ""  # no build
    image = deployment(fresh_sandbox)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == first.image
    # Default target: the succeeded release before the latest one.
    again = services.request_rollback(service=service, actor=None, via="cli")
    assert again.rollback_of_id == second.pk
