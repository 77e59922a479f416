"""Pure judgement of a rollout's progress: API JSON in, verdicts out (no I/O, no Django).

`progress(deployment, replicasets)` mirrors `kubectl rollout status` exactly
(kubectl pkg/polymorphichelpers/rollout_status.go) and also names the new ReplicaSet. Whether
its pods are doomed is failfast's question.

Dicts are the Kubernetes API's JSON (camelCase), as KubeAdapter and watches return them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from dashboard.rollout.objects import HASH_LABEL, int_or_zero, revision_of

DEADLINE_REASON = "ProgressDeadlineExceeded"


@dataclass(frozen=True)
class Progress:
    desired: int
    updated: int
    ready: int
    available: int
    revision: int
    done: bool
    deadline_exceeded: bool
    paused: bool
    message: str
    observed: bool = True  # generation <= observedGeneration
    replicas: int = 0  # status.replicas: pods of all ReplicaSets (not terminating)
    new_replicaset: str | None = None
    pod_template_hash: str | None = None  # of the new RS: judge only its pods

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)



def new_replicaset(
    deployment: Mapping[str, Any], replicasets: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The RS controlled by the Deployment whose revision is the Deployment's revision."""
    meta = deployment.get("metadata") or {}
    uid, revision = meta.get("uid"), revision_of(deployment)
    if not revision:
        return None
    for rs in replicasets:
        refs = (rs.get("metadata") or {}).get("ownerReferences") or []
        owned = not uid or any(r.get("controller") and r.get("uid") == uid for r in refs)
        if owned and revision_of(rs) == revision:
            return rs
    return None


def progress(
    deployment: Mapping[str, Any], replicasets: Iterable[Mapping[str, Any]] = ()
) -> Progress:
    """`kubectl rollout status deployment/X`, one evaluation.

    done: generation observed, no ProgressDeadlineExceeded, updated >= spec.replicas,
    status.replicas <= updated (no old pods left) and available >= updated.
    deadline_exceeded: the Progressing condition's reason is ProgressDeadlineExceeded
    (only trusted once the generation is observed, as kubectl does). The new RS (and its
    pod-template-hash) is only reported when the generation is observed, since until then
    the revision annotation may still name the previous RS.
    """
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = meta.get("name", "")
    spec_replicas = spec.get("replicas")
    desired = int_or_zero(spec_replicas) if spec_replicas is not None else 1
    updated = int_or_zero(status.get("updatedReplicas"))
    replicas = int_or_zero(status.get("replicas"))
    available = int_or_zero(status.get("availableReplicas"))
    ready = int_or_zero(status.get("readyReplicas"))
    revision = revision_of(deployment)
    paused = bool(spec.get("paused"))
    observed = int_or_zero(meta.get("generation")) <= int_or_zero(status.get("observedGeneration"))
    base: dict[str, Any] = {
        "desired": desired, "updated": updated, "ready": ready, "available": available,
        "revision": revision, "paused": paused, "observed": observed, "replicas": replicas,
    }
    if not observed:
        return Progress(
            done=False, deadline_exceeded=False,
            message="Waiting for deployment spec update to be observed...", **base,
        )
    rs = new_replicaset(deployment, replicasets)
    rs_name = (rs.get("metadata") or {}).get("name") if rs else None
    rs_hash = ((rs.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL) if rs else None
    base.update(new_replicaset=rs_name, pod_template_hash=rs_hash)
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    cond = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Progressing"), None
    )
    if cond and cond.get("reason") == DEADLINE_REASON:
        return Progress(
            done=False, deadline_exceeded=True,
            message=f'deployment "{name}" exceeded its progress deadline', **base,
        )
    if spec_replicas is not None and updated < desired:
        msg = f"{waiting}{updated} out of {desired} new replicas have been updated..."
    elif replicas > updated:
        msg = f"{waiting}{replicas - updated} old replicas are pending termination..."
    elif available < updated:
        msg = f"{waiting}{available} of {updated} updated replicas are available..."
    else:
        return Progress(
            done=True, deadline_exceeded=False,
            message=f'deployment "{name}" successfully rolled out', **base,
        )
    if paused:
        msg += " (paused)"
    return Progress(done=False, deadline_exceeded=False, message=msg, **base)
