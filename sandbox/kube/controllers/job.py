"""The Job controller (batch/v1), for the one-pod Jobs a pre-deploy step runs: create the pod,
count it, and finish the Job the way kube-controller-manager does.

Success: conditions SuccessCriteriaMet then Complete, `succeeded: 1`, completionTime.
Failure: a failed pod beyond `backoffLimit` (a new pod per allowed retry), or
`activeDeadlineSeconds` passed (the running pod is deleted): FailureTarget then Failed, with
reason BackoffLimitExceeded / DeadlineExceeded. `ttlSecondsAfterFinished` deletes the finished
Job (the garbage collector then deletes its pods). `completions`/`parallelism` above 1 and
indexed Jobs are not simulated: one pod at a time.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..clock import parse_stamp
from ..resources import JOBS, PODS
from .replicaset import controlled_by, is_ready

if TYPE_CHECKING:
    from ..cluster import Cluster

Obj = dict[str, Any]
COMPONENT = "job-controller"


def finished(job: Obj) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


class JobController:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.api = cluster.api
        self.clock = cluster.clock

    def sync(self) -> float | None:
        wake: float | None = None
        for job in self.cluster.store.list(JOBS):
            if job["metadata"].get("deletionTimestamp"):
                continue
            at = self.sync_one(job)
            if at is not None:
                wake = at if wake is None else min(wake, at)
        return wake

    def sync_one(self, job: Obj) -> float | None:
        meta, spec = job["metadata"], job.get("spec") or {}
        ns, now = meta["namespace"], self.clock.now()
        st: Obj = copy.deepcopy(job.get("status") or {})
        if finished(job):
            return self.expire(job, st, now)
        if spec.get("suspend"):
            return None
        pods = [p for p in self.cluster.store.list(PODS, ns)
                if controlled_by(p, meta["uid"])]
        failed = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
        succeeded = [p for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"]
        active = [p for p in pods if p not in failed and p not in succeeded
                  and not p["metadata"].get("deletionTimestamp")]
        st.setdefault("startTime", self.clock.stamp())
        started = parse_stamp(st["startTime"]) or now
        deadline = spec.get("activeDeadlineSeconds")
        wake: float | None = None
        if succeeded:
            self.finish(job, st, "Complete", "", "", len(failed), 1, active)
        elif len(failed) > int(spec.get("backoffLimit", 6)):
            self.finish(job, st, "Failed", "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit", len(failed), 0, active)
        elif deadline is not None and now >= started + float(deadline):
            self.finish(job, st, "Failed", "DeadlineExceeded",
                        "Job was active longer than specified deadline", len(failed), 0, active)
        else:
            if not active:
                active = [self.create_pod(job)]
            if deadline is not None:
                wake = started + float(deadline)
            st.update({"active": len(active), "failed": len(failed),
                       "ready": sum(1 for p in active if is_ready(p))})
            self.write_status(job, {k: v for k, v in st.items() if v or k == "startTime"})
        return wake

    def create_pod(self, job: Obj) -> Obj:
        meta = job["metadata"]
        template = copy.deepcopy(job["spec"]["template"])
        pod_meta = template.get("metadata") or {}
        pod_meta["generateName"] = f"{meta['name']}-"
        pod_meta["namespace"] = meta["namespace"]
        pod_meta["ownerReferences"] = [{
            "apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True,
        }]
        pod = self.api.create(PODS, meta["namespace"],
                              {"metadata": pod_meta, "spec": template.get("spec") or {}})
        self.cluster.recorder.emit(job, "Normal", "SuccessfulCreate",
                                   f"Created pod: {pod['metadata']['name']}", COMPONENT)
        return pod

    def finish(self, job: Obj, st: Obj, kind: str, reason: str, message: str, failed: int,
               succeeded: int, active: list[Obj]) -> None:
        stamp = self.clock.stamp()
        for pod in active:  # a deadline or the backoff limit ends the pods still running
            self.api.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        first = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
        conds = [{"type": t, "status": "True", "lastProbeTime": stamp,
                  "lastTransitionTime": stamp, **({"reason": reason, "message": message}
                                                  if reason else {})} for t in (first, kind)]
        st = {k: v for k, v in st.items() if k not in ("active", "ready")}
        st.update({"conditions": conds, "failed": failed, "succeeded": succeeded,
                   "ready": 0, "terminating": 0})
        if kind == "Complete":
            st["completionTime"] = stamp
        self.write_status(job, {k: v for k, v in st.items() if v or k in ("ready",)})
        if kind == "Complete":
            self.cluster.recorder.emit(job, "Normal", "Completed", "Job completed", COMPONENT)
        else:
            self.cluster.recorder.emit(job, "Warning", reason, message, COMPONENT)

    def expire(self, job: Obj, st: Obj, now: float) -> float | None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return None
        done_at = max((parse_stamp(c.get("lastTransitionTime")) or 0.0)
                      for c in st.get("conditions") or [{}])
        at = done_at + float(ttl)  # a real-time clean-up, like progress deadlines
        if now < at:
            return at
        self.api.delete(JOBS, job["metadata"]["namespace"], job["metadata"]["name"])
        return None

    def write_status(self, job: Obj, st: Obj) -> None:
        if (job.get("status") or {}) == st:
            return
        new = copy.deepcopy(job)
        new["status"] = st
        self.api.update(JOBS, job["metadata"]["namespace"], job["metadata"]["name"], new,
                        "status")
