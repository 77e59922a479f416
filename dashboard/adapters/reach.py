"""Whether the dashboard can reach a cluster, and as whom (for the admin's Cluster list).

An authenticated discovery call (`GET /apis`, open to every authenticated identity on GKE) is
enough to prove both the endpoint and the credentials; answers are kept for a short while so
a list page of clusters does not cost a round trip per row on every load.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from . import clients
from .errors import AdapterError
from .kubeutil import map_error

TTL_SECONDS = 30.0
_lock = threading.Lock()
_seen: dict[tuple[Any, ...], tuple[float, Reach]] = {}


@dataclass(frozen=True)
class Reach:
    ok: bool
    identity: str
    detail: str


def identity_of(cluster: Any, api: client.ApiClient | None) -> str:
    if getattr(cluster, "gke_name", ""):
        return f"Google: {getattr(api, 'gke_identity', '?')}"
    if getattr(cluster, "in_cluster", False):
        return "the pod's Kubernetes service account"
    ctx = getattr(cluster, "context", "") or "current context"
    return f"kubeconfig {getattr(cluster, 'kubeconfig_path', '') or '(default)'} ({ctx})"


def probe(cluster: Any, timeout: float = 3.0) -> Reach:
    key = (cluster.pk, cluster.gke_name, cluster.kubeconfig_path, cluster.context,
           cluster.in_cluster)
    now = time.monotonic()
    with _lock:
        hit = _seen.get(key)
    if hit and now - hit[0] < TTL_SECONDS:
        return hit[1]
    api = None
    try:
        api = clients.kube_api_client(cluster)
        groups = client.ApisApi(api).get_api_versions(_request_timeout=timeout)
        reach = Reach(True, identity_of(cluster, api), f"{len(groups.groups)} API groups")
    except AdapterError as exc:
        reach = Reach(False, identity_of(cluster, api), str(exc)[:300])
    except Exception as exc:  # a probe never breaks the admin page
        reach = Reach(False, identity_of(cluster, api), str(map_error(exc, "discovery"))[:300])
    with _lock:
        _seen[key] = (now, reach)
    return reach
