"""MIGRATING: the pre-deploy Job (e.g. `python manage.py migrate --noinput`) runs the new image
before the Deployment is touched.

The Job is built from the Deployment's own pod template (same env, secrets, service account)
with the new image and the Service's command (dashboard.rollout.predeploy.build_job), named
after the release: a re-run after a crash or a retry finds the Job it created instead of
creating a second one. While it runs, its pod's log is followed into the timeline and its pod
is judged by the rollout's fail-fast rules (an image that never pulls fails like a pod). A
failed Job fails the release with its last log lines and exit code; nothing was changed in the
cluster, so nothing is rolled back. A rollback release never comes here (it starts deploying).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from dashboard import rollout, states
from dashboard.adapters import clients
from dashboard.adapters.errors import AdapterError
from dashboard.models import Release
from dashboard.releases import lifecycle
from dashboard.releases.failing import fail
from dashboard.rollout import predeploy

JOB_POLL = 0.25
LOG_LIMIT = 64_000  # characters of Job output kept on the release (migrations print little)
GRACE_SECONDS = 30  # past the Job's own deadline, in case its controller never says so


def migrate(release: Release) -> float | None:
    svc = release.service
    kube = clients.kube(svc.cluster)
    name = predeploy.job_name(svc.deployment, release.pk)
    if not release.pre_deploy_job:
        if kube.job(svc.namespace, name) is None:
            dep = kube.deployment(svc.namespace, svc.deployment)
            try:
                body = predeploy.build_job(
                    dep, name=name, container=svc.container, image=release.image,
                    command=svc.pre_deploy_command, release_id=release.pk,
                    deadline_seconds=svc.pre_deploy_deadline_seconds)
            except ValueError as exc:
                fail(release, code="PreDeployFailed", reason=f"PreDeployFailed: {exc}")
                return 0
            kube.create_job(svc.namespace, body)
        lifecycle.save(release, pre_deploy_job=name)
        lifecycle.record_event(
            release, "predeploy", f"pre-deploy Job {name}: {' '.join(svc.pre_deploy_command)}",
            {"job": name, "command": svc.pre_deploy_command, "image": release.image},
            publish_type="release.event")
        return JOB_POLL
    job = kube.job(svc.namespace, name)
    if job is None:
        fail(release, code="PreDeployFailed",
             reason=f"PreDeployFailed: the pre-deploy Job {name} was deleted before it finished")
        return 0
    pods = kube.pods(svc.namespace, (job.get("spec") or {}).get("selector") or {})
    _follow_log(release, kube, pods)
    out = predeploy.outcome(job, pods)
    if out.done and out.succeeded:
        lifecycle.save(release, pre_deploy_exit_code=out.exit_code or 0)
        lifecycle.transition(release, states.DEPLOYING,
                             message=f"pre-deploy Job {name} completed",
                             data={"job": name, "exit_code": out.exit_code or 0})
        return 0
    if out.done:
        lifecycle.save(release, pre_deploy_exit_code=out.exit_code)
        code = f"; container {svc.container} exited with code {out.exit_code}" \
            if out.exit_code is not None else ""
        fail(release, code="PreDeployFailed", pod=out.pod, container=svc.container,
             exit_code=out.exit_code,
             reason=f"PreDeployFailed: the pre-deploy Job {name} failed "
                    f"({out.reason or 'Failed'}: {out.message}){code}; the Deployment was not "
                    "changed")
        return 0
    return _judge_pods(release, kube, name, pods)


def _judge_pods(release: Release, kube: Any, name: str, pods: list[dict[str, Any]]
                ) -> float | None:
    """Fail fast on a Job pod that can never run (krane's rules, as for the rollout)."""
    svc = release.service
    now = timezone.now()
    started = release.phase_started_at or now
    events = kube.events(svc.namespace, since=started - timedelta(seconds=5),
                         involved_names=[p["metadata"]["name"] for p in pods])
    sightings = dict(release.sightings)
    fatal = rollout.fatal_reasons(pods, events, rollout.merge_policy(svc.failfast_policy),
                                  sightings, now)
    lifecycle.save(release, sightings=sightings)
    if fatal:
        first = fatal[0]
        fail(release, fatal=fatal, code="PreDeployFailed", pod=first.pod,
             container=first.container, exit_code=first.exit_code,
             reason=f"PreDeployFailed: the pre-deploy Job {name} cannot run: {first.reason}: "
                    f"{first.message}; the Deployment was not changed")
        return 0
    if (now - started).total_seconds() > svc.pre_deploy_deadline_seconds + GRACE_SECONDS:
        fail(release, code="PreDeployFailed",
             reason=f"PreDeployFailed: the pre-deploy Job {name} did not finish within "
                    f"{svc.pre_deploy_deadline_seconds} s")
        return 0
    return JOB_POLL


def _follow_log(release: Release, kube: Any, pods: list[dict[str, Any]]) -> None:
    """Append the Job pod's new output to the timeline (and keep all of it on the release)."""
    if not pods:
        return
    pod = max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))
    try:
        text = kube.pod_log(release.service.namespace, pod["metadata"]["name"],
                            release.service.container, tail_lines=2000)
    except AdapterError:
        return  # not started yet (or gone): the next look tries again
    stored = release.pre_deploy_log
    if not text or text == stored or len(stored) >= LOG_LIMIT:
        return
    new = text[len(stored):] if text.startswith(stored) else text
    lifecycle.save(release, pre_deploy_log=(stored + new)[:LOG_LIMIT] if text.startswith(stored)
                   else text[:LOG_LIMIT])
    lifecycle.record_event(release, "predeploy.log", new, {"job": release.pre_deploy_job},
                           publish_type="predeploy.log")
