"""The release driver: one short step per Celery task run, re-queued until the release ends.
It claims the release, runs the step the table in steps.py names for its state, and queues the
next step; the reconciler re-drives releases whose chain went quiet.

Why it is safe to run twice (SIGKILLed workers, broker redeliveries, the reconciler):

* Every chain of steps carries a `tick`. A run first claims the release with one conditional
  UPDATE (tick matches, no live lease) that bumps the tick and takes a short lease; a run
  with an old tick (a duplicate, or a chain the reconciler replaced) just stops, a run that
  finds the lease taken retries shortly. So at most one run acts at a time, and one chain
  survives. While the step runs, a thread renews the lease (and the heartbeat) every
  LEASE_RENEW s, so a slow step keeps it however long it takes, and a killed worker's lease
  lapses within LEASE_SECONDS.
* The reconciler (a beat task every couple of seconds: one indexed query when all is well)
  re-drives an active release whose lease has lapsed and whose heartbeat is older than
  RELEASE_STALE_SECONDS: its next step was lost with a killed worker (a countdown task held
  by that worker comes back only after Redis' visibility timeout) or with an emptied Redis.
  The new chain's first run still has to claim the release, so even a re-drive of a chain
  that was merely late never makes two runs act at once.
* Each step's outside actions are idempotent: the build is found by its tag before one is
  created, the Deployment is checked for our image + change-cause before it is patched,
  the undo is skipped when the previous image is already back.
* The database is the truth: build id, log offset, revision before, patch time are saved
  as soon as they are known, and state only moves through lifecycle.transition(), which
  refuses moves the table (or a concurrent change) does not allow.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F, Q
from django.utils import timezone

from config import logs
from dashboard import metrics, states
from dashboard.adapters import clients
from dashboard.adapters.errors import AdapterError
from dashboard.errors import Conflict
from dashboard.models import Release, Service
from dashboard.releases import lifecycle
from dashboard.releases.failing import fail
from dashboard.releases.steps import STEPS

log = logging.getLogger(__name__)

# The lease a run holds while its step runs: renewed every LEASE_RENEW s by the running step
# (so it never lapses under a live one, however slow), and short, so that a killed run's
# release is taken over within seconds.
LEASE_SECONDS = 5.0
LEASE_RENEW = 1.5
RETRY_SECONDS = 2.0  # after a retryable outside error (5xx, timeouts)
ERROR_RETRY_SECONDS = 3.0  # after an unexpected error; below the stale window


def stale_after() -> timedelta:
    """How long an active release may go without a step before the reconciler re-drives it."""
    return timedelta(seconds=getattr(settings, "RELEASE_STALE_SECONDS", 5))


class _LeaseKeeper(threading.Thread):
    """Renews the running step's lease (and heartbeat) until stopped; gives up as soon as the
    lease is no longer the one it renewed (released, or lapsed and taken over)."""

    def __init__(self, release_id: int, lease: datetime) -> None:
        super().__init__(name=f"lease-{release_id}", daemon=True)
        self.release_id = release_id
        self.lease = lease
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(LEASE_RENEW):
                now = timezone.now()
                longer = now + timedelta(seconds=LEASE_SECONDS)
                if not Release.objects.filter(pk=self.release_id, lease_until=self.lease).update(
                        lease_until=longer, heartbeat_at=now):
                    return
                self.lease = longer
        except Exception:
            log.warning("release %s: could not renew the lease", self.release_id, exc_info=True)
        finally:
            connection.close()  # this thread's own database connection, if it opened one

    def stop(self) -> datetime:
        """The lease as last renewed (the value to release)."""
        self.done.set()
        self.join()
        return self.lease


def advance(release_id: int, tick: int) -> None:
    """Run one step of the release if this run owns its chain; queue the next step."""
    now = timezone.now()
    lease = now + timedelta(seconds=LEASE_SECONDS)
    claimed = (
        Release.objects.filter(pk=release_id, tick=tick, state__in=states.ACTIVE)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=lease, tick=tick + 1, heartbeat_at=now)
    )
    if not claimed:
        row = Release.objects.filter(pk=release_id).values("tick", "state").first()
        if row and row["tick"] == tick and row["state"] in states.ACTIVE:
            # Another run holds the lease: look again soon.
            lifecycle.enqueue_step(release_id, tick, 1.0)
        return
    tick += 1
    delay: float | None = None
    keeper = _LeaseKeeper(release_id, lease)
    keeper.start()
    try:
        release = Release.objects.select_related("service__cluster", "requested_by").get(
            pk=release_id
        )
        with logs.context(release_id=release.pk, service=release.service.name,
                          environment=metrics.environment_of(release), phase=release.state):
            delay = step(release)
    except Conflict as exc:
        # The state moved under us (a cancel, say): evaluate the new state at once.
        log.info("release %s: %s", release_id, exc)
        delay = 0
    except AdapterError as exc:
        delay = _outside_error(release_id, exc)
    except Exception:
        log.exception("release %s: step failed; retrying", release_id)
        delay = ERROR_RETRY_SECONDS
    finally:
        # Our own lease, even if the reconciler started a new chain meanwhile (new tick).
        lease = keeper.stop()
        Release.objects.filter(pk=release_id, lease_until=lease).update(
            lease_until=None, heartbeat_at=timezone.now()
        )
    if delay is not None and Release.objects.filter(
        pk=release_id, tick=tick, state__in=states.ACTIVE
    ).exists():
        lifecycle.enqueue_step(release_id, tick, delay)


def wake(release_id: int) -> None:
    """Run the release's next step now (the watcher calls this when the cluster changed under
    an active release). Sent with the current tick, the step takes over the chain: the
    pending, delayed step of the old chain finds its tick stale and stops; one sent with an
    old tick does nothing. So a wake-up never runs two steps at once or forks the chain."""
    try:
        close_old_connections()
        tick = (Release.objects.filter(pk=release_id, state__in=states.ACTIVE)
                .values_list("tick", flat=True).first())
        if tick is not None:
            lifecycle.enqueue_step(release_id, tick)
    except Exception:
        log.warning("could not enqueue the next step of release %s", release_id, exc_info=True)


def _outside_error(release_id: int, exc: AdapterError) -> float | None:
    release = Release.objects.select_related("service__cluster").get(pk=release_id)
    if exc.retryable:
        log.warning("release %s: %s (will retry)", release_id, exc)
        lifecycle.record_event(release, "retry", str(exc)[:500], {"api": exc.api,
                                                                  "status": exc.status})
        return RETRY_SECONDS
    if release.state == states.ROLLING_BACK:
        lifecycle.transition(release, states.FAILED, message=f"rollback failed: {exc}")
        return None
    fail(release, reason=f"{exc}", code="OutsideError")
    return 0


def step(release: Release) -> float | None:
    """Run the step of the release's state (steps.STEPS); return seconds until the next step
    (a step that ends the release returns None, one that fails it returns 0: a rollback may
    follow)."""
    handler = STEPS.get(release.state)
    return handler(release) if handler else None


def reconcile(now: datetime | None = None, stale_after: timedelta | None = None
              ) -> dict[str, int]:
    """Re-drive active releases whose heartbeat is stale and whose lease has lapsed (a lost
    task or a killed worker): start a new chain (the old one, if alive, stops at its next
    run). Start queued releases of Services with nothing active."""
    now = now or timezone.now()
    before = now - (stale_after or globals()["stale_after"]())
    redriven = 0
    rows = (Release.objects.stale(before)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .values_list("pk", "tick"))
    for pk, tick in rows:
        if Release.objects.filter(pk=pk, tick=tick).update(tick=F("tick") + 1, heartbeat_at=now):
            lifecycle.enqueue_step(pk, tick + 1, 0)
            redriven += 1
    metrics.takeovers(redriven)
    if redriven:
        log.warning("reconciler: re-drove %d release(s) whose driver went quiet", redriven)
    started = 0
    for service in Service.objects.filter(releases__state=states.QUEUED).distinct():
        if lifecycle.promote_next(service) is not None:
            started += 1
    return {"redriven": redriven, "started": started}


def cancel_build(release_id: int) -> None:
    """Cancel the Cloud Build of a cancelled release (found by tag when its id is unknown)."""
    release = Release.objects.select_related("service").get(pk=release_id)
    service = release.service
    builder = clients.builder()
    build_id = release.build_id
    if not build_id:
        found = clients.find_release_build(builder, release)
        build_id = found.id if found else ""
    if not build_id:
        lifecycle.record_event(release, "build", "no build had started: nothing to cancel")
        return
    info = builder.cancel(service.gcp_project, build_id)
    lifecycle.record_event(release, "build", f"build {build_id} is {info.status}",
                          {"build_id": build_id, "status": info.status},
                          publish_type="release.event")
