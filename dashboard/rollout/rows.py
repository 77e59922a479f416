"""Normalise Kubernetes objects (raw API JSON) into the small rows the browser shows.

Rows carry nothing that changes without a visible change (no age, only start times), so the
watcher can publish a row only when its digest changes. `rv` (the object's resourceVersion)
rides along for latency measurement and is left out of the digest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from dashboard.rollout.objects import REVISION, annotations_of, meta, revision_of
from dashboard.rollout.status import new_replicaset as rollout_new_replicaset
from dashboard.rollout.status import progress

Obj = dict[str, Any]
VOLATILE = ("rv",)

__all__ = ["controller_uid", "digest", "event_row", "meta", "new_replicaset", "pod_row",
           "revision", "rollout_row"]


def digest(row: Obj) -> str:
    stable = {k: v for k, v in row.items() if k not in VOLATILE}
    return hashlib.sha1(
        json.dumps(stable, sort_keys=True, default=str).encode(), usedforsecurity=False
    ).hexdigest()


def controller_uid(obj: Obj) -> str | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def revision(obj: Obj) -> str:
    return str(annotations_of(obj).get(REVISION, ""))


def _waiting_reason(pod: Obj) -> str:
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        for phase in ("waiting", "terminated"):
            reason = (state.get(phase) or {}).get("reason")
            if reason and reason != "Completed":
                return str(reason)
    return ""


def pod_row(pod: Obj, rs: Obj | None, new_rs_uid: str | None) -> Obj:
    m, spec, status = meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len(spec.get("containers") or []) or len(statuses)
    ready = sum(1 for cs in statuses if cs.get("ready"))
    reason = "Terminating" if m.get("deletionTimestamp") else (
        status.get("reason") or _waiting_reason(pod)
    )
    last = {}
    for cs in statuses:
        term = (cs.get("lastState") or {}).get("terminated")
        if term:
            last = {"reason": term.get("reason"), "exit_code": term.get("exitCode")}
    return {
        "name": m.get("name"),
        "phase": status.get("phase") or "Pending",
        "ready": f"{ready}/{total}",
        "all_ready": total > 0 and ready == total,
        "restarts": sum(int(cs.get("restartCount") or 0) for cs in statuses),
        "reason": reason,
        "last_terminated": last or None,
        "created": m.get("creationTimestamp"),
        "started": status.get("startTime"),
        "node": spec.get("nodeName") or "",
        "image": next((c.get("image") for c in spec.get("containers") or []), ""),
        "revision": revision(rs) if rs else "",
        "new": bool(rs is not None and meta(rs).get("uid") == new_rs_uid),
        "rv": m.get("resourceVersion"),
    }


def event_row(event: Obj) -> Obj:
    m, involved = meta(event), event.get("involvedObject") or {}
    at = (event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
          or m.get("creationTimestamp"))
    return {
        "uid": m.get("uid") or m.get("name"),
        "reason": event.get("reason") or "",
        "type": event.get("type") or "Normal",
        "object": f"{involved.get('kind', '')}/{involved.get('name', '')}",
        "message": event.get("message") or "",
        "count": int(event.get("count") or 1),
        "at": at,
        "first_at": event.get("firstTimestamp") or at,
        "rv": m.get("resourceVersion"),
    }


def new_replicaset(deployment: Obj, replicasets: list[Obj]) -> Obj | None:
    """The Deployment's newest ReplicaSet (highest revision). The watches of Deployments and
    ReplicaSets are separate streams, so the new RS can be seen before the Deployment's
    revision annotation catches up; the highest revision is right either way."""
    if not replicasets:
        return None
    best = max(replicasets, key=lambda rs: (revision_of(rs),
                                            meta(rs).get("creationTimestamp") or ""))
    if revision_of(best):
        return best
    found = rollout_new_replicaset(deployment, replicasets)
    return dict(found) if found is not None else None


def rollout_row(deployment: Obj, replicasets: list[Obj]) -> Obj:
    """status.progress (kubectl rollout status) plus what the page shows."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    row: Obj = asdict(progress(deployment, replicasets))
    row["unavailable"] = int(status.get("unavailableReplicas") or 0)
    row["conditions"] = [
        {"type": c.get("type"), "status": c.get("status"), "reason": c.get("reason"),
         "message": c.get("message")}
        for c in status.get("conditions") or []
    ]
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    row["image"] = next((c.get("image") for c in containers), "")
    row["deployment"] = meta(deployment).get("name")
    row["rv"] = meta(deployment).get("resourceVersion")
    return row
