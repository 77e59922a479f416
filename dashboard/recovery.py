"""Failing a release (facts gathered into the failure summary) and rolling it back.

`fail()` is called by the phase steps; `step_rolling_back()` by the driver, one step per run.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.utils import timezone

from dashboard import connections, failure, rollout, services, states
from dashboard.models import Release

log = logging.getLogger(__name__)
ROLLOUT_POLL = 0.25  # seconds between looks at a rollout in progress


def save(release: Release, **fields: Any) -> None:
    Release.objects.filter(pk=release.pk).update(**fields)
    for name, value in fields.items():
        setattr(release, name, value)


def container_image(dep: dict[str, Any], container: str) -> str:
    for c in dep["spec"]["template"]["spec"].get("containers", []):
        if c.get("name") == container:
            return str(c.get("image", ""))
    return ""


def report_progress(release: Release, prog: rollout.Progress) -> None:
    view = {"desired": prog.desired, "updated": prog.updated, "ready": prog.ready,
            "available": prog.available, "revision": prog.revision, "paused": prog.paused,
            "message": prog.message.strip()}
    if view == release.last_progress:
        return
    save(release, last_progress=view)
    services.record_event(
        release, "rollout",
        f"desired {prog.desired} updated {prog.updated} ready {prog.ready} "
        f"available {prog.available}: {view['message']}", view, publish_type="rollout.progress",
    )


# --- rolling back --------------------------------------------------------------------------

def step_rolling_back(release: Release) -> float | None:
    svc = release.service
    if release.patched_at is None:
        services.transition(release, states.ROLLED_BACK,
                            message="nothing to undo: the Deployment was never changed")
        return None
    kube = connections.kube(svc.cluster)
    dep = kube.deployment(svc.namespace, svc.deployment)
    now = timezone.now()
    if release.undo_sent_at is None:
        if dep["spec"].get("paused"):
            kube.resume(svc.namespace, svc.deployment)  # undo refuses a paused Deployment
        if container_image(dep, svc.container) != release.image_before:
            from dashboard.adapters.errors import AdapterError

            cause = f"rollback of release {release.pk} to revision {release.revision_before}"
            try:
                kube.undo(svc.namespace, svc.deployment, release.revision_before, cause)
            except AdapterError as exc:
                if exc.retryable or not release.image_before:
                    raise
                # The revision left the history: put the previous image back instead.
                kube.set_image(svc.namespace, svc.deployment, svc.container,
                               release.image_before, cause)
        save(release, undo_sent_at=now,
              deadline_at=now + timedelta(seconds=svc.rollout_timeout_seconds))
        services.record_event(release, "rollout", f"rolling back to revision "
                              f"{release.revision_before} ({release.image_before})",
                              {"revision": release.revision_before,
                               "image": release.image_before}, publish_type="release.event")
        return ROLLOUT_POLL
    prog = rollout.progress(dep, kube.replicasets(svc.namespace, dep))
    report_progress(release, prog)
    if prog.done:
        services.transition(release, states.ROLLED_BACK,
                            message=f"rolled back to revision {release.revision_before}")
        return None
    if release.deadline_at and now > release.deadline_at:
        services.transition(release, states.FAILED, message=(
            f"the rollback did not finish within {svc.rollout_timeout_seconds} s: "
            f"{prog.message.strip()}"))
        return None
    return ROLLOUT_POLL


# --- failing -------------------------------------------------------------------------------

def fail(release: Release, *, fatal: Any = (), pods: Any = None, events: Any = None,
         progress: rollout.Progress | None = None, timeout_seconds: int | None = None,
         reason: str = "", code: str = "") -> None:
    """Gather the facts, store the failure summary, fail (and maybe roll back)."""
    svc = release.service
    logs: dict[str, list[str]] = {}
    if release.patched_at is not None:
        kube = connections.kube(svc.cluster)
        try:
            if pods is None:
                dep = kube.deployment(svc.namespace, svc.deployment)
                pods = kube.pods(svc.namespace, dep["spec"].get("selector") or {})
            if events is None:
                events = kube.events(svc.namespace, since=release.patched_at)
            target = failure.log_target(fatal, [
                p for p in pods if not progress or not progress.pod_template_hash
                or (p["metadata"].get("labels") or {}).get(rollout.HASH_LABEL)
                == progress.pod_template_hash])
            if target:
                logs[f"{target[0]}/{target[1]}"] = kube.recent_logs(svc.namespace, *target)
        except Exception:
            # The summary is best-effort: failing (and rolling back) must not wait on it.
            log.warning("release %s: could not gather failure facts", release.pk, exc_info=True)
    elif release.build_id:
        chunks = (
            release.events.filter(kind="build.log").order_by("-seq")
            .values_list("message", flat=True)[:20]
        )
        logs["build"] = "".join(reversed(list(chunks))).splitlines()
    previous = (
        Release.objects.for_service(svc).succeeded().filter(id__lt=release.pk)
        .order_by("-id").first()
    )
    summary = failure.build_summary(
        fatal=fatal, pods=pods or (), events=events or (), logs=logs,
        commit_from=previous.commit_sha if previous else "", commit_to=release.commit_sha,
        digest_from=previous.image_digest if previous else "", digest_to=release.image_digest,
        progress=progress, deployment=svc.deployment, timeout_seconds=timeout_seconds,
        reason=reason, code=code,
    )
    services.fail_release(release, summary)
