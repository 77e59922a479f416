"""Readers of Kubernetes API JSON and the one copy of every annotation and label the
dashboard reads or writes. Pure: no I/O, no Django."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"
# Annotations `kubectl rollout undo` keeps from the Deployment (the rest come from the RS).
UNDO_KEEP = (
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
)


def int_or_zero(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def parse_time(raw: Any) -> datetime | None:
    if not raw:
        return None
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    try:
        at = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def annotations_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    return meta(obj).get("annotations") or {}


def revision_of(obj: Mapping[str, Any]) -> int:
    """The revision annotation of a Deployment or ReplicaSet (0 when absent or malformed)."""
    return int_or_zero(annotations_of(obj).get(REVISION))


def change_cause_of(obj: Mapping[str, Any]) -> str:
    return str(annotations_of(obj).get(CHANGE_CAUSE, ""))


def container_image(deployment: Mapping[str, Any], container: str) -> str:
    """The image of the named container in a Deployment's pod template ("" if absent)."""
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for c in spec.get("containers", []):
        if c.get("name") == container:
            return str(c.get("image", ""))
    return ""
