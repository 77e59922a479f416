"""One step of each release phase (called by dashboard.pipeline, one step per task run).

Each step_* returns the seconds until the next step, or None when the release needs no more
driving. Outside calls go through the adapters; state moves only via services.transition().
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from dashboard import connections, failfast, rollout, services, states
from dashboard.adapters.kube import CHANGE_CAUSE
from dashboard.adapters.types import BuildInfo, image_ref
from dashboard.models import Release
from dashboard.recovery import ROLLOUT_POLL, container_image, fail, report_progress, save

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
    return connections.builder().find_successful_digest(
        svc.gcp_project, release.commit_sha, svc.image_repository
    )


def step_building(release: Release) -> float | None:
    svc = release.service
    cb = connections.builder()
    if not release.build_id:
        digest = _reusable_digest(release)
        if digest:
            image = image_ref(svc.image_repository, digest)
            services.transition(
                release, states.DEPLOYING, message=f"reusing the image already built for "
                f"{release.short_sha}: {digest[:19]}", data={"image": image, "reused": True},
                fields={"image": image, "image_digest": digest},
            )
            return 0
        info = cb.start_build(connections.build_spec(release), release.commit_sha, release.tag)
        save(release, build_id=info.id)
        services.record_event(release, "build", f"build {info.id} started",
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
        services.transition(release, states.DEPLOYING, message=f"built {image}",
                            data={"image": image, "build_id": info.id},
                            fields={"image": image, "image_digest": digest})
        return 0
    failed = info.failed_step
    where = f" at step {failed.id or failed.name}" if failed else ""
    detail = f": {info.failure_detail}" if info.failure_detail else ""
    fail(release, code="BuildFailed", reason=f"build {info.id} {info.status}{where}{detail}")
    return 0  # rolling back, if the Service says so


def _tail_log(release: Release, info: BuildInfo) -> None:
    text, offset = connections.builder().read_log(info, release.build_log_offset)
    if not text:
        return
    with transaction.atomic():
        # Offset and event commit together: a re-run never repeats or skips log text.
        updated = Release.objects.filter(
            pk=release.pk, build_log_offset=release.build_log_offset
        ).update(build_log_offset=offset)
        if updated:
            services.record_event(release, "build.log", text[-LOG_CHUNK:],
                                  {"offset": offset}, publish_type="build.log")
    release.build_log_offset = offset


def _report_steps(release: Release, info: BuildInfo) -> None:
    steps = [{"id": s.id, "name": s.name, "status": s.status, "seconds": s.seconds}
             for s in info.steps]
    if steps == release.build_steps:
        return
    before = {s.get("id") or s.get("name"): s.get("status") for s in release.build_steps}
    for s in steps:
        if before.get(s["id"] or s["name"]) != s["status"]:
            took = f" in {s['seconds']:.1f} s" if s["seconds"] is not None else ""
            services.record_event(
                release, "build.step", f"step {s['id'] or s['name']}: {s['status']}{took}", s,
                publish_type="build.step",
            )
    save(release, build_steps=steps)


# --- deploying -----------------------------------------------------------------------------

def step_deploying(release: Release) -> float | None:
    svc = release.service
    kube = connections.kube(svc.cluster)
    dep = kube.deployment(svc.namespace, svc.deployment)
    now = timezone.now()
    if release.patched_at is None:
        if release.revision_before is None:
            save(release, revision_before=rollout.revision_of(dep),
                  image_before=container_image(dep, svc.container))
        cause = change_cause(release)
        annotations = dep["metadata"].get("annotations") or {}
        # A re-run (the worker died after patching) must never patch a second time.
        if not (container_image(dep, svc.container) == release.image
                and annotations.get(CHANGE_CAUSE) == cause):
            kube.set_image(svc.namespace, svc.deployment, svc.container, release.image, cause)
        deadline = now + timedelta(seconds=svc.rollout_timeout_seconds)
        save(release, patched_at=now, deadline_at=deadline)
        services.record_event(release, "rollout", f"set image {release.image}",
                              {"image": release.image, "change_cause": cause,
                               "revision_before": release.revision_before},
                              publish_type="release.event")
        return ROLLOUT_POLL
    rs = kube.replicasets(svc.namespace, dep)
    prog = rollout.progress(dep, rs)
    report_progress(release, prog)
    if prog.done:
        services.transition(release, states.VERIFYING, message=prog.message.strip(),
                            fields={"revision_after": prog.revision})
        return 0
    if prog.deadline_exceeded:
        fail(release, progress=prog)
        return 0  # rolling back, if the Service says so
    if prog.pod_template_hash:
        pods = kube.pods(svc.namespace, dep["spec"].get("selector") or {})
        events = kube.events(svc.namespace, since=release.patched_at - timedelta(seconds=5),
                             involved_names=[p["metadata"]["name"] for p in pods])
        sightings = dict(release.sightings)
        fatal = failfast.fatal_reasons(
            pods, events, failfast.merge_policy(svc.failfast_policy), sightings, now,
            pod_template_hash=prog.pod_template_hash,
        )
        save(release, sightings=sightings)
        if fatal:
            fail(release, fatal=fatal, pods=pods, events=events, progress=prog)
            return 0  # rolling back, if the Service says so
    if release.deadline_at and now > release.deadline_at and not svc.paused:
        fail(release, progress=prog, timeout_seconds=svc.rollout_timeout_seconds)
        return 0  # rolling back, if the Service says so
    return ROLLOUT_POLL


# --- verifying -----------------------------------------------------------------------------

def step_verifying(release: Release) -> float | None:
    svc = release.service
    if not svc.health_service:
        services.transition(release, states.SUCCEEDED, message="rolled out (no health check)")
        return None
    kube = connections.kube(svc.cluster)
    needed, passes, status, body = svc.verify_successes, 0, 0, ""
    while passes < needed:
        status, body = kube.proxy_get(svc.namespace, svc.health_service, svc.health_port,
                                      svc.health_path)
        if status != 200:
            break
        passes += 1
        if passes < needed:
            time.sleep(VERIFY_GAP)
    services.record_event(
        release, "verify", f"GET {svc.health_path}: {status} ({passes}/{needed} in a row)",
        {"status": status, "passes": passes, "needed": needed}, publish_type="verify",
    )
    if passes >= needed:
        services.transition(release, states.SUCCEEDED,
                            message=f"{svc.health_path} answered 200 {needed} times in a row")
        return None
    started = release.phase_started_at or timezone.now()
    if (timezone.now() - started).total_seconds() > svc.verify_window_seconds:
        fail(release, code="VerifyFailed", reason=(
            f"VerifyFailed: {svc.health_path} did not answer 200 {needed} times in a row "
            f"within {svc.verify_window_seconds} s (last answer {status}: {body[:200]})"))
        return 0  # rolling back, if the Service says so
    return ROLLOUT_POLL  # not healthy yet: probe again soon
