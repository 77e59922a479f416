"""ReplicaSet scaling for the deployment controller: new-RS sizing and proportional scaling."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..resources import REPLICASETS
from . import deputil as u

if TYPE_CHECKING:
    from ..api import Api
    from ..cluster import Cluster

Obj = dict[str, Any]


class Scaler:
    cluster: Cluster
    api: Api

    def event(self, obj: Obj, reason: str, message: str, kind: str = "Normal") -> None:
        raise NotImplementedError

    def new_rs_replicas(self, d: Obj, old: list[Obj], new_rs: Obj | None) -> int:
        """NewRSNewReplicas: grow the new RS as far as maxSurge allows, never past replicas."""
        if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            return u.replicas(d)
        surge, _ = u.fenceposts(d)
        current_new = u.replicas(new_rs) if new_rs else 0
        current = sum(u.replicas(rs) for rs in old) + current_new
        max_total = u.replicas(d) + surge
        if current >= max_total:
            return current_new
        return current_new + min(max_total - current, u.replicas(d) - current_new)

    def scale_rs(self, d: Obj, rs: Obj, size: int) -> Obj:
        """Resize an RS, re-stamping desired/max annotations; ScalingReplicaSet on a change."""
        surge, _ = u.fenceposts(d)
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = size
        ann = new["metadata"].setdefault("annotations", {})
        ann[u.DESIRED] = str(u.replicas(d))
        ann[u.MAX_REPLICAS] = str(u.replicas(d) + surge)
        if new == rs:
            return rs
        before = u.replicas(rs)
        updated = self.api.update(REPLICASETS, rs["metadata"]["namespace"],
                                  rs["metadata"]["name"], new)
        if before != size:
            direction = "up" if size > before else "down"
            self.event(d, "ScalingReplicaSet",
                       f"Scaled {direction} replica set {rs['metadata']['name']} from {before} "
                       f"to {size}")
        return updated

    def proportional_scale(self, d: Obj, new_rs: Obj | None, old: list[Obj]) -> None:
        if new_rs is None and not old:
            return
        olds = sorted(old, key=lambda r: r["metadata"]["creationTimestamp"], reverse=True)
        actives = u.active([*olds, new_rs])
        if len(actives) <= 1:
            target = actives[0] if actives else (new_rs or olds[0])
            if u.replicas(target) != u.replicas(d):
                self.scale_rs(d, target, u.replicas(d))
            return
        if new_rs is not None and self.saturated(d, new_rs):
            for rs in u.active(list(old)):
                self.scale_rs(d, rs, 0)
            return
        if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            return
        surge, _ = u.fenceposts(d)
        allowed = 0 if u.replicas(d) == 0 else u.replicas(d) + surge
        to_add = allowed - sum(u.replicas(rs) for rs in actives)
        if to_add > 0:
            actives.sort(key=lambda r: (u.replicas(r), r["metadata"]["creationTimestamp"]),
                         reverse=True)
        elif to_add < 0:
            actives.sort(key=lambda r: r["metadata"]["creationTimestamp"])
            actives.sort(key=lambda r: u.replicas(r), reverse=True)
        added = 0
        sizes: dict[str, int] = {}
        for rs in actives:
            proportion = self.proportion(d, rs, to_add, added) if to_add else 0
            sizes[rs["metadata"]["name"]] = u.replicas(rs) + proportion
            added += proportion
        if to_add and to_add != added:
            first = actives[0]["metadata"]["name"]
            sizes[first] = max(0, sizes[first] + to_add - added)
        for rs in actives:
            self.scale_rs(d, rs, sizes[rs["metadata"]["name"]])

    def saturated(self, d: Obj, rs: Obj) -> bool:
        desired = (rs["metadata"].get("annotations") or {}).get(u.DESIRED)
        n = u.replicas(d)
        return (desired == str(n) and u.replicas(rs) == n
                and u.status(rs, "availableReplicas") == n)

    def proportion(self, d: Obj, rs: Obj, to_add: int, added: int) -> int:
        if u.replicas(rs) == 0 or to_add == added:
            return 0
        if u.replicas(d) == 0:
            fraction = -u.replicas(rs)
        else:
            surge, _ = u.fenceposts(d)
            annotated = (rs["metadata"].get("annotations") or {}).get(u.MAX_REPLICAS)
            base = int(annotated) if annotated and annotated.isdigit() else u.status(d, "replicas")
            fraction = round(u.replicas(rs) * (u.replicas(d) + surge) / max(base, 1)) - u.replicas(
                rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)
