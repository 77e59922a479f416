"""Per-pod simulation state and the pod status the kubelet reports from it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...registry import Image
    from ..clock import Clock

Obj = dict[str, Any]
NODES = (
    "gke-sandbox-pool-1-8f2c41d0-5v7q",
    "gke-sandbox-pool-1-8f2c41d0-k2x9",
    "gke-sandbox-pool-1-8f2c41d0-w4nm",
)


def backoff(failures: int) -> float:
    """Kubelet back-off: 10s, 20s, 40s ... capped at 300s (simulated seconds)."""
    return float(min(10 * 2 ** max(failures - 1, 0), 300))


@dataclass
class PodSim:
    next_at: float | None
    stage: str = "new"
    node_index: int = 0
    ip: str = ""
    image: Image | None = None
    pull_failures: int = 0
    waiting: tuple[str, str | None] | None = ("ContainerCreating", None)
    running_since: float | None = None
    started_once: bool = False
    ready: bool = False
    ready_at: float | None = None
    never_ready: bool = False
    first_probe: float | None = None
    period: float = 10.0
    restarts: int = 0
    last_terminated: tuple[float, float] | None = None
    exit_code: int | None = None  # a run-to-completion (Job) container that has exited
    exited_at: float | None = None


def _condition(old: Obj, kind: str, value: bool, stamp: str) -> Obj:
    text = "True" if value else "False"
    prev = next((c for c in old.get("conditions") or [] if c["type"] == kind), None)
    since = prev["lastTransitionTime"] if prev and prev["status"] == text else stamp
    cond: Obj = {"type": kind, "status": text, "lastProbeTime": None, "lastTransitionTime": since}
    if not value and kind in ("Ready", "ContainersReady"):
        cond["reason"] = "ContainersNotReady"
    return cond


def build_status(pod: Obj, sim: PodSim, clock: Clock, old: Obj) -> Obj:
    now = clock.stamp()
    st: Obj = {"phase": "Pending", "qosClass": old.get("qosClass", "Burstable")}
    scheduled = bool(pod["spec"].get("nodeName"))
    running = sim.running_since is not None and sim.waiting is None
    if sim.started_once:
        st["phase"] = "Running"
    conds = [_condition(old, "PodReadyToStartContainers", sim.stage not in ("new", "scheduled"),
                        now),
             _condition(old, "Initialized", scheduled, now),
             _condition(old, "Ready", sim.ready and running, now),
             _condition(old, "ContainersReady", sim.ready and running, now),
             _condition(old, "PodScheduled", scheduled, now)]
    if not scheduled:
        return {"phase": "Pending", "qosClass": st["qosClass"]}
    if sim.exit_code is not None:
        return finished_status(pod, sim, clock, old, conds)
    st["conditions"] = conds
    st["hostIP"] = f"10.128.0.{sim.node_index + 2}"
    st["hostIPs"] = [{"ip": st["hostIP"]}]
    if sim.ip and sim.stage not in ("new", "scheduled"):
        st["podIP"] = sim.ip
        st["podIPs"] = [{"ip": sim.ip}]
    st["startTime"] = old.get("startTime") or now
    statuses = []
    for c in pod["spec"].get("containers") or []:
        cs: Obj = {
            "name": c["name"], "image": c.get("image", ""), "imageID": "",
            "ready": bool(sim.ready and running), "restartCount": sim.restarts,
            "started": running,
        }
        if sim.image is not None:
            cs["imageID"] = f"{sim.image.repository}@{sim.image.digest}"
        if running:
            cid = hashlib.sha256(f"{pod['metadata']['uid']}{c['name']}{sim.restarts}".encode())
            cs["containerID"] = f"containerd://{cid.hexdigest()}"
            cs["state"] = {"running": {"startedAt": clock.stamp(sim.running_since)}}
        else:
            reason, message = sim.waiting or ("ContainerCreating", None)
            waiting: Obj = {"reason": reason}
            if message:
                waiting["message"] = message
            cs["state"] = {"waiting": waiting}
        if sim.last_terminated:
            started, finished = sim.last_terminated
            cs["lastState"] = {"terminated": {
                "exitCode": 1, "reason": "Error", "startedAt": clock.stamp(started),
                "finishedAt": clock.stamp(finished),
                "containerID": f"containerd://{'0' * 64}"}}
        else:
            cs["lastState"] = {}
        statuses.append(cs)
    st["containerStatuses"] = statuses
    return st


def finished_status(pod: Obj, sim: PodSim, clock: Clock, old: Obj, conds: list[Obj]) -> Obj:
    """A pod whose containers ran to completion (restartPolicy Never): Succeeded or Failed,
    each container `terminated` with its exit code, as the kubelet reports a Job's pod."""
    code = sim.exit_code or 0
    stamp = clock.stamp(sim.exited_at)
    for c in conds:
        if c["type"] in ("Ready", "ContainersReady"):
            c["reason"] = "PodCompleted"
    st: Obj = {"phase": "Failed" if code else "Succeeded", "qosClass": old.get("qosClass",
               "Burstable"), "conditions": conds, "hostIP": f"10.128.0.{sim.node_index + 2}",
               "startTime": old.get("startTime") or stamp}
    st["hostIPs"] = [{"ip": st["hostIP"]}]
    if sim.ip:
        st["podIP"] = sim.ip
        st["podIPs"] = [{"ip": sim.ip}]
    statuses = []
    for c in pod["spec"].get("containers") or []:
        cid = hashlib.sha256(f"{pod['metadata']['uid']}{c['name']}".encode()).hexdigest()
        statuses.append({
            "name": c["name"], "image": c.get("image", ""), "ready": False, "restartCount": 0,
            "started": False, "lastState": {},
            "imageID": f"{sim.image.repository}@{sim.image.digest}" if sim.image else "",
            "containerID": f"containerd://{cid}",
            "state": {"terminated": {
                "exitCode": code, "reason": "Error" if code else "Completed",
                "startedAt": clock.stamp(sim.running_since), "finishedAt": stamp,
                "containerID": f"containerd://{cid}"}},
        })
    st["containerStatuses"] = statuses
    return st
