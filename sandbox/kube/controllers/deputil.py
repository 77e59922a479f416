"""Pure helpers of the deployment controller: fenceposts, hashing, conditions and status math.

Follows shared/reference/kubernetes-semantics.md §3 (upstream pkg/controller/deployment/util).
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
# Deployment annotations that are not copied onto ReplicaSets.
SKIP_ANNOTATIONS = {
    "kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY, DESIRED,
    MAX_REPLICAS, "deprecated.deployment.rollback.to",
}
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
TIMED_OUT = "ProgressDeadlineExceeded"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"


def replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status(obj: Obj, key: str) -> int:
    return int((obj.get("status") or {}).get(key) or 0)


def _scaled(value: Any, total: int, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        exact = total * int(value[:-1]) / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable): surge rounds up, unavailable down; never both 0."""
    strategy = d["spec"].get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    ru = strategy.get("rollingUpdate") or {}
    n = replicas(d)
    surge = _scaled(ru.get("maxSurge"), n, True)
    unavailable = _scaled(ru.get("maxUnavailable"), n, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, n)


def max_unavailable(d: Obj) -> int:
    if replicas(d) == 0:
        return 0
    return fenceposts(d)[1]


def _strip_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def templates_equal(a: Obj, b: Obj) -> bool:
    return _strip_hash(a) == _strip_hash(b)


def pod_template_hash(template: Obj, collisions: int | None) -> str:
    """FNV-32a over a stable dump, then SafeEncodeString, like controller.ComputeHash."""
    data = json.dumps(template, sort_keys=True).encode()
    if collisions:
        data += str(collisions).encode()
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in str(h))


def revision(obj: Obj) -> int:
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0")
    try:
        return int(text)
    except ValueError:
        return 0


def by_creation(rss: list[Obj]) -> list[Obj]:
    return sorted(rss, key=lambda r: (r["metadata"]["creationTimestamp"], r["metadata"]["name"]))


def find_new(d: Obj, rss: list[Obj]) -> Obj | None:
    for rs in by_creation(rss):
        if templates_equal(rs["spec"]["template"], d["spec"]["template"]):
            return rs
    return None


def active(rss: list[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def get_condition(st: Obj, kind: str) -> Obj | None:
    return next((c for c in st.get("conditions") or [] if c["type"] == kind), None)


def new_condition(kind: str, cond_status: str, reason: str, message: str, now: str) -> Obj:
    return {"type": kind, "status": cond_status, "lastUpdateTime": now,
            "lastTransitionTime": now, "reason": reason, "message": message}


def set_condition(st: Obj, cond: Obj) -> None:
    """Same status and reason: no change; same status: keep lastTransitionTime; move to end."""
    current = get_condition(st, cond["type"])
    if current and current["status"] == cond["status"] and current["reason"] == cond["reason"]:
        return
    if current and current["status"] == cond["status"]:
        cond["lastTransitionTime"] = current["lastTransitionTime"]
    remove_condition(st, cond["type"])
    st.setdefault("conditions", []).append(cond)


def remove_condition(st: Obj, kind: str) -> None:
    conds = [c for c in st.get("conditions") or [] if c["type"] != kind]
    if conds:
        st["conditions"] = conds
    else:
        st.pop("conditions", None)


def calculate_status(d: Obj, all_rss: list[Obj], new_rs: Obj | None, now: str) -> Obj:
    available = sum(status(rs, "availableReplicas") for rs in all_rss)
    total_desired = sum(replicas(rs) for rs in all_rss)
    st: Obj = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": sum(status(rs, "replicas") for rs in all_rss),
        "updatedReplicas": status(new_rs, "replicas") if new_rs else 0,
        "readyReplicas": sum(status(rs, "readyReplicas") for rs in all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total_desired - available),
    }
    old = d.get("status") or {}
    if old.get("collisionCount") is not None:
        st["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        st["conditions"] = copy.deepcopy(old["conditions"])
    if available >= replicas(d) - max_unavailable(d):
        cond = new_condition("Available", "True", "MinimumReplicasAvailable",
                             "Deployment has minimum availability.", now)
    else:
        cond = new_condition("Available", "False", "MinimumReplicasUnavailable",
                             "Deployment does not have minimum availability.", now)
    set_condition(st, cond)
    # Drop zero counters the API omits (omitempty), so status compares equal across syncs.
    return {k: v for k, v in st.items() if v not in (0, None) or k == "observedGeneration"}


def complete(d: Obj, st: Obj) -> bool:
    n = replicas(d)
    return (
        st.get("updatedReplicas", 0) == n
        and st.get("replicas", 0) == n
        and st.get("availableReplicas", 0) == n
        and st.get("observedGeneration", 0) >= d["metadata"].get("generation", 1)
    )


def progressing(d: Obj, st: Obj) -> bool:
    old = d.get("status") or {}

    def g(s: Obj, k: str) -> int:
        return int(s.get(k) or 0)

    return (
        g(st, "updatedReplicas") > g(old, "updatedReplicas")
        or g(st, "replicas") - g(st, "updatedReplicas")
        < g(old, "replicas") - g(old, "updatedReplicas")
        or g(st, "readyReplicas") > g(old, "readyReplicas")
        or g(st, "availableReplicas") > g(old, "availableReplicas")
    )


def has_deadline(d: Obj) -> bool:
    value = d["spec"].get("progressDeadlineSeconds")
    return value is not None and value != 2**31 - 1
