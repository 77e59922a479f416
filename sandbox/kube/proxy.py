"""The service proxy subresource, answering the license API's health endpoints.

There are no real containers behind the simulated pods, so the proxy answers what the license
API would: /health/live always, /health/ready from whether any ready pod backs the Service.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors
from .resources import PODS, SERVICES

if TYPE_CHECKING:
    from .cluster import Cluster

Obj = dict[str, Any]


def _split_name(name: str) -> tuple[str, str | None]:
    parts = name.split(":")
    if len(parts) == 3:  # scheme:name:port
        return parts[1], parts[2] or None
    if len(parts) == 2:
        return parts[0], parts[1] or None
    return name, None


def ready_backends(cluster: Cluster, svc: Obj) -> list[Obj]:
    selector = (svc.get("spec") or {}).get("selector") or {}
    if not selector:
        return []
    out = []
    for pod in cluster.store.list(PODS, svc["metadata"]["namespace"]):
        labels = pod["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            continue
        if pod["metadata"].get("deletionTimestamp"):
            continue
        conds = (pod.get("status") or {}).get("conditions") or []
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conds):
            out.append(pod)
    return out


async def serve_proxy(
    request: web.Request, cluster: Cluster, ns: str | None, name: str, path: str
) -> web.Response:
    svc_name, port = _split_name(name)
    svc = cluster.store.get(SERVICES, ns, svc_name)
    if svc is None:
        raise errors.not_found("services", "", svc_name)
    ports = (svc.get("spec") or {}).get("ports") or []
    if port is not None and not any(
        str(p.get("port")) == port or p.get("name") == port for p in ports
    ):
        raise errors.ApiError(
            503, "ServiceUnavailable", f'no endpoints available for service "{svc_name}"'
        )
    backends = ready_backends(cluster, svc)
    path = "/" + path.lstrip("/")
    if path.rstrip("/") == "/health/ready":
        if not backends:
            return _json(not_ready_body(), 503)
        return _json({"status": "ready", "database": "connected", "redis": "connected"}, 200)
    if not backends:
        raise errors.ApiError(
            503, "ServiceUnavailable", f'no endpoints available for service "{svc_name}"'
        )
    if path.rstrip("/") == "/health/live":
        return _json({"status": "alive"}, 200)
    return _json({"detail": "Not found."}, 404)


async def serve_pod_proxy(
    request: web.Request, cluster: Cluster, ns: str | None, name: str, path: str
) -> web.Response:
    """pods/{name}[:port]/proxy/{path}: that one pod's own answer, as the app in it would
    give it (ready only when the pod is Ready; nothing when its container is not running)."""
    pod_name, _port = _split_name(name)
    pod = cluster.store.get(PODS, ns, pod_name)
    if pod is None:
        raise errors.not_found("pods", "", pod_name)
    st = pod.get("status") or {}
    running = any("running" in (cs.get("state") or {}) for cs in st.get("containerStatuses") or [])
    if not running or pod["metadata"].get("deletionTimestamp"):
        raise errors.ApiError(
            503, "ServiceUnavailable",
            f"error trying to reach service: dial tcp {st.get('podIP', '')}:8000: connect: "
            "connection refused")
    path = "/" + path.lstrip("/")
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions") or [])
    if path.rstrip("/") == "/health/ready":
        return _json({"status": "ready", "database": "connected", "redis": "connected"}
                     if ready else not_ready_body(), 200 if ready else 503)
    if path.rstrip("/") == "/health/live":
        return _json({"status": "alive"}, 200)
    return _json({"detail": "Not found."}, 404)


def not_ready_body() -> Obj:
    return {"status": "not_ready", "database": "connected", "redis": "connected"}


def _json(body: Obj, status: int) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")
