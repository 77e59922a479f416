"""Endpoints controller: each Service's Endpoints list its selected pods by readiness."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..resources import ENDPOINTS, PODS, SERVICES

if TYPE_CHECKING:
    from ..cluster import Cluster

Obj = dict[str, Any]


class EndpointsController:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def sync(self) -> float | None:
        store = self.cluster.store
        for svc in store.list(SERVICES):
            selector = (svc.get("spec") or {}).get("selector")
            if not selector:
                continue
            ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            ready, not_ready = [], []
            for pod in store.list(PODS, ns):
                labels = pod["metadata"].get("labels") or {}
                ip = (pod.get("status") or {}).get("podIP")
                if not ip or any(labels.get(k) != v for k, v in selector.items()):
                    continue
                addr = {"ip": ip, "nodeName": pod["spec"].get("nodeName"),
                        "targetRef": {"kind": "Pod", "namespace": ns,
                                      "name": pod["metadata"]["name"],
                                      "uid": pod["metadata"]["uid"]}}
                conds = (pod.get("status") or {}).get("conditions") or []
                ok = any(c["type"] == "Ready" and c["status"] == "True" for c in conds)
                if ok and not pod["metadata"].get("deletionTimestamp"):
                    ready.append(addr)
                else:
                    not_ready.append(addr)
            ports = [{"name": p.get("name", ""), "port": self.target_port(p, svc, ns),
                      "protocol": p.get("protocol", "TCP")}
                     for p in svc["spec"].get("ports") or []]
            subset: Obj = {"ports": ports}
            if ready:
                subset["addresses"] = sorted(ready, key=lambda a: a["ip"])
            if not_ready:
                subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
            body: Obj = {"metadata": {"name": name, "namespace": ns,
                                      "labels": copy.deepcopy(svc["metadata"].get("labels"))
                                      or {}},
                         "subsets": [subset] if (ready or not_ready) else []}
            current = store.get(ENDPOINTS, ns, name)
            if current is None:
                self.cluster.api.create(ENDPOINTS, ns, body)
            elif current.get("subsets") != body["subsets"]:
                new = copy.deepcopy(current)
                new["subsets"] = body["subsets"]
                store.put(ENDPOINTS, new)
        return None

    def target_port(self, port: Obj, svc: Obj, ns: str) -> int:
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, int):
            return target
        for pod in self.cluster.store.list(PODS, ns):
            for c in pod["spec"].get("containers") or []:
                for p in c.get("ports") or []:
                    if p.get("name") == target:
                        return int(p["containerPort"])
        return int(port.get("port", 80))
