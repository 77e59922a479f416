"""Fail fast and roll back: crash loops, readiness that never passes, missing images."""

from __future__ import annotations

import threading
import time

import pytest

from dashboard import services, states
from tests.pipeline.conftest import SHA, deployment, serving_pods, set_progress_deadline

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _deploy_good(service, settle):
    release = services.request_release(service=service, commit=SHA["good"], actor=None, via="cli")
    return settle(release, [states.SUCCEEDED], timeout=90)


def test_it_fails_a_crash_loop_fast_and_rolls_back_with_old_pods_serving(
        service, worker, settle, fresh_sandbox):
    good = _deploy_good(service, settle)
    min_serving = [99]
    stop = threading.Event()

    def watch_serving():
        while not stop.is_set():
            min_serving[0] = min(min_serving[0], len(serving_pods(fresh_sandbox)))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch_serving, daemon=True)
    watcher.start()
    started = time.monotonic()
    release = services.request_release(service=service, commit=SHA["dead"], actor=None, via="cli")
    release = settle(release, [states.ROLLED_BACK, states.FAILED], timeout=90)
    took = time.monotonic() - started
    stop.set()
    watcher.join()
    assert release.state == states.ROLLED_BACK, release.failure_summary
    summary = release.failure_summary
    assert summary["code"] == "CrashLoopBackOff"
    assert "CrashLoopBackOff" in summary["reason"]
    assert summary["pod"] and summary["container"] == "license-api"
    assert summary["exit_code"] == 1
    assert summary["changed"]["commit_from"] == good.commit_sha
    assert summary["changed"]["commit_to"] == SHA["dead"]
    # Well before the rollout timeout (60 s) and the progress deadline (120 s).
    assert took < 45
    assert min_serving[0] >= 3, "old pods must keep serving throughout"
    container = deployment(fresh_sandbox)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == good.image


def test_it_fails_at_the_progress_deadline_and_rolls_back(service, worker, settle, fresh_sandbox):
    good = _deploy_good(service, settle)
    set_progress_deadline()
    release = services.request_release(service=service, commit=SHA["fail"], actor=None, via="cli")
    release = settle(release, [states.ROLLED_BACK, states.FAILED], timeout=90)
    assert release.state == states.ROLLED_BACK, release.failure_summary
    assert release.failure_summary["code"] == "ProgressDeadlineExceeded"
    container = deployment(fresh_sandbox)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == good.image


def test_it_fails_an_image_that_does_not_exist(service, worker, settle, fresh_sandbox):
    missing = "gcr.io/sandbox/license-api@sha256:" + "e" * 64
    release = services.request_release(service=service, commit=SHA["good2"], image=missing,
                                       actor=None, via="cli")
    release = settle(release, [states.ROLLED_BACK, states.FAILED], timeout=90)
    assert release.state == states.ROLLED_BACK
    assert release.failure_summary["code"] == "ErrImagePull"
    assert "not found" in release.failure_summary["reason"]
    assert release.build_id == ""  # an explicit image is never built


def test_it_fails_verification_and_rolls_back(service, worker, settle, fresh_sandbox):
    service.health_path = "/no-such-health-check"
    service.verify_window_seconds = 2
    service.save()
    release = services.request_release(service=service, commit=SHA["good"], actor=None, via="cli")
    release = settle(release, states.TERMINAL, timeout=90)
    assert release.state == states.ROLLED_BACK
    assert release.failure_summary["code"] == "VerifyFailed"
    assert "/no-such-health-check" in release.failure_summary["reason"]


def test_it_leaves_a_failure_in_place_when_auto_rollback_is_off(
        service, worker, settle, fresh_sandbox):
    service.auto_rollback = False
    service.save()
    release = services.request_release(service=service, commit=SHA["dead"], actor=None, via="cli")
    release = settle(release, states.TERMINAL, timeout=90)
    assert release.state == states.FAILED
    assert release.undo_sent_at is None
    container = deployment(fresh_sandbox)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == release.image
