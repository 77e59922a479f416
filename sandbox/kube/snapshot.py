"""A copy of the settled start state, so /sandbox/v1/reset is instant instead of re-running
every pod's start-up (tests reset between cases; start-up at --speed 20 still takes ~1 s)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .logs import Stream

if TYPE_CHECKING:
    from .cluster import Cluster
    from .controllers.podsim import PodSim

Obj = dict[str, Any]


@dataclass
class Snapshot:
    objects: list[tuple[str, Obj]]  # (storage key, object) in resourceVersion order
    sims: dict[str, PodSim]
    pulled: set[tuple[str, str]]
    next_node: int
    logs: dict[tuple[str, str], list[tuple[float, str]]]
    seen: dict[tuple[str, ...], tuple[str, str]]

    @classmethod
    def take(cls, cluster: Cluster) -> Snapshot:
        objects = [(key, obj) for key, bucket in cluster.store.objects.items()
                   for obj in bucket.values()]
        objects.sort(key=lambda item: int(item[1]["metadata"]["resourceVersion"]))
        return cls(
            objects=copy.deepcopy(objects),
            sims=copy.deepcopy(cluster.kubelet.sims),
            pulled=set(cluster.kubelet.pulled),
            next_node=cluster.kubelet.next_node,
            logs={k: list(s.lines) for k, s in cluster.logs.streams.items()},
            seen=dict(cluster.recorder.seen),
        )

    def restore(self, cluster: Cluster) -> None:
        for key, obj in self.objects:
            cluster.store.restore(key, copy.deepcopy(obj))
        cluster.kubelet.sims = copy.deepcopy(self.sims)
        cluster.kubelet.pulled = set(self.pulled)
        cluster.kubelet.next_node = self.next_node
        for k, lines in self.logs.items():
            cluster.logs.streams[k] = Stream(lines=list(lines))
        cluster.recorder.seen = dict(self.seen)
