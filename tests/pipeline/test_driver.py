"""The driver's bookkeeping: duplicate runs, the reconciler, live messages after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import services, states, streams
from dashboard.models import Release
from dashboard.releases import driver as pipeline
from tests.pipeline.conftest import SHA

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_tasks():
    from config.celery import app

    app.control.purge()
    yield
    app.control.purge()


def test_it_ignores_a_run_from_a_replaced_chain(plain_service, no_tasks):
    release = Release.objects.create(service=plain_service, commit_sha=SHA["good"], via="cli",
                                      state=states.BUILDING, tick=5)
    pipeline.advance(release.pk, 4)  # a duplicate delivery, or a chain the reconciler replaced
    release.refresh_from_db()
    assert release.tick == 5 and release.lease_until is None and release.build_id == ""


def test_it_does_not_act_while_another_run_holds_the_lease(plain_service, no_tasks):
    held = timezone.now() + timedelta(seconds=30)
    release = Release.objects.create(service=plain_service, commit_sha=SHA["good"], via="cli",
                                      state=states.BUILDING, tick=2, lease_until=held)
    pipeline.advance(release.pk, 2)
    release.refresh_from_db()
    assert release.tick == 2 and release.lease_until == held and release.build_id == ""


def test_it_reconciles_stale_releases_and_starts_queued_ones(plain_service, no_tasks):
    old = timezone.now() - timedelta(minutes=5)
    stale = Release.objects.create(service=plain_service, commit_sha=SHA["good"], via="cli",
                                    state=states.DEPLOYING, tick=3, heartbeat_at=old)
    result = pipeline.reconcile()
    stale.refresh_from_db()
    assert result["redriven"] == 1 and stale.tick == 4 and stale.heartbeat_at > old
    assert pipeline.reconcile()["redriven"] == 0  # fresh heartbeat: left alone
    Release.objects.filter(pk=stale.pk).update(state=states.SUCCEEDED)
    waiting = Release.objects.create(service=plain_service, commit_sha=SHA["good2"], via="cli")
    assert pipeline.reconcile()["started"] == 1
    waiting.refresh_from_db()
    assert waiting.state == states.BUILDING


def test_it_publishes_state_changes_after_commit(plain_service, no_tasks):
    import time

    since = time.time()  # streams outlive test databases (and their ids): read only ours
    service_seq = streams.last_seq(f"service:{plain_service.name}")
    release = services.request_release(service=plain_service, commit=SHA["good"], actor=None,
                                       via="cli")
    messages = [m for m in streams.since(f"release:{release.pk}", 0) or [] if m["at"] >= since]
    assert [m["data"]["state"] for m in messages if m["type"] == "release.state"] == [
        states.BUILDING]
    service_msgs = streams.since(f"service:{plain_service.name}", service_seq) or []
    assert any(m["data"].get("id") == release.pk for m in service_msgs)


def test_it_keeps_the_lease_of_a_step_that_runs_longer_than_the_lease(plain_service, no_tasks,
                                                                       monkeypatch):
    import threading
    import time

    monkeypatch.setattr(pipeline, "LEASE_SECONDS", 0.6)
    monkeypatch.setattr(pipeline, "LEASE_RENEW", 0.15)
    release = Release.objects.create(service=plain_service, commit_sha=SHA["good"], via="cli",
                                      state=states.BUILDING, tick=1)
    seen: dict[str, object] = {}

    def slow_step(r):
        time.sleep(1.5)  # more than twice the lease
        seen["after"] = Release.objects.get(pk=r.pk).lease_until
        return None

    monkeypatch.setattr(pipeline, "step", slow_step)
    run = threading.Thread(target=pipeline.advance, args=(release.pk, 1))
    run.start()
    time.sleep(1.0)  # the first lease has lapsed by now, had it not been renewed
    assert pipeline.reconcile(stale_after=timedelta(seconds=0))["redriven"] == 0
    second = threading.Thread(target=pipeline.advance, args=(release.pk, 2))
    second.start()  # a second run of the chain must not act while the first renews its lease
    second.join(5)
    run.join(5)
    release.refresh_from_db()
    assert seen["after"] is not None and seen["after"] > timezone.now() - timedelta(seconds=1)
    assert release.tick == 2 and release.lease_until is None


def test_it_redrives_a_release_whose_lease_lapsed_with_its_worker(plain_service, no_tasks):
    now = timezone.now()
    killed = Release.objects.create(
        service=plain_service, commit_sha=SHA["good"], via="cli", state=states.BUILDING, tick=7,
        heartbeat_at=now - timedelta(seconds=6), lease_until=now - timedelta(seconds=1))
    assert pipeline.reconcile()["redriven"] == 1  # default stale window: 5 s
    killed.refresh_from_db()
    assert killed.tick == 8


def test_it_leaves_a_release_alone_while_a_run_holds_its_lease(plain_service, no_tasks):
    now = timezone.now()
    busy = Release.objects.create(
        service=plain_service, commit_sha=SHA["good"], via="cli", state=states.BUILDING, tick=7,
        heartbeat_at=now - timedelta(minutes=1), lease_until=now + timedelta(seconds=3))
    assert pipeline.reconcile()["redriven"] == 0
    busy.refresh_from_db()
    assert busy.tick == 7
