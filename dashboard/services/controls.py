"""Service-level operations: lock/unlock and pause/resume.

Pause and resume act on the Deployment (spec.paused, as `kubectl rollout pause/resume`) and
record the state on the Service; the time a rollout spends paused does not count against
the active release's rollout timeout. They are the one write to Kubernetes made inside a web
request, on purpose: a single idempotent patch whose result the person who pressed the button
needs to see at once (a pause that did not reach the cluster must not be shown as paused).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dashboard import audit, permissions, streams
from dashboard.adapters import clients
from dashboard.adapters.errors import AdapterError
from dashboard.errors import Conflict, InvalidRequest, Unavailable
from dashboard.models import Lock, Release, Service
from dashboard.releases.lifecycle import publish_on_commit
from dashboard.rollout import predeploy
from dashboard.services.common import actor_name, check_via, get_service, require


def lock_service(*, service: Service | str, actor: Any, via: str, reason: str,
                 expires_at: datetime | None = None) -> Lock:
    """Lock the Service: new releases are refused (showing owner and reason) until unlocked."""
    via = check_via(via)
    svc = get_service(service)
    if not reason or not reason.strip():
        raise InvalidRequest("reason", "say why the service is locked")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidRequest("expires_at", "must be in the future")
    require(permissions.can_lock, actor, via, svc, "lock")
    with transaction.atomic():
        Service.objects.select_for_update().get(pk=svc.pk)
        current = Lock.objects.filter(service=svc).first()
        if current is not None and not current.is_expired:
            raise Conflict(
                f"{svc.name} is already locked by {current.owner_name}: {current.reason}"
            )
        if current is not None:
            current.delete()  # an expired lock is simply replaced
        lock = Lock.objects.create(
            service=svc, owner=actor, owner_name=actor_name(actor, via), reason=reason,
            expires_at=expires_at,
        )
        audit.append(actor=actor_name(actor, via), via=via, action="lock", service=svc.name,
                     reason=reason, payload={"expires_at": expires_at})
        publish_on_commit([streams.service_stream(svc.name)], "lock", {
            "service": svc.name, "locked": True, "owner": lock.owner_name, "reason": reason,
            "expires_at": expires_at.isoformat() if expires_at else None,
        })
        return lock


def unlock_service(*, service: Service | str, actor: Any, via: str, reason: str = "") -> None:
    """Remove the Service's lock (expired locks count as absent)."""
    via = check_via(via)
    svc = get_service(service)
    require(permissions.can_lock, actor, via, svc, "unlock")
    with transaction.atomic():
        Service.objects.select_for_update().get(pk=svc.pk)  # lock order: Service first
        lock = Lock.objects.select_for_update().filter(service=svc).first()
        if lock is None:
            raise Conflict(f"{svc.name} is not locked")
        audit.append(actor=actor_name(actor, via), via=via, action="unlock", service=svc.name,
                     reason=reason, payload={"owner": lock.owner_name, "lock_reason": lock.reason})
        lock.delete()
        publish_on_commit([streams.service_stream(svc.name)], "lock",
                          {"service": svc.name, "locked": False})


def pause_service(*, service: Service | str, actor: Any, via: str, reason: str = "") -> Service:
    """Pause the Deployment's rollouts (spec.paused=true)."""
    via = check_via(via)
    svc = get_service(service)
    require(permissions.can_pause, actor, via, svc, "pause")
    if svc.paused:
        raise Conflict(f"{svc.name} is already paused")
    try:
        clients.kube(svc.cluster).pause(svc.namespace, svc.deployment)
    except AdapterError as exc:
        raise Unavailable(f"could not pause {svc.deployment}: {exc}") from exc
    with transaction.atomic():
        now = timezone.now()
        Service.objects.filter(pk=svc.pk).update(paused=True, paused_at=now)
        svc.paused, svc.paused_at = True, now
        audit.append(actor=actor_name(actor, via), via=via, action="pause", service=svc.name,
                     reason=reason)
        publish_on_commit([streams.service_stream(svc.name)], "pause",
                          {"service": svc.name, "paused": True})
    return svc


def resume_service(*, service: Service | str, actor: Any, via: str, reason: str = "") -> Service:
    """Resume the Deployment's rollouts; the paused time is added to the active deadline."""
    via = check_via(via)
    svc = get_service(service)
    require(permissions.can_pause, actor, via, svc, "resume")
    try:
        clients.kube(svc.cluster).resume(svc.namespace, svc.deployment)
    except AdapterError as exc:
        raise Unavailable(f"could not resume {svc.deployment}: {exc}") from exc
    with transaction.atomic():
        now = timezone.now()
        locked = Service.objects.select_for_update().get(pk=svc.pk)  # Service before releases
        paused_for = (now - locked.paused_at) if locked.paused_at else None
        Service.objects.filter(pk=svc.pk).update(paused=False, paused_at=None)
        svc.paused, svc.paused_at = False, None
        if paused_for is not None:
            Release.objects.active().filter(service=svc, deadline_at__isnull=False).update(
                deadline_at=F("deadline_at") + paused_for
            )
        audit.append(actor=actor_name(actor, via), via=via, action="resume", service=svc.name,
                     reason=reason, payload={"paused_seconds": paused_for.total_seconds()
                                             if paused_for else None})
        publish_on_commit([streams.service_stream(svc.name)], "pause",
                          {"service": svc.name, "paused": False})
    return svc


def check_rollout_steps(*, cluster: Any, namespace: str, deployment: str, steps: Any) -> None:
    """Refuse rollout steps that are not smaller than the Deployment's replica count
    (InvalidRequest naming `rollout_steps`). The count is asked of the cluster; when it
    cannot answer, the shape check on the model stands and the driver never pauses past
    replicas - 1 pods."""
    if not steps:
        return
    try:
        dep = clients.kube(cluster).deployment(namespace, deployment)
    except Exception:  # unreachable or misconfigured: nothing to compare with
        return
    replicas = int((dep.get("spec") or {}).get("replicas") or 1)
    try:
        predeploy.check_steps(steps, replicas)
    except ValueError as exc:
        raise InvalidRequest("rollout_steps", str(exc)) from None
