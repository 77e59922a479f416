"""The Recreate strategy and revision-history cleanup (upstream recreate.go, sync.go)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..resources import PODS, REPLICASETS
from . import deputil as u

if TYPE_CHECKING:
    from .deployment import DeploymentController

Obj = dict[str, Any]


def rollout_recreate(dc: DeploymentController, d: Obj, rss: list[Obj]) -> float | None:
    """Scale every old RS to 0, wait until no old pod runs, then the new RS to full size."""
    new_rs, old = dc.get_new_rs(d, rss, create=False)
    d = dc.refresh(d)
    scaled = False
    for rs in u.active(list(old)):
        dc.scale_rs(d, rs, 0)
        scaled = True
    if scaled:
        return dc.sync_rollout_status(d, dc.owned(d), new_rs)
    old_uids = {rs["metadata"]["uid"] for rs in old}
    if any(u.status(rs, "replicas") for rs in old) or any(
        o.get("uid") in old_uids and p.get("status", {}).get("phase") not in
        ("Succeeded", "Failed")
        for p in dc.cluster.store.list(PODS, d["metadata"]["namespace"])
        for o in p["metadata"].get("ownerReferences") or []
    ):
        return dc.sync_rollout_status(d, dc.owned(d), new_rs)
    if new_rs is None:
        new_rs, old = dc.get_new_rs(d, dc.owned(d), create=True)
        d = dc.refresh(d)
    if new_rs is not None and u.replicas(new_rs) != u.replicas(d):
        new_rs = dc.scale_rs(d, new_rs, u.replicas(d))
        return dc.sync_rollout_status(d, dc.owned(d), new_rs)
    st = u.calculate_status(d, [*old, new_rs] if new_rs else old, new_rs, dc.clock.stamp())
    if u.complete(d, st):
        dc.cleanup(d, old)
    return dc.sync_rollout_status(d, dc.owned(d), new_rs)


def cleanup(dc: DeploymentController, d: Obj, old: list[Obj]) -> None:
    """revisionHistoryLimit: delete the oldest fully scaled-down old ReplicaSets."""
    limit = d["spec"].get("revisionHistoryLimit")
    if limit is None or limit == 2**31 - 1:
        return
    alive = [rs for rs in old if not rs["metadata"].get("deletionTimestamp")]
    diff = len(alive) - limit
    if diff <= 0:
        return
    alive.sort(key=lambda rs: (u.revision(rs), rs["metadata"]["creationTimestamp"]))
    for rs in alive[:diff]:
        if (u.status(rs, "replicas") or u.replicas(rs)
                or rs["metadata"].get("generation", 1) > u.status(rs, "observedGeneration")):
            continue
        dc.api.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])
