"""Crash safety: concurrent requests, SIGKILLed workers, flaky outside systems."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from dashboard import audit, services, states
from dashboard.adapters.cloudbuild import CloudBuildAdapter
from dashboard.models import Release
from tests.pipeline.conftest import SHA, deployment, worker_extra_env
from tests.plugins.worker import start_celery_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_it_keeps_one_active_release_under_20_concurrent_requests(plain_service, require_postgres):
    from config.celery import app

    results, errors = [], []
    barrier = threading.Barrier(20)

    def request(i):
        try:
            barrier.wait()
            results.append(services.request_release(
                service="license-api", commit=f"{i:04x}" + "c" * 36, actor=None, via="cli"))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    app.control.purge()
    assert errors == []
    assert len(results) == 20 and Release.objects.count() == 20
    by_state = {s: Release.objects.filter(state=s).count() for s in states.ALL}
    assert by_state[states.BUILDING] == 1
    assert by_state[states.QUEUED] == 1
    assert by_state[states.SUPERSEDED] == 18
    assert audit.verify()[1] is None


def _builds_of(sandbox, commit):
    cb = CloudBuildAdapter(endpoint=sandbox.cloudbuild_url)
    return cb.list_builds("sandbox", f'substitutions.COMMIT_SHA="{commit}"')


def test_it_finishes_with_one_build_after_the_worker_is_killed_mid_build(
        service, fresh_sandbox, settle, tmp_path):
    env = worker_extra_env(fresh_sandbox)
    first = start_celery_worker(tmp_path, "doomed1", extra_env=env)
    release = services.request_release(service=service, commit=SHA["good"], actor=None, via="cli")
    settle(release, lambda r: bool(r.build_id), timeout=30)
    first.kill()
    time.sleep(1)
    second = start_celery_worker(tmp_path, "rescuer1", extra_env=env)
    try:
        release = settle(release, states.TERMINAL, timeout=120)
    finally:
        second.kill()
    assert release.state == states.SUCCEEDED, release.failure_summary
    assert len(_builds_of(fresh_sandbox, SHA["good"])) == 1


def test_it_never_patches_twice_after_the_worker_is_killed_mid_rollout(
        service, fresh_sandbox, settle, tmp_path):
    env = worker_extra_env(fresh_sandbox)
    first = start_celery_worker(tmp_path, "doomed2", extra_env=env)
    release = services.request_release(service=service, commit=SHA["slow"], actor=None, via="cli")
    release = settle(release, lambda r: r.patched_at is not None, timeout=60)
    generation = deployment(fresh_sandbox)["metadata"]["generation"]
    first.kill()
    time.sleep(1)
    second = start_celery_worker(tmp_path, "rescuer2", extra_env=env)
    try:
        release = settle(release, states.TERMINAL, timeout=120)
    finally:
        second.kill()
    assert release.state == states.SUCCEEDED, release.failure_summary
    assert deployment(fresh_sandbox)["metadata"]["generation"] == generation
    assert release.events.filter(kind="rollout", message__startswith="set image").count() == 1
    assert len(_builds_of(fresh_sandbox, SHA["slow"])) == 1


def test_it_survives_cloud_build_and_kubernetes_chaos(service, worker, settle, fresh_sandbox):
    fresh_sandbox.control("chaos", {"api": "cloudbuild", "error_rate": 0.25,
                                    "error_codes": [503, 504]})
    fresh_sandbox.control("chaos", {"api": "kube", "error_rate": 0.2, "error_codes": [500, 503]})
    try:
        release = services.request_release(service=service, commit=SHA["good"], actor=None,
                                           via="cli")
        settle(release, lambda r: r.state == states.DEPLOYING, timeout=90)
        fresh_sandbox.control("chaos/drop-watches", {})
        fresh_sandbox.control("chaos/expire", {})
        release = settle(release, states.TERMINAL, timeout=120)
    finally:
        fresh_sandbox.control("chaos", {"api": "cloudbuild", "error_rate": 0})
        fresh_sandbox.control("chaos", {"api": "kube", "error_rate": 0})
    assert release.state == states.SUCCEEDED, release.failure_summary
    assert len(_builds_of(fresh_sandbox, SHA["good"])) == 1  # retries never doubled a build
    assert audit.verify()[1] is None


def test_it_never_deadlocks_when_a_release_ends_as_another_is_requested(
        plain_service, require_postgres):
    from config.celery import app

    errors = []
    for round_ in range(8):
        active = Release.objects.active().first() or services.request_release(
            service=plain_service, commit=f"{round_:02x}" + "a" * 38, actor=None, via="cli")
        barrier = threading.Barrier(3)

        def cancel(release=active, barrier=barrier):
            try:
                barrier.wait()
                services.cancel_release(release=release.pk, actor=None, via="cli")
            except Exception as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                connection.close()

        def request(i, barrier=barrier, round_=round_):
            try:
                barrier.wait()
                services.request_release(service="license-api", commit=f"{round_:02x}{i}" + "b" * 37,
                                         actor=None, via="cli")
            except Exception as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=cancel),
                   *(threading.Thread(target=request, args=(i,)) for i in range(2))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert Release.objects.active().count() == 1, (errors, list(Release.objects.values_list("id", "state")))
    app.control.purge()
    assert errors == []
    assert audit.verify()[1] is None
