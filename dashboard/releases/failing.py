"""The failure path: gather what explains a failure (the doomed pod, its exit code and last
log lines, Warning events, what changed since the previous good release; the build log when
the cluster was never touched), store it as the release's failure summary and fail the release
(lifecycle.fail_release, which also starts the rollback when the Service says so).
"""

from __future__ import annotations

import logging
from typing import Any

from dashboard import rollout
from dashboard.adapters import clients
from dashboard.models import Release
from dashboard.releases import lifecycle, observe
from dashboard.rollout import summary

log = logging.getLogger(__name__)


def fail(release: Release, *, fatal: Any = (), pods: Any = None, events: Any = None,
         progress: rollout.Progress | None = None, timeout_seconds: int | None = None,
         reason: str = "", code: str = "", pod: str = "", container: str = "",
         exit_code: int | None = None, rollback: bool = True,
         extra: dict[str, Any] | None = None) -> None:
    """Gather the facts, store the failure summary, fail (and maybe roll back). `pod`,
    `container`, `exit_code` name what failed when no Fatal does (the pre-deploy Job);
    `rollback=False` never rolls back (a foreign write: the cluster is someone else's now)."""
    svc = release.service
    logs: dict[str, list[str]] = {}
    if release.patched_at is not None:
        kube = clients.kube(svc.cluster)
        try:
            if pods is None:
                dep = kube.deployment(svc.namespace, svc.deployment)
                pods = kube.pods(svc.namespace, dep["spec"].get("selector") or {})
            if events is None:
                events = kube.events(svc.namespace, since=release.patched_at)
            mine = [p for p in pods if not progress or not progress.pod_template_hash
                    or (p["metadata"].get("labels") or {}).get(rollout.HASH_LABEL)
                    == progress.pod_template_hash]
            target = summary.log_target(fatal, mine)
            if target:
                logs[f"{target[0]}/{target[1]}"] = kube.recent_logs(svc.namespace, *target)
            observe.keep_logs_quietly(release, kube, mine)
        except Exception:
            # The summary is best-effort: failing (and rolling back) must not wait on it.
            log.warning("release %s: could not gather failure facts", release.pk, exc_info=True)
    elif release.pre_deploy_job:
        logs[f"job/{release.pre_deploy_job}"] = release.pre_deploy_log.splitlines()
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
    facts = summary.build_summary(
        fatal=fatal, pods=pods or (), events=events or (), logs=logs,
        commit_from=previous.commit_sha if previous else "", commit_to=release.commit_sha,
        digest_from=previous.image_digest if previous else "", digest_to=release.image_digest,
        progress=progress, deployment=svc.deployment, timeout_seconds=timeout_seconds,
        reason=reason, code=code,
    )
    if pod:
        facts.update(pod=pod, container=container, exit_code=exit_code)
    if release.pre_deploy_job:
        facts["pre_deploy_job"] = release.pre_deploy_job
    if release.pre_deploy_exit_code == 0 and release.patched_at is not None:
        # The Job ran its migrations before the rollout failed: undoing the Deployment does
        # not undo them, and whoever reads the card must know.
        facts["schema_moved_on"] = {"job": release.pre_deploy_job,
                                    "output": release.pre_deploy_log.splitlines()[-10:]}
    facts.update(extra or {})
    lifecycle.fail_release(release, facts, rollback=rollback)
