"""A Deployment's revisions (`kubectl rollout history`, `kubectl get rs`) and rolling back to
one of them (`kubectl rollout undo --to-revision`), through the same rollback entry point as
every other rollback: the revision's image must be one a release of this Service deployed and
that succeeded, so permissions, locks, audit and the release pipeline are the usual ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard import permissions, rollout
from dashboard.adapters import clients
from dashboard.adapters.errors import AdapterError
from dashboard.errors import InvalidRequest, Unavailable
from dashboard.models import Release, Service
from dashboard.services.common import check_via, get_service, require
from dashboard.services.releases import request_rollback

MAX_REVISIONS = 25


@dataclass(frozen=True)
class Revision:
    number: int
    replicaset: str
    image: str
    change_cause: str
    desired: int
    current: int
    ready: int
    created: str
    serving: bool  # the Deployment's current revision
    release_id: int | None  # the succeeded release that deployed this image, if any

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def revisions(service: Service | str) -> list[Revision]:
    """The Deployment's ReplicaSets as revisions, newest first. Raise Unavailable when the
    cluster does not answer."""
    svc = get_service(service)
    try:
        kube = clients.kube(svc.cluster)
        dep = kube.deployment(svc.namespace, svc.deployment)
        sets = kube.replicasets(svc.namespace, dep)
    except AdapterError as exc:
        raise Unavailable(f"cannot list the revisions of {svc.deployment}: {exc}") from None
    current = rollout.revision_of(dep)
    images: dict[str, None] = {}
    rows = []
    for rs in sets:
        meta, status = rs.get("metadata") or {}, rs.get("status") or {}
        image = rollout.container_image(rs, svc.container) or ""
        images[image] = None
        rows.append((rollout.revision_of(rs), meta, status, rs, image))
    released = dict(
        Release.objects.for_service(svc).succeeded().filter(image__in=list(images))
        .order_by("id").values_list("image", "id"))
    out = [
        Revision(
            number=number, replicaset=meta.get("name", ""), image=image,
            change_cause=str((meta.get("annotations") or {}).get(rollout.CHANGE_CAUSE, "")),
            desired=int((rs.get("spec") or {}).get("replicas") or 0),
            current=int(status.get("replicas") or 0), ready=int(status.get("readyReplicas") or 0),
            created=str(meta.get("creationTimestamp") or ""), serving=number == current,
            release_id=released.get(image),
        )
        for number, meta, status, rs, image in rows
    ]
    out.sort(key=lambda r: r.number, reverse=True)
    return out[:MAX_REVISIONS]


def templates(service: Service | str, numbers: list[int]) -> dict[int, dict[str, Any]]:
    """The pod template each of these revisions ran (from its ReplicaSet); revisions that left
    the history are missing. Raise Unavailable when the cluster does not answer."""
    svc = get_service(service)
    try:
        kube = clients.kube(svc.cluster)
        sets = kube.replicasets(svc.namespace, svc.deployment)
    except AdapterError as exc:
        raise Unavailable(f"cannot read the revisions of {svc.deployment}: {exc}") from None
    return {rollout.revision_of(rs): (rs.get("spec") or {}).get("template") or {}
            for rs in sets if rollout.revision_of(rs) in numbers}


def request_rollback_to_revision(*, service: Service | str, revision: Any, actor: Any, via: str,
                                 reason: str = "", force_reason: str | None = None,
                                 acknowledge_schema_change: bool = False) -> Release:
    """Roll back to the image of Deployment revision `revision`: a rollback release of the
    succeeded release that deployed that image (request_rollback does the checks)."""
    via = check_via(via)
    svc = get_service(service)
    require(permissions.can_rollback, actor, via, svc, "roll back")
    try:
        number = int(revision)
    except (TypeError, ValueError):
        raise InvalidRequest("revision", "must be a revision number") from None
    found = next((r for r in revisions(svc) if r.number == number), None)
    if found is None:
        raise InvalidRequest("revision", f"{svc.deployment} has no revision {number}")
    if found.serving:
        raise InvalidRequest("revision", f"revision {number} is already serving")
    if found.release_id is None:
        raise InvalidRequest("revision", f"revision {number} runs {found.image or 'no image'}, "
                             "which no succeeded release of this Service deployed")
    return request_rollback(service=svc, actor=actor, via=via, reason=reason,
                            to_release=found.release_id, force_reason=force_reason,
                            acknowledge_schema_change=acknowledge_schema_change)
