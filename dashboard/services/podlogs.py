"""Pod logs of a Service at any time (`kubectl logs [-p] [-f] --tail=N POD -c CONTAINER`):
only pods of the Service's Deployment and containers those pods have, so a viewer of one
Service cannot read another workload's logs by naming its pod."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dashboard.adapters import clients
from dashboard.adapters.errors import AdapterError
from dashboard.errors import InvalidRequest, Unavailable
from dashboard.models import Service
from dashboard.services.common import get_service

MAX_TAIL = 5000
FOLLOW_SECONDS = 600.0  # a follow with no new line for this long ends (the page reconnects)


def service_pods(service: Service | str) -> list[dict[str, Any]]:
    """The Deployment's pods now: name, phase, containers (with restarts: a crash-looping
    container has a previous instance to read)."""
    svc = get_service(service)
    try:
        kube = clients.kube(svc.cluster)
        dep = kube.deployment(svc.namespace, svc.deployment)
        pods = kube.pods(svc.namespace, dep["spec"].get("selector") or {})
    except AdapterError as exc:
        raise Unavailable(f"cannot list the pods of {svc.deployment}: {exc}") from None
    out = []
    for pod in pods:
        statuses = {cs.get("name"): cs for cs in (pod.get("status") or {})
                    .get("containerStatuses") or []}
        containers = [
            {"name": c.get("name", ""),
             "restarts": int((statuses.get(c.get("name")) or {}).get("restartCount") or 0)}
            for c in (pod.get("spec") or {}).get("containers") or []
        ]
        out.append({"name": pod["metadata"]["name"],
                    "phase": (pod.get("status") or {}).get("phase") or "Pending",
                    "containers": containers})
    return sorted(out, key=lambda p: p["name"])


def open_log(service: Service | str, *, pod: str, container: str = "", previous: bool = False,
             follow: bool = False, tail: Any = 200) -> Iterator[str]:
    """The lines of one container's log. InvalidRequest naming the field for a pod that is
    not the Service's, a container the pod does not have, or a bad tail."""
    svc = get_service(service)
    try:
        lines = int(tail)
    except (TypeError, ValueError):
        raise InvalidRequest("tail", "must be a number of lines") from None
    if not 1 <= lines <= MAX_TAIL:
        raise InvalidRequest("tail", f"must be between 1 and {MAX_TAIL}")
    found = next((p for p in service_pods(svc) if p["name"] == pod), None)
    if found is None:
        raise InvalidRequest("pod", f"{svc.deployment} has no pod {pod[:253]!r} now")
    names = [c["name"] for c in found["containers"]]
    if not container:
        container = svc.container if svc.container in names else (names[0] if names else "")
    if container not in names:
        raise InvalidRequest("container", f"pod {pod} has no container {container[:63]!r}")
    try:
        return clients.kube(svc.cluster).log_lines(
            svc.namespace, pod, container, tail_lines=lines, previous=previous, follow=follow,
            max_seconds=FOLLOW_SECONDS)
    except AdapterError as exc:
        if exc.status == 400:  # e.g. no previous instance: the API server says why
            raise InvalidRequest("previous" if previous else "container", str(exc)) from None
        raise Unavailable(f"cannot read the log: {exc}") from None
