"""The release's steps, one table keyed by state: what the driver runs for a release in that
state. Each step does a little (a few API calls), saves what it learned through lifecycle and
returns the seconds until the next step, or None when the release needs no more driving (it
ended). A step that fails the release calls failing.fail() and returns 0: a rollback may
follow at once.

    BUILDING      build()       find or start the Cloud Build, follow its log and steps
    MIGRATING     migrate()     the pre-deploy Job (releases/predeploy.py), before any change
    DEPLOYING     roll_out()    set the image once, take the Service's steps (stepped.py:
                                pause, verify the new pods, bake, resume), judge the rollout
                                like kubectl rollout status, fail fast on doomed pods (krane)
    VERIFYING     verify()      GET the health path through the API server's service proxy
    ROLLING_BACK  roll_back()   `kubectl rollout undo` to the revision that was serving

Outside calls go through the adapters; state moves only via lifecycle.transition().
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from dashboard import rollout, states
from dashboard.adapters import clients
from dashboard.adapters.errors import AdapterError
from dashboard.adapters.types import BuildInfo, image_ref, status_words
from dashboard.models import Release
from dashboard.releases import foreignwrite, lifecycle, observe, stepped
from dashboard.releases.failing import fail
from dashboard.releases.predeploy import migrate
from dashboard.rollout import CHANGE_CAUSE, container_image

ROLLOUT_POLL = 0.25  # seconds between looks at a rollout in progress
BUILD_POLL = 0.25  # Cloud Build reads are cheap; a finished build is noticed quickly
VERIFY_GAP = 0.05  # between consecutive health probes of one verification round
LOG_CHUNK = 8000  # characters of build log kept per timeline event


def change_cause(release: Release) -> str:
    who = release.requested_by.get_username() if release.requested_by else release.via
    what = release.commit_sha or release.image
    return f"release {release.pk} by {who}: {what}"


# --- building ------------------------------------------------------------------------------

def _reusable_digest(release: Release) -> str | None:
    """The digest of an earlier successful build of this commit for this Service's image.

    Asked of Cloud Build, not of our own release rows: Cloud Build knows what it pushed
    and still has, while a digest remembered here may name an image since deleted (or a
    registry that was reset), which would only fail later, at image pull.
    """
    svc = release.service
    return clients.builder().find_successful_digest(
        svc.gcp_project, release.commit_sha, svc.image_repository
    )


def build(release: Release) -> float | None:
    svc = release.service
    cb = clients.builder()
    if not release.build_id:
        digest = _reusable_digest(release)
        if digest:
            image = image_ref(svc.image_repository, digest)
            lifecycle.transition(
                release, lifecycle.rollout_state(release),
                message=f"reusing the image already built for "
                f"{release.short_sha}: {digest[:19]}", data={"image": image, "reused": True},
                fields={"image": image, "image_digest": digest},
            )
            return 0
        info = cb.start_build(clients.build_spec(release), release.commit_sha, release.tag)
        lifecycle.save(release, build_id=info.id)
        lifecycle.record_event(release, "build", f"build {info.id} started",
                              {"build_id": info.id, "log_url": info.log_url},
                              publish_type="release.event")
        if not Release.objects.filter(pk=release.pk, state=states.BUILDING).exists():
            cb.cancel(svc.gcp_project, info.id)  # cancelled while we were starting it
            return None
    else:
        info = cb.get_build(svc.gcp_project, release.build_id)
    _tail_log(release, info)
    _report_steps(release, info)
    if not info.done:
        return BUILD_POLL
    if info.succeeded:
        digest = info.digest_for(svc.image_repository)
        if not digest:
            fail(release, code="BuildFailed", reason=f"build {info.id} succeeded but pushed no "
                 f"image to {svc.image_repository}")
            return 0  # rolling back, if the Service says so
        image = image_ref(svc.image_repository, digest)
        lifecycle.transition(release, lifecycle.rollout_state(release), message=f"built {image}",
                            data={"image": image, "build_id": info.id},
                            fields={"image": image, "image_digest": digest})
        return 0
    failed = info.failed_step
    where = f" at step {failed.id or failed.name}" if failed else ""
    detail = f": {info.failure_detail}" if info.failure_detail else ""
    fail(release, code="BuildFailed", reason=f"build {info.id} {info.status}{where}{detail}")
    return 0  # rolling back, if the Service says so


def _tail_log(release: Release, info: BuildInfo) -> None:
    text, offset = clients.builder().read_log(info, release.build_log_offset)
    if text:
        lifecycle.record_log(release, offset, text[-LOG_CHUNK:])


def _report_steps(release: Release, info: BuildInfo) -> None:
    steps = [{"id": s.id, "name": s.name, "status": s.status, "label": status_words(s.status),
              "seconds": s.seconds,
              "started": s.started.isoformat() if s.started else None} for s in info.steps]
    if steps == release.build_steps:
        return
    before = {s.get("id") or s.get("name"): s.get("status") for s in release.build_steps}
    for s in steps:
        if before.get(s["id"] or s["name"]) != s["status"]:
            took = f" in {s['seconds']:.1f} s" if s["seconds"] is not None else ""
            lifecycle.record_event(
                release, "build.step", f"step {s['id'] or s['name']}: {s['label']}{took}", s,
                publish_type="build.step",
            )
    lifecycle.save(release, build_steps=steps)


# --- progress ------------------------------------------------------------------------------

def report_progress(release: Release, prog: rollout.Progress) -> None:
    view = {"desired": prog.desired, "updated": prog.updated, "ready": prog.ready,
            "available": prog.available, "revision": prog.revision, "paused": prog.paused,
            "message": prog.message.strip()}
    if view == release.last_progress:
        return
    lifecycle.save(release, last_progress=view)
    lifecycle.record_event(
        release, "rollout",
        f"desired {prog.desired} updated {prog.updated} ready {prog.ready} "
        f"available {prog.available}: {view['message']}", view, publish_type="rollout.progress",
    )


def _observe(release: Release, kube: Any, dep: dict[str, Any], rs: list[dict[str, Any]],
             since: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """List the Deployment's pods and the events of its objects since the patch (a little
    before: clocks differ); keep what changed with the release (observe.record)."""
    svc = release.service
    pods = kube.pods(svc.namespace, dep["spec"].get("selector") or {})
    names = [svc.deployment, *(r["metadata"]["name"] for r in rs),
             *(p["metadata"]["name"] for p in pods)]
    events = kube.events(svc.namespace, since=since - timedelta(seconds=5),
                         involved_names=names)
    observe.record_quietly(release, pods=pods, replicasets=rs, events=events)
    return pods, events


# --- deploying -----------------------------------------------------------------------------

def roll_out(release: Release) -> float | None:
    svc = release.service
    kube = clients.kube(svc.cluster)
    dep = kube.deployment(svc.namespace, svc.deployment)
    now = timezone.now()
    if release.patched_at is None:
        if release.revision_before is None:
            lifecycle.save(release, revision_before=rollout.revision_of(dep),
                  image_before=container_image(dep, svc.container))
        cause = change_cause(release)
        annotations = dep["metadata"].get("annotations") or {}
        # A re-run (the worker died after patching) must never patch a second time.
        if not (container_image(dep, svc.container) == release.image
                and annotations.get(CHANGE_CAUSE) == cause):
            # An Artifact Registry image must exist before the Deployment points at it: a
            # missing digest fails the release here, with the Deployment untouched.
            clients.registry().require_digest(release.image)
            kube.set_image(svc.namespace, svc.deployment, svc.container, release.image, cause)
        deadline = now + timedelta(seconds=svc.rollout_timeout_seconds)
        lifecycle.save(release, patched_at=now, deadline_at=deadline,
                       template_fingerprint=foreignwrite.expect(release, dep))
        lifecycle.record_event(release, "rollout", f"set image {release.image}",
                              {"image": release.image, "change_cause": cause,
                               "revision_before": release.revision_before},
                              publish_type="release.event")
        return ROLLOUT_POLL
    if foreignwrite.caught(release, kube, dep):
        return None  # failed, not rolled back: nothing more to drive
    rs = kube.replicasets(svc.namespace, dep)
    pods, events = _observe(release, kube, dep, rs, release.patched_at)
    prog = rollout.progress(dep, rs)
    report_progress(release, prog)
    stepping = stepped.active(release)
    if prog.done and not stepping:
        lifecycle.transition(release, states.VERIFYING, message=prog.message.strip(),
                            fields={"revision_after": prog.revision})
        return 0
    if prog.deadline_exceeded:
        fail(release, progress=prog)
        return 0  # rolling back, if the Service says so
    if prog.pod_template_hash:
        sightings = dict(release.sightings)
        fatal = rollout.fatal_reasons(
            pods, events, rollout.merge_policy(svc.failfast_policy), sightings, now,
            pod_template_hash=prog.pod_template_hash,
        )
        lifecycle.save(release, sightings=sightings)
        if fatal:
            fail(release, fatal=fatal, pods=pods, events=events, progress=prog)
            return 0  # rolling back, if the Service says so
    if stepping:
        delay = stepped.step(release, kube, dep, rs, prog)
        if delay is not None:
            return delay
    if release.deadline_at and now > release.deadline_at and not svc.paused:
        fail(release, progress=prog, timeout_seconds=svc.rollout_timeout_seconds)
        return 0  # rolling back, if the Service says so
    return ROLLOUT_POLL


# --- verifying -----------------------------------------------------------------------------

def verify(release: Release) -> float | None:
    svc = release.service
    if not svc.health_service:
        lifecycle.transition(release, states.SUCCEEDED, message="rolled out (no health check)")
        return None
    kube = clients.kube(svc.cluster)
    if foreignwrite.caught(release, kube, kube.deployment(svc.namespace, svc.deployment)):
        return None
    needed, passes, status, body = svc.verify_successes, 0, 0, ""
    while passes < needed:
        status, body = kube.proxy_get(svc.namespace, svc.health_service, svc.health_port,
                                      svc.health_path)
        if status != 200:
            break
        passes += 1
        if passes < needed:
            time.sleep(VERIFY_GAP)
    lifecycle.record_event(
        release, "verify", f"GET {svc.health_path}: {status} ({passes}/{needed} in a row)",
        {"status": status, "passes": passes, "needed": needed}, publish_type="verify",
    )
    if passes >= needed:
        # Its pods' last lines stay with the release (Kubernetes drops them with the pods).
        try:
            dep = kube.deployment(svc.namespace, svc.deployment)
            observe.keep_logs_quietly(release, kube, kube.pods(
                svc.namespace, dep["spec"].get("selector") or {}))
        except AdapterError:
            pass  # best-effort: the release succeeded either way
        lifecycle.transition(release, states.SUCCEEDED,
                            message=f"{svc.health_path} answered 200 {needed} times in a row")
        return None
    started = release.phase_started_at or timezone.now()
    if (timezone.now() - started).total_seconds() > svc.verify_window_seconds:
        fail(release, code="VerifyFailed", reason=(
            f"VerifyFailed: {svc.health_path} did not answer 200 {needed} times in a row "
            f"within {svc.verify_window_seconds} s (last answer {status}: {body[:200]})"))
        return 0  # rolling back, if the Service says so
    return ROLLOUT_POLL  # not healthy yet: probe again soon


# --- rolling back --------------------------------------------------------------------------

def roll_back(release: Release) -> float | None:
    svc = release.service
    if release.patched_at is None:
        lifecycle.transition(release, states.ROLLED_BACK,
                            message="nothing to undo: the Deployment was never changed")
        return None
    kube = clients.kube(svc.cluster)
    dep = kube.deployment(svc.namespace, svc.deployment)
    now = timezone.now()
    if release.undo_sent_at is None:
        if dep["spec"].get("paused"):
            kube.resume(svc.namespace, svc.deployment)  # undo refuses a paused Deployment
        if container_image(dep, svc.container) != release.image_before:
            cause = f"rollback of release {release.pk} to revision {release.revision_before}"
            try:
                kube.undo(svc.namespace, svc.deployment, release.revision_before, cause)
            except AdapterError as exc:
                if exc.retryable or not release.image_before:
                    raise
                # The revision left the history: put the previous image back instead.
                kube.set_image(svc.namespace, svc.deployment, svc.container,
                               release.image_before, cause)
        lifecycle.save(release, undo_sent_at=now,
              deadline_at=now + timedelta(seconds=svc.rollout_timeout_seconds))
        lifecycle.record_event(release, "rollout", f"rolling back to revision "
                              f"{release.revision_before} ({release.image_before})",
                              {"revision": release.revision_before,
                               "image": release.image_before}, publish_type="release.event")
        return ROLLOUT_POLL
    rs = kube.replicasets(svc.namespace, dep)
    _observe(release, kube, dep, rs, release.patched_at)
    prog = rollout.progress(dep, rs)
    report_progress(release, prog)
    if prog.done:
        lifecycle.transition(release, states.ROLLED_BACK,
                            message=f"rolled back to revision {release.revision_before}")
        return None
    if release.deadline_at and now > release.deadline_at:
        lifecycle.transition(release, states.FAILED, message=(
            f"the rollback did not finish within {svc.rollout_timeout_seconds} s: "
            f"{prog.message.strip()}"))
        return None
    return ROLLOUT_POLL


# The lifecycle in one table: the step the driver runs for a release in each active state.
STEPS: dict[str, Callable[[Release], float | None]] = {
    states.BUILDING: build,
    states.MIGRATING: migrate,
    states.DEPLOYING: roll_out,
    states.VERIFYING: verify,
    states.ROLLING_BACK: roll_back,
}
