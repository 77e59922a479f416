"""The ReplicaSet controller: create/delete pods to match spec.replicas, publish counts."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..clock import parse_stamp
from ..resources import PODS, REPLICASETS
from . import deputil as u

if TYPE_CHECKING:
    from ..cluster import Cluster

Obj = dict[str, Any]


def is_ready(pod: Obj) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


def ready_since(pod: Obj) -> float | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c["type"] == "Ready" and c["status"] == "True":
            return parse_stamp(c.get("lastTransitionTime"))
    return None


def controlled_by(obj: Obj, uid: str) -> bool:
    return any(o.get("uid") == uid and o.get("controller")
               for o in obj["metadata"].get("ownerReferences") or [])


def deletion_rank(pod: Obj) -> tuple[Any, ...]:
    """Worst first, as ActivePodsWithRanks orders pods to delete."""
    st = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(st.get("phase", "Pending"), 0)
    restarts = sum(cs.get("restartCount", 0) for cs in st.get("containerStatuses") or [])
    since = ready_since(pod) or 0.0
    return (
        1 if pod["spec"].get("nodeName") else 0, phase_rank, 1 if is_ready(pod) else 0,
        -since, -restarts, -(parse_stamp(pod["metadata"]["creationTimestamp"]) or 0.0),
    )


class ReplicaSetController:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.api = cluster.api
        self.clock = cluster.clock

    def sync(self) -> float | None:
        wake: float | None = None
        pods_by_ns: dict[str, list[Obj]] = {}
        for rs in self.cluster.store.list(REPLICASETS):
            ns = rs["metadata"]["namespace"]
            if ns not in pods_by_ns:
                pods_by_ns[ns] = self.cluster.store.list(PODS, ns)
            at = self.sync_one(rs, pods_by_ns[ns])
            if at is not None:
                wake = at if wake is None else min(wake, at)
            if self.changed:
                pods_by_ns.pop(ns, None)
        return wake

    def sync_one(self, rs: Obj, pods: list[Obj]) -> float | None:
        self.changed = False
        uid = rs["metadata"]["uid"]
        mine = [p for p in pods if controlled_by(p, uid)]
        alive = [p for p in mine if not p["metadata"].get("deletionTimestamp")
                 and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")]
        diff = u.replicas(rs) - len(alive)
        if rs["metadata"].get("deletionTimestamp"):
            diff = 0
        if diff > 0:
            for _ in range(min(diff, 500)):
                pod = self.create_pod(rs)
                alive.append(pod)
                self.cluster.recorder.emit(rs, "Normal", "SuccessfulCreate",
                                           f"Created pod: {pod['metadata']['name']}",
                                           "replicaset-controller")
            self.changed = True
        elif diff < 0:
            victims = sorted(alive, key=deletion_rank)[:-diff]
            for pod in victims:
                self.api.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
                self.cluster.recorder.emit(rs, "Normal", "SuccessfulDelete",
                                           f"Deleted pod: {pod['metadata']['name']}",
                                           "replicaset-controller")
                alive.remove(pod)
            self.changed = True
        return self.update_status(rs, alive)

    def create_pod(self, rs: Obj) -> Obj:
        template = copy.deepcopy(rs["spec"]["template"])
        meta = template.get("metadata") or {}
        meta["generateName"] = f"{rs['metadata']['name']}-"
        meta["namespace"] = rs["metadata"]["namespace"]
        meta["ownerReferences"] = [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
            "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True,
        }]
        body = {"metadata": meta, "spec": template.get("spec") or {}}
        return self.api.create(PODS, rs["metadata"]["namespace"], body)

    def update_status(self, rs: Obj, alive: list[Obj]) -> float | None:
        min_ready = rs["spec"].get("minReadySeconds", 0) or 0
        now = self.clock.now()
        wake: float | None = None
        ready = available = 0
        for pod in alive:
            if not is_ready(pod):
                continue
            ready += 1
            since = ready_since(pod) or now
            if min_ready == 0 or since + min_ready <= now:
                available += 1
            else:
                at = since + min_ready
                wake = at if wake is None else min(wake, at)
        labels = rs["spec"]["template"].get("metadata", {}).get("labels") or {}
        fully = sum(1 for p in alive if all(
            (p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items()))
        st: Obj = {"replicas": len(alive), "fullyLabeledReplicas": fully,
                   "readyReplicas": ready, "availableReplicas": available,
                   "observedGeneration": rs["metadata"].get("generation", 1)}
        st = {k: v for k, v in st.items() if v or k in ("replicas", "observedGeneration")}
        current = self.cluster.store.get(REPLICASETS, rs["metadata"]["namespace"],
                                         rs["metadata"]["name"])
        if current is not None and (current.get("status") or {}) != st:
            new = copy.deepcopy(current)
            new["status"] = st
            self.api.update(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"],
                            new, "status")
        return wake
