"""Step rollouts, inside DEPLOYING: "1 pod, bake, then the rest" for a Service whose
rollout_steps is e.g. [1]. Phases of one step (kept in Release.rollout_step):

    scaling    the Deployment rolls as usual until the new ReplicaSet is sized to the step,
               then it is paused (`kubectl rollout pause`). With maxSurge 1 the controller
               cannot grow the new ReplicaSet again before one of its pods is available, so
               the pause lands in time, and with maxUnavailable 0 no old pod went away.
    starting   the step's new pods become available
    verifying  each new pod's own health path, through the API server's pod proxy, answers
               200 `verify_successes` times in a row
    baking     `bake_seconds` pass (or a person presses Continue now) while the new pods are
               watched for restarts (fatal states fail the release in roll_out, as always)
    -> resume, next step; after the last one the rollout runs to the end as usual.

A failure in any phase fails the release (and rolls back, when the Service says so).
Rollbacks never step: they go back at once.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from dashboard import rollout, states
from dashboard.models import Release
from dashboard.releases import lifecycle
from dashboard.releases.failing import fail
from dashboard.rollout import HASH_LABEL

POLL = 0.25
PROBE_GAP = 0.05
SCALING_WATCH, SCALING_GAP = 2.0, 0.02


def active(release: Release) -> bool:
    """Does this release still have steps to take?"""
    steps = release.service.rollout_steps or []
    return (release.kind == states.KIND_DEPLOY and bool(steps)
            and int((release.rollout_step or {}).get("index", 0)) < len(steps))


def view(release: Release) -> dict[str, Any]:
    """What the live page shows: step n of m, the phase, seconds of bake left."""
    st = release.rollout_step or {}
    steps = release.service.rollout_steps or []
    if not st or release.state != states.DEPLOYING:
        return {}
    left = None
    if st.get("phase") == "baking" and st.get("bake_until"):
        until = datetime.fromisoformat(st["bake_until"])
        left = max(0, int((until - timezone.now()).total_seconds()))
    return {"number": int(st.get("index", 0)) + 1, "of": len(steps), "pods": st.get("pods"),
            "phase": st.get("phase", ""), "bake_seconds_left": left,
            "bake_until": st.get("bake_until")}


def step(release: Release, kube: Any, dep: dict[str, Any], replicasets: list[dict[str, Any]],
         prog: rollout.Progress) -> float | None:
    """One look at the current step; None once every step is taken (roll out as usual)."""
    svc = release.service
    steps = svc.rollout_steps
    st = dict(release.rollout_step or {})
    index = int(st.get("index", 0))
    replicas = int((dep.get("spec") or {}).get("replicas") or 1)
    want = min(int(steps[index]), max(replicas - 1, 1))
    phase = st.get("phase") or "scaling"
    new = rollout.new_replicaset(dep, replicasets)
    label = f"step {index + 1}/{len(steps)}"
    if phase == "scaling":
        # The controller sizes the new ReplicaSet within moments of the image change (or
        # of the last resume): look closely for a short while, so the pause lands before
        # the step's pods can be available and the controller could grow the set further.
        watch_until = time.monotonic() + SCALING_WATCH
        while new is None or int((new.get("spec") or {}).get("replicas") or 0) < want:
            if time.monotonic() > watch_until:
                return POLL
            time.sleep(SCALING_GAP)
            dep = kube.deployment(svc.namespace, svc.deployment)
            new = rollout.new_replicaset(dep, kube.replicasets(svc.namespace, dep))
        if not (dep.get("spec") or {}).get("paused"):
            kube.pause(svc.namespace, svc.deployment)
        _save(release, st, phase="starting", pods=want, index=index)
        lifecycle.record_event(release, "step", f"{label}: paused with {want} new pod(s)",
                               {"step": index + 1, "pods": want}, publish_type="rollout.step")
        return POLL
    pods = [p for p in kube.pods(svc.namespace, dep["spec"].get("selector") or {})
            if (p["metadata"].get("labels") or {}).get(HASH_LABEL) == prog.pod_template_hash
            and not p["metadata"].get("deletionTimestamp")]
    ready = [p for p in pods if _ready(p)]
    if phase == "starting":
        available = int(((new or {}).get("status") or {}).get("availableReplicas") or 0)
        if available < want or len(ready) < want:
            return POLL
        phase = "verifying"
    if phase == "verifying":
        return _verify(release, kube, st, ready[:want], dep, label, index)
    # baking
    restarts = st.get("restarts") or {}
    for p in pods:
        name = p["metadata"]["name"]
        now_count = _restarts(p)
        if name in restarts and now_count > restarts[name]:
            fail(release, code="StepBakeFailed", pod=name, container=svc.container,
                 reason=f"StepBakeFailed: new pod {name} restarted during the bake of "
                        f"{label} ({now_count} restarts)")
            return 0
    until = datetime.fromisoformat(st["bake_until"])
    now = timezone.now()
    pressed = release.step_continue_at
    early = (pressed is not None and pressed >= datetime.fromisoformat(st["baking_since"])
             and now < until)
    if now < until and not early:
        return POLL
    kube.resume(svc.namespace, svc.deployment)
    why = "continued by hand" if early else f"baked {svc.bake_seconds} s"
    _save(release, {}, index=index + 1, phase="scaling")
    lifecycle.record_event(release, "step", f"{label}: {why}; resuming",
                           {"step": index + 1, "continued": early}, publish_type="rollout.step")
    return 0


def _verify(release: Release, kube: Any, st: dict[str, Any], pods: list[dict[str, Any]],
            dep: dict[str, Any], label: str, index: int) -> float | None:
    svc = release.service
    port = _container_port(dep, svc.container)
    needed = svc.verify_successes
    for pod in pods:
        name = pod["metadata"]["name"]
        for n in range(needed):
            status, body = kube.pod_proxy_get(svc.namespace, name, port, svc.health_path)
            if status != 200:
                fail(release, code="StepVerifyFailed", pod=name, container=svc.container,
                     reason=f"StepVerifyFailed: new pod {name} answered {status} on "
                            f"{svc.health_path} ({n}/{needed} in a row) in {label}: "
                            f"{body[:200]}")
                return 0
            if n + 1 < needed:
                time.sleep(PROBE_GAP)
    now = timezone.now()
    until = now + timedelta(seconds=svc.bake_seconds)
    _save(release, st, phase="baking", bake_until=until.isoformat(),
          baking_since=now.isoformat(),
          restarts={p["metadata"]["name"]: _restarts(p) for p in pods}, index=index)
    if release.deadline_at is not None:  # the bake is not the rollout being slow
        lifecycle.save(release, deadline_at=release.deadline_at + timedelta(
            seconds=svc.bake_seconds))
    lifecycle.record_event(
        release, "step", f"{label}: {len(pods)} new pod(s) answered {svc.health_path} 200 "
        f"{needed} times; baking {svc.bake_seconds} s",
        {"step": index + 1, "pods": [p["metadata"]["name"] for p in pods],
         "bake_until": until.isoformat()}, publish_type="rollout.step")
    return POLL


def _save(release: Release, st: dict[str, Any], **changes: Any) -> None:
    lifecycle.save(release, rollout_step={**st, **changes})


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _restarts(pod: dict[str, Any]) -> int:
    return sum(int(cs.get("restartCount") or 0)
               for cs in (pod.get("status") or {}).get("containerStatuses") or [])


def _container_port(dep: dict[str, Any], container: str) -> int | str:
    for c in ((dep.get("spec") or {}).get("template") or {}).get("spec", {}).get(
            "containers") or []:
        if c.get("name") == container:
            for p in c.get("ports") or []:
                return int(p.get("containerPort") or 80)
    return 80
