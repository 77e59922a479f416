"""Realistic Kubernetes API JSON for the pure rollout tests (shapes as the API server sends)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 27, 4, 0, 0, tzinfo=UTC)
DEP_UID = "5d0f7a56-1c1e-4d5e-9f0e-0a9b8c7d6e5f"
NEW_HASH = "7b6c5f5c5"
OLD_HASH = "84d9f6b7c"


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment(
    *,
    replicas: int | None = 3,
    generation: int = 2,
    observed: int = 2,
    updated: int = 3,
    total: int = 3,
    ready: int = 3,
    available: int = 3,
    revision: int = 2,
    progressing_reason: str | None = "NewReplicaSetAvailable",
    paused: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "license-api"}},
        "progressDeadlineSeconds": 600,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "template": {
            "metadata": {"labels": {"app": "license-api"}},
            "spec": {"containers": [{"name": "license-api", "image": "gcr.io/sandbox/license-api@sha256:" + "b" * 64}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if paused:
        spec["paused"] = True
    status: dict[str, Any] = {
        "observedGeneration": observed,
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
                "lastUpdateTime": iso(T0),
                "lastTransitionTime": iso(T0),
            }
        ],
    }
    # Status fields are omitempty: zero counts are absent on the wire.
    for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
        if not status[key]:
            del status[key]
    if progressing_reason:
        status["conditions"].append(
            {
                "type": "Progressing",
                "status": "False" if progressing_reason == "ProgressDeadlineExceeded" else "True",
                "reason": progressing_reason,
                "message": f'ReplicaSet "license-api-{NEW_HASH}" has timed out progressing.'
                if progressing_reason == "ProgressDeadlineExceeded"
                else f'ReplicaSet "license-api-{NEW_HASH}" is progressing.',
                "lastUpdateTime": iso(T0),
                "lastTransitionTime": iso(T0),
            }
        )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "license-api",
            "namespace": "default",
            "uid": DEP_UID,
            "generation": generation,
            "resourceVersion": "1234",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
        },
        "spec": spec,
        "status": status,
    }


def replicaset(revision: int, pod_hash: str, replicas: int = 3, owner: str = DEP_UID) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"license-api-{pod_hash}",
            "namespace": "default",
            "labels": {"app": "license-api", "pod-template-hash": pod_hash},
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": "license-api", "uid": owner, "controller": True}
            ],
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas},
    }


def pod(
    name: str,
    *,
    pod_hash: str = NEW_HASH,
    waiting: tuple[str, str] | None = None,
    terminated: dict[str, Any] | None = None,
    last_terminated: dict[str, Any] | None = None,
    restarts: int = 0,
    ready: bool = False,
    phase: str = "Running",
    reason: str | None = None,
    container: str = "license-api",
    scheduled: bool = True,
    unschedulable_message: str = "",
    deleting: bool = False,
) -> dict[str, Any]:
    state: dict[str, Any]
    if waiting:
        state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
    elif terminated:
        state = {"terminated": terminated}
    else:
        state = {"running": {"startedAt": iso(T0)}}
    cs: dict[str, Any] = {
        "name": container,
        "image": "gcr.io/sandbox/license-api@sha256:" + "b" * 64,
        "imageID": "",
        "ready": ready,
        "restartCount": restarts,
        "started": ready,
        "state": state,
        "lastState": {"terminated": last_terminated} if last_terminated else {},
    }
    conditions: list[dict[str, Any]] = []
    status: dict[str, Any] = {"phase": phase, "conditions": conditions}
    if scheduled:
        conditions.append({"type": "PodScheduled", "status": "True"})
        conditions.append({"type": "Ready", "status": "True" if ready else "False"})
        status["containerStatuses"] = [cs]
    else:
        phase = "Pending"
        status["phase"] = "Pending"
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": unschedulable_message,
                "lastTransitionTime": iso(T0),
            }
        )
    if reason:
        status["reason"] = reason
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "labels": {"app": "license-api", "pod-template-hash": pod_hash},
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"license-api-{pod_hash}", "uid": "rs", "controller": True}
        ],
    }
    if deleting:
        meta["deletionTimestamp"] = iso(T0)
    spec: dict[str, Any] = {"containers": [{"name": container, "image": cs["image"]}]}
    if scheduled:
        spec["nodeName"] = "sandbox-node-1"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def event(
    pod_name: str,
    reason: str,
    message: str,
    *,
    type_: str = "Warning",
    count: int = 1,
    first: datetime = T0,
    last: datetime | None = None,
    container: str | None = "license-api",
    kind: str = "Pod",
) -> dict[str, Any]:
    obj: dict[str, Any] = {"kind": kind, "namespace": "default", "name": pod_name, "apiVersion": "v1"}
    if container:
        obj["fieldPath"] = f"spec.containers{{{container}}}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod_name}.{reason.lower()}", "namespace": "default"},
        "involvedObject": obj,
        "reason": reason,
        "message": message,
        "type": type_,
        "count": count,
        "firstTimestamp": iso(first),
        "lastTimestamp": iso(last or first),
        "source": {"component": "kubelet", "host": "sandbox-node-1"},
    }


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def copy_of(obj: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(obj)
