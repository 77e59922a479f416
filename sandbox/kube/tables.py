"""Server-side Table responses (Accept: ...;as=Table), so plain `kubectl get` prints columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .clock import Clock, parse_stamp
from .resources import ResourceType
from .selectors import selector_to_string

Obj = dict[str, Any]
Column = tuple[str, str, int]  # (name, type, priority); priority 1 shows only with -o wide


def human_age(seconds: float) -> str:
    """kubectl's duration.HumanDuration, close enough for columns."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    return f"{h // 24}d"


def pod_status(pod: Obj) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    for cs in status.get("initContainerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "PodInitializing"):
            reason = f"Init:{waiting['reason']}"
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated"):
            term = state["terminated"]
            reason = term.get("reason") or f"ExitCode:{term.get('exitCode', 0)}"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _age(clock: Clock, obj: Obj) -> str:
    created = parse_stamp(obj["metadata"].get("creationTimestamp"))
    return human_age(clock.now() - created) if created else "<unknown>"


def _pod_row(clock: Clock, pod: Obj) -> list[Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len(pod["spec"].get("containers") or [])
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(cs.get("restartCount", 0) for cs in statuses)
    restart_text = str(restarts)
    last = [
        parse_stamp(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        for cs in statuses
    ]
    latest = max((t for t in last if t), default=None)
    if restarts and latest:
        restart_text = f"{restarts} ({human_age(clock.now() - latest)} ago)"
    st = pod.get("status") or {}
    return [
        pod["metadata"]["name"], f"{ready}/{total}", pod_status(pod), restart_text,
        _age(clock, pod), st.get("podIP") or "<none>", pod["spec"].get("nodeName") or "<none>",
        "<none>", "<none>",
    ]


def _containers(template_spec: Obj) -> tuple[str, str]:
    cs = template_spec.get("containers") or []
    return ",".join(c["name"] for c in cs), ",".join(c.get("image", "") for c in cs)


def _deploy_row(clock: Clock, d: Obj) -> list[Any]:
    st = d.get("status") or {}
    names, images = _containers(d["spec"]["template"]["spec"])
    return [
        d["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{d['spec'].get('replicas', 1)}",
        st.get("updatedReplicas", 0), st.get("availableReplicas", 0), _age(clock, d),
        names, images, selector_to_string(d["spec"].get("selector")),
    ]


def _rs_row(clock: Clock, rs: Obj) -> list[Any]:
    st = rs.get("status") or {}
    names, images = _containers(rs["spec"]["template"]["spec"])
    return [
        rs["metadata"]["name"], rs["spec"].get("replicas", 0), st.get("replicas", 0),
        st.get("readyReplicas", 0), _age(clock, rs), names, images,
        selector_to_string(rs["spec"].get("selector")),
    ]


def _svc_row(clock: Clock, svc: Obj) -> list[Any]:
    spec = svc.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    sel = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [
        svc["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"),
        "<none>", ports or "<none>", _age(clock, svc), sel or "<none>",
    ]


def _event_row(clock: Clock, ev: Obj) -> list[Any]:
    last = parse_stamp(ev.get("lastTimestamp")) or parse_stamp(
        ev["metadata"].get("creationTimestamp")
    )
    inv = ev.get("involvedObject") or ev.get("regarding") or {}
    return [
        human_age(clock.now() - last) if last else "<unknown>", ev.get("type", ""),
        ev.get("reason", ""), f"{inv.get('kind', '').lower()}/{inv.get('name', '')}",
        ev.get("message", ev.get("note", "")),
    ]


def _node_row(clock: Clock, node: Obj) -> list[Any]:
    conds = (node.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return [node["metadata"]["name"], "Ready" if ready else "NotReady", "<none>",
            _age(clock, node), info.get("kubeletVersion", "")]


def _ns_row(clock: Clock, ns: Obj) -> list[Any]:
    return [ns["metadata"]["name"], (ns.get("status") or {}).get("phase", "Active"),
            _age(clock, ns)]


def _job_row(clock: Clock, job: Obj) -> list[Any]:
    st = job.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    status = ("Complete" if conds.get("Complete") == "True" else
              "Failed" if conds.get("Failed") == "True" else
              "Suspended" if (job.get("spec") or {}).get("suspend") else "Running")
    start, end = parse_stamp(st.get("startTime")), parse_stamp(st.get("completionTime"))
    duration = human_age((end or clock.now()) - start) if start else ""
    names, images = _containers(job["spec"]["template"]["spec"])
    return [job["metadata"]["name"], status,
            f"{st.get('succeeded', 0)}/{job['spec'].get('completions', 1)}", duration,
            _age(clock, job), names, images, selector_to_string(job["spec"].get("selector"))]


def _generic_row(clock: Clock, obj: Obj) -> list[Any]:
    return [obj["metadata"]["name"], _age(clock, obj)]


TABLES: dict[str, tuple[list[Column], Callable[[Clock, Obj], list[Any]]]] = {
    "Pod": (
        [("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0),
         ("Restarts", "string", 0), ("Age", "string", 0), ("IP", "string", 1),
         ("Node", "string", 1), ("Nominated Node", "string", 1),
         ("Readiness Gates", "string", 1)],
        _pod_row,
    ),
    "Deployment": (
        [("Name", "string", 0), ("Ready", "string", 0), ("Up-to-date", "integer", 0),
         ("Available", "integer", 0), ("Age", "string", 0), ("Containers", "string", 1),
         ("Images", "string", 1), ("Selector", "string", 1)],
        _deploy_row,
    ),
    "ReplicaSet": (
        [("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0),
         ("Ready", "integer", 0), ("Age", "string", 0), ("Containers", "string", 1),
         ("Images", "string", 1), ("Selector", "string", 1)],
        _rs_row,
    ),
    "Job": (
        [("Name", "string", 0), ("Status", "string", 0), ("Completions", "string", 0),
         ("Duration", "string", 0), ("Age", "string", 0), ("Containers", "string", 1),
         ("Images", "string", 1), ("Selector", "string", 1)],
        _job_row,
    ),
    "Service": (
        [("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0),
         ("External-IP", "string", 0), ("Port(s)", "string", 0), ("Age", "string", 0),
         ("Selector", "string", 1)],
        _svc_row,
    ),
    "Node": (
        [("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0),
         ("Age", "string", 0), ("Version", "string", 0)],
        _node_row,
    ),
    "Namespace": ([("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
                  _ns_row),
    "Event": (
        [("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
         ("Object", "string", 0), ("Message", "string", 0)],
        _event_row,
    ),
}


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def to_table(
    clock: Clock, rt: ResourceType, items: list[Obj], rv: str, include_object: str
) -> Obj:
    columns, row = TABLES.get(rt.kind, ([("Name", "string", 0), ("Age", "string", 0)],
                                        _generic_row))
    rows = []
    for obj in items:
        if include_object == "Object":
            embedded: Obj | None = obj
        elif include_object == "None":
            embedded = None
        else:
            embedded = {
                "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append({"cells": row(clock, obj), "object": embedded})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": [
            {"name": n, "type": t, "format": "name" if n == "Name" else "", "description": n,
             "priority": p}
            for n, t, p in columns
        ],
        "rows": rows,
    }
