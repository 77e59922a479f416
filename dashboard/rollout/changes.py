"""What changed in the cluster since the last look, as timeline entries a release keeps.

Kubernetes forgets events after an hour and pods when they are replaced; a release's record
must not. The worker lists the Deployment's ReplicaSets, pods and events on every poll of a
rollout; `diff()` turns one listing plus what the release already recorded (`seen`: key ->
state) into new entries: a pod's state changed, a pod went away, a ReplicaSet was scaled, an
event appeared (or its count grew a lot: a BackOff repeating every few seconds is recorded
at counts 1, 2, 4, 8... not each time). Pure: no Django, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dashboard.rollout.objects import parse_time, revision_of
from dashboard.rollout.rows import event_row, pod_row

POD, EVENT, SCALE = "pod.state", "k8s.event", "replicaset.scale"
KINDS = (POD, EVENT, SCALE)

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Entry:
    kind: str
    message: str
    data: dict[str, Any]  # always holds "key" and "state" (what dedup compares)


def pod_state(row: Mapping[str, Any]) -> str:
    """One pod row in words: "Running, 1/1 ready", "Pending (ContainerCreating), 0/1 ready",
    "Running (CrashLoopBackOff), 0/1 ready, 3 restarts", "Terminating"."""
    if row.get("reason") == "Terminating":
        return "Terminating"
    reason = f" ({row['reason']})" if row.get("reason") else ""
    restarts = int(row.get("restarts") or 0)
    tail = f", {restarts} restart{'' if restarts == 1 else 's'}" if restarts else ""
    return f"{row.get('phase') or 'Pending'}{reason}, {row.get('ready')} ready{tail}"


def _pods(pods: Iterable[Obj], replicasets: list[Obj]) -> list[Entry]:
    by_uid = {str((rs.get("metadata") or {}).get("uid")): dict(rs) for rs in replicasets}
    out = []
    for pod in pods:
        owner = next((str(r.get("uid")) for r in (pod.get("metadata") or {})
                      .get("ownerReferences") or [] if r.get("controller")), "")
        row = pod_row(dict(pod), by_uid.get(owner), None)
        state = pod_state(row)
        out.append(Entry(POD, f"pod {row['name']}: {state}", {
            "key": f"pod/{row['name']}", "state": state, "pod": row["name"],
            "phase": row["phase"], "ready": row["ready"], "reason": row["reason"],
            "restarts": row["restarts"], "revision": row["revision"],
            "last_terminated": row["last_terminated"], "node": row["node"]}))
    return out


def _scales(replicasets: Iterable[Obj]) -> list[Entry]:
    out = []
    for rs in replicasets:
        meta, spec = rs.get("metadata") or {}, rs.get("spec") or {}
        status = rs.get("status") or {}
        want, ready = int(spec.get("replicas") or 0), int(status.get("readyReplicas") or 0)
        name = meta.get("name", "")
        out.append(Entry(SCALE, f"ReplicaSet {name} (revision {revision_of(rs) or '?'}) "
                         f"scaled to {want}", {
                             "key": f"rs/{name}", "state": str(want), "replicaset": name,
                             "revision": revision_of(rs), "replicas": want, "ready": ready}))
    return out


def _events(events: Iterable[Obj]) -> list[Entry]:
    out = []
    for ev in events:
        row = event_row(dict(ev))
        row.pop("rv", None)
        out.append(Entry(EVENT, f"{row['type']} {row['reason']} {row['object']}: "
                         f"{row['message']}" + (f" (x{row['count']})" if row["count"] > 1
                                                 else ""),
                         {**row, "key": f"event/{row['uid']}", "state": str(row["count"])}))
    return out


def _is_news(entry: Entry, seen: Mapping[str, str]) -> bool:
    before = seen.get(entry.data["key"])
    if before is None:
        return True
    if entry.kind == EVENT:  # a repeating event: record it again each time its count doubles
        try:
            return int(entry.data["state"]) >= 2 * int(before)
        except ValueError:
            return False
    return before != entry.data["state"]


def diff(*, pods: Iterable[Obj], replicasets: list[Obj], events: Iterable[Obj],
         seen: Mapping[str, str]) -> list[Entry]:
    """The entries a release should append for this listing, given what it recorded."""
    current = _scales(replicasets) + _pods(pods, replicasets)
    out = [e for e in current + _events(events) if _is_news(e, seen)]
    listed = {e.data["key"] for e in current}
    for key, state in seen.items():
        if key.startswith("pod/") and key not in listed and state != "gone":
            name = key[4:]
            out.append(Entry(POD, f"pod {name}: gone", {"key": key, "state": "gone",
                                                         "pod": name}))
    return out


SKEW = timedelta(seconds=5)  # clocks of the API server and ours differ a little


def in_scope(row: Mapping[str, Any], deployment: str, since: datetime | None,
             until: datetime | None = None) -> bool:
    """Whether an event row (rows.event_row) is about the release's objects (the Deployment,
    its ReplicaSets and their pods: names "<deployment>-...") within its time window."""
    kind, _, name = str(row.get("object") or "").partition("/")
    if not ((name == deployment and kind == "Deployment")
            or (kind in ("ReplicaSet", "Pod") and name.startswith(f"{deployment}-"))):
        return False
    at = parse_time(row.get("at"))
    if at is None:
        return since is None
    return (since is None or at >= since - SKEW) and (until is None or at <= until + SKEW)


def panel_events(kept: list[dict[str, Any]], live: Iterable[Mapping[str, Any]], *,
                 deployment: str, since: datetime | None, until: datetime | None,
                 active: bool) -> list[dict[str, Any]]:
    """A release's events panel, oldest first: the events it kept, then (while it is active)
    the live ones in its scope it has not kept yet."""
    seen = {e.get("uid") for e in kept}
    scoped = [dict(e) for e in live if active and since is not None
              and e.get("uid") not in seen and in_scope(e, deployment, since, until)]
    return sorted([*kept, *scoped], key=lambda e: str(e.get("at") or ""))
