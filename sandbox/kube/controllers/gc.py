"""Garbage collector: dependents whose controlling owner is gone are deleted (background)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..resources import DEPLOYMENTS, JOBS, PODS, REPLICASETS, ResourceType

if TYPE_CHECKING:
    from ..cluster import Cluster

OWNERS: dict[str, ResourceType] = {"Deployment": DEPLOYMENTS, "ReplicaSet": REPLICASETS,
                                   "Job": JOBS}


class GarbageCollector:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def sync(self) -> float | None:
        store = self.cluster.store
        for rt in (REPLICASETS, PODS):
            for obj in store.list(rt):
                meta = obj["metadata"]
                if meta.get("deletionTimestamp"):
                    continue
                for ref in meta.get("ownerReferences") or []:
                    owner_rt = OWNERS.get(ref.get("kind", ""))
                    if owner_rt is None or not ref.get("controller"):
                        continue
                    owner = store.get(owner_rt, meta["namespace"], ref["name"])
                    if owner is None or owner["metadata"]["uid"] != ref["uid"]:
                        self.cluster.api.delete(rt, meta["namespace"], meta["name"])
                        break
        return None
