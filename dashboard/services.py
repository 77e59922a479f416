"""The only code that changes release and Service state. Admin, API, Slack, CLI and the Celery
tasks all call these functions and map ServiceError to their own output.

Every function writes its AuditEntry in the same transaction as the change and publishes live
messages only after commit. The build/rollout driver lives in dashboard.pipeline (a helper of
this module: it changes state only through transition() and the helpers here).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard import audit, permissions, refs, states
from dashboard.errors import (
    Conflict,
    InvalidRequest,
    Locked,
    NotAllowed,
    NotFound,
    ServiceError,
    Unavailable,
)
from dashboard.models import Lock, Release, Service
from dashboard.timeline import _on_commit_publish, enqueue_advance, record_event

__all__ = [
    "Conflict",
    "InvalidRequest",
    "Locked",
    "NotAllowed",
    "NotFound",
    "ServiceError",
    "Unavailable",
    "cancel_release",
    "enqueue_advance",
    "lock_service",
    "pause_service",
    "record_event",
    "request_release",
    "request_rollback",
    "resume_service",
    "transition",
    "unlock_service",
]

SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")
REF_RE = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/+-]{1,200}$")
ACTORLESS_VIAS = ("cli", "system")  # shell access and the system itself act without a user


# --- helpers -------------------------------------------------------------------------------

def actor_name(actor: Any, via: str) -> str:
    if actor is not None and getattr(actor, "is_authenticated", False):
        return str(actor.get_username())
    return via


def _require(check: Any, actor: Any, via: str, service: Service, what: str) -> None:
    if actor is None:
        if via in ACTORLESS_VIAS:
            return
        raise NotAllowed(f"{what} on {service.name} needs a signed-in user")
    if not check(actor, service):
        raise NotAllowed(f"{actor_name(actor, via)} may not {what} {service.name}")


def _service(service: Service | str) -> Service:
    if isinstance(service, Service):
        return service
    found = Service.objects.select_related("cluster").filter(name=str(service)).first()
    if found is None:
        raise InvalidRequest("service", f"unknown service {str(service)[:63]!r}")
    return found


def _via(via: str) -> str:
    if via not in states.VIAS:
        raise InvalidRequest("via", f"must be one of {', '.join(states.VIAS)}")
    return via


# --- the transition ------------------------------------------------------------------------

def transition(release: Release, to_state: str, *, actor: Any = None, via: str = "system",
               message: str = "", data: dict[str, Any] | None = None,
               promote: bool = True, fields: dict[str, Any] | None = None,
               service_locked: bool = False) -> Release:
    """Move `release` to `to_state` if the table allows it; raise Conflict otherwise.

    Writes a ReleaseEvent and an AuditEntry in the same transaction, publishes after commit,
    and when the release ends starts the Service's next queued release (unless `promote` is
    False: a failure that is about to roll back keeps the Service busy). `fields` are saved
    with the state change (e.g. failure_summary). `service_locked`: the caller holds the
    Service row lock in this transaction and read `release` (select_for_update, with its
    service) under it, so both are current; such callers let a Conflict abort their whole
    change, so no savepoint is needed either.
    """
    with transaction.atomic(savepoint=not service_locked):
        # Lock order everywhere: Service row, then release rows, then the audit chain (held
        # to commit). Taking the Service first here keeps a release that ends (and starts the
        # next) from deadlocking with a request for the same Service.
        if service_locked:
            locked = release
        else:
            Service.objects.select_for_update().filter(pk=release.service_id).values_list(
                "pk").first()
            locked = Release.objects.select_for_update().select_related("service").get(
                pk=release.pk)
        from_state = locked.state
        if not states.can_transition(from_state, to_state):
            raise Conflict(f"release {locked.pk} is {from_state}; cannot move to {to_state}")
        now = timezone.now()
        if locked.phase_started_at and from_state not in states.TERMINAL:
            spent = (now - locked.phase_started_at).total_seconds()
            locked.timings = {**locked.timings, from_state: round(
                locked.timings.get(from_state, 0) + spent, 3)}
        locked.state = to_state
        locked.phase_started_at = now
        locked.heartbeat_at = now
        changed = ["state", "phase_started_at", "heartbeat_at", "timings", *(fields or {})]
        if from_state == states.QUEUED and to_state in states.ACTIVE:
            locked.started_at = now
            changed.append("started_at")
        if to_state in states.TERMINAL:
            locked.finished_at = now
            changed.append("finished_at")
        for name, value in (fields or {}).items():
            setattr(locked, name, value)
        locked.save(update_fields=changed)
        text = message or f"{from_state} -> {to_state}"
        record_event(locked, "state", text, {"from": from_state, "to": to_state, **(data or {})},
                     row_locked=True)
        audit.append(
            actor=actor_name(actor, via), via=via, action="release.transition",
            service=locked.service.name, release_id=locked.pk, reason=message,
            payload={"from": from_state, "to": to_state, **(data or {})},
        )
        payload = {
            "id": locked.pk, "service": locked.service.name, "kind": locked.kind,
            "state": to_state, "from": from_state, "commit": locked.commit_sha,
            "message": text, "at": now.isoformat(),
        }
        _on_commit_publish(
            [f"release:{locked.pk}", f"service:{locked.service.name}"], "release.state", payload
        )
        if from_state == states.QUEUED and to_state in states.ACTIVE:
            enqueue_advance(locked.pk, locked.tick)
        if to_state in states.TERMINAL and promote:
            promote_next(locked.service, service_locked=True)
    if locked is not release:  # the caller's copy sees the change too
        for f in locked._meta.concrete_fields:
            setattr(release, f.attname, getattr(locked, f.attname))
    return locked


def promote_next(service: Service, *, service_locked: bool = False) -> Release | None:
    """Start the Service's next queued release if none is active (same transaction)."""
    with transaction.atomic(savepoint=not service_locked):
        if not service_locked:
            Service.objects.select_for_update().filter(pk=service.pk).values_list("pk").first()
        if Release.objects.active().filter(service=service).exists():
            return None
        order = "-id" if service.supersede_queued else "id"
        nxt = (Release.objects.queued().select_for_update().select_related("service")
               .filter(service=service).order_by(order).first())
        if nxt is None:
            return None
        first_state = states.DEPLOYING if nxt.image else states.BUILDING
        return transition(nxt, first_state, message=f"started ({nxt.kind})", service_locked=True)


def _supersede_older(service: Service, newest: Release) -> None:
    if not service.supersede_queued:
        return
    older = (Release.objects.queued().select_for_update().select_related("service")
             .filter(service=service, id__lt=newest.pk).order_by("id"))
    for old in older:
        transition(old, states.SUPERSEDED, message=f"superseded by release {newest.pk}",
                   data={"superseded_by": newest.pk}, promote=False,
                   fields={"superseded_by_id": newest.pk}, service_locked=True)


def _check_lock(service: Service, actor: Any, via: str, force_reason: str | None) -> Lock | None:
    """Raise Locked unless the lock is the actor's own or forced by someone allowed to."""
    lock = Lock.objects.active().filter(service=service).first()
    if lock is None:
        return None
    if actor is not None and lock.owner_id is not None and lock.owner_id == actor.pk:
        return None
    if not force_reason or not force_reason.strip():
        raise Locked(lock.owner_name, lock.reason, lock.expires_at)
    _require(permissions.can_force, actor, via, service, "force a release through the lock on")
    return lock


def _create(service: Service, *, actor: Any, via: str, reason: str, force_reason: str | None,
            idempotency_key: str | None, action: str, **values: Any) -> Release:
    with transaction.atomic():
        # The Service row lock serializes concurrent requests for one Service; the partial
        # unique index stays the last word if anything slipped past it.
        Service.objects.select_for_update().filter(pk=service.pk).values_list("pk").get()
        if idempotency_key:
            existing = Release.objects.filter(service=service, idempotency_key=idempotency_key)
            if existing.exists():  # a retry: cheap to ask, rare to be true
                return existing.get()
        lock = _check_lock(service, actor, via, force_reason)
        release = Release.objects.create(
            service=service, requested_by=actor if actor is not None else None, via=via,
            reason=reason, idempotency_key=idempotency_key or None,
            force_reason=(force_reason or "") if lock else "", **values,
        )
        record_event(release, "requested", f"{release.kind} requested by {actor_name(actor, via)}",
                     {"reason": reason}, created=True)
        audit.append(
            actor=actor_name(actor, via), via=via, action=action, service=service.name,
            release_id=release.pk, reason=reason,
            payload={k: (v.pk if isinstance(v, Release) else v) for k, v in values.items()},
        )
        if lock is not None:
            audit.append(
                actor=actor_name(actor, via), via=via, action="lock.force", service=service.name,
                release_id=release.pk, reason=force_reason or "",
                payload={"lock_owner": lock.owner_name, "lock_reason": lock.reason,
                         "break_glass": True},
            )
        _on_commit_publish([f"service:{service.name}"], "release.state", {
            "id": release.pk, "service": service.name, "kind": release.kind,
            "state": release.state, "from": None, "commit": release.commit_sha,
        })
        _supersede_older(service, release)
        started = promote_next(service, service_locked=True)
        # Only promote_next changes the new release further (it may start it at once).
        return started if started is not None and started.pk == release.pk else release


# --- entry points --------------------------------------------------------------------------

def validate_image(service: Service, image: str) -> str:
    repo = re.escape(service.image_repository.rstrip("/"))
    if not re.fullmatch(repo + r"(@sha256:[0-9a-f]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", image):
        raise InvalidRequest(
            "image", f"must be an image of {service.image_repository} (repository@sha256:...)"
        )
    return image


def _resolve_ref(service: Service, ref: str) -> str:
    if not service.git_repo:
        raise InvalidRequest("commit", f"give a git SHA: {service.name} has no git repository "
                             f"set to look {ref!r} up in")
    try:
        return refs.resolve(service.git_repo, ref)
    except refs.RefNotFound as exc:
        raise InvalidRequest("ref", str(exc)) from None
    except refs.RepositoryUnavailable as exc:
        raise Unavailable(f"cannot look {ref!r} up: {exc}") from None


def request_release(*, service: Service | str, commit: str, ref: str = "", actor: Any, via: str,
                    reason: str = "", idempotency_key: str | None = None,
                    force_reason: str | None = None, image: str = "") -> Release:
    """Queue a deploy of `commit` (built by Cloud Build, or `image` if given); it starts at
    once when nothing else is active. Without a commit, `ref` (a branch or tag) is resolved
    to the commit it points at now, in the Service's git_repo. Raise ServiceError on bad
    input, permission or lock."""
    via = _via(via)
    svc = _service(service)
    commit = (commit or "").strip().lower()
    ref = (ref or "").strip()
    if ref and not REF_RE.match(ref):
        raise InvalidRequest("ref", "must be a branch or tag name (letters, digits, . _ / + -)")
    if commit and not SHA_RE.match(commit):
        raise InvalidRequest("commit", "must be a git SHA: 7 to 40 hexadecimal characters")
    if not commit and not ref:
        raise InvalidRequest("commit", "give a git SHA (7 to 40 hexadecimal characters) "
                             "or a branch or tag name")
    if image:
        validate_image(svc, image)
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 200):
        raise InvalidRequest("idempotency_key", "must be 1 to 200 characters")
    _require(permissions.can_deploy, actor, via, svc, "deploy")
    if not commit:
        commit = _resolve_ref(svc, ref)
    values: dict[str, Any] = {"kind": states.KIND_DEPLOY, "commit_sha": commit, "ref": ref}
    if image:
        values["image"] = image
        values["image_digest"] = image.split("@", 1)[1] if "@" in image else ""
    try:
        return _create(svc, actor=actor, via=via, reason=reason, force_reason=force_reason,
                       idempotency_key=idempotency_key, action="release.request", **values)
    except IntegrityError as exc:  # the database's invariants have the last word
        raise Conflict(f"could not queue the release: {exc}") from exc


def request_rollback(*, service: Service | str, actor: Any, via: str, reason: str = "",
                     to_release: Release | int | None = None,
                     force_reason: str | None = None) -> Release:
    """Queue a release of kind rollback that redeploys an earlier succeeded release's image
    (default: the one before the latest succeeded release). No build."""
    via = _via(via)
    svc = _service(service)
    _require(permissions.can_rollback, actor, via, svc, "roll back")
    done = Release.objects.succeeded().for_service(svc).exclude(image="").order_by("-id")
    if to_release is None:
        target = done[1:2].first() if done.exists() else None
        if target is None:
            raise InvalidRequest("to_release", "no earlier succeeded release to roll back to")
    else:
        pk = to_release.pk if isinstance(to_release, Release) else to_release
        target = done.filter(pk=pk).first()
        if target is None:
            raise InvalidRequest("to_release", f"release {pk} of {svc.name} did not succeed "
                                 "with an image, so it cannot be rolled back to")
    return _create(
        svc, actor=actor, via=via, reason=reason, force_reason=force_reason,
        idempotency_key=None, action="release.rollback", kind=states.KIND_ROLLBACK,
        commit_sha=target.commit_sha, ref=target.ref, image=target.image,
        image_digest=target.image_digest, rollback_of=target,
    )


def cancel_release(*, release: Release | int, actor: Any, via: str, reason: str = "") -> Release:
    """Cancel: queued -> cancelled; building -> cancelled (the Cloud Build is cancelled);
    deploying/verifying -> rolling back."""
    via = _via(via)
    rel = release if isinstance(release, Release) else Release.objects.filter(pk=release).first()
    if rel is None:
        raise NotFound(f"no release {release}")
    rel.refresh_from_db()
    _require(permissions.can_deploy, actor, via, rel.service, "cancel releases of")
    with transaction.atomic():
        # Service row first (the lock order transition() documents), then the audit chain.
        Service.objects.select_for_update().filter(pk=rel.service_id).values_list("pk").first()
        rel.refresh_from_db()
        audit.append(actor=actor_name(actor, via), via=via, action="release.cancel",
                     service=rel.service.name, release_id=rel.pk, reason=reason,
                     payload={"state": rel.state})
        if rel.state in (states.QUEUED, states.BUILDING):
            was_building = rel.state == states.BUILDING
            rel = transition(rel, states.CANCELLED, actor=actor, via=via,
                             message=f"cancelled by {actor_name(actor, via)}")
            if was_building:
                from dashboard import tasks

                pk = rel.pk
                transaction.on_commit(lambda: tasks.cancel_build.delay(pk))
            return rel
        if rel.state in (states.DEPLOYING, states.VERIFYING):
            return transition(rel, states.ROLLING_BACK, actor=actor, via=via,
                              message=f"cancelled by {actor_name(actor, via)}: rolling back")
    raise Conflict(f"release {rel.pk} is {rel.state}; there is nothing to cancel")


def fail_release(release: Release, summary: dict[str, Any]) -> Release:
    """Fail with `summary` stored; if the cluster was changed and the Service says so, start
    rolling back in the same transaction (nothing else may start in between)."""
    rollback = release.service.auto_rollback and release.patched_at is not None
    with transaction.atomic():
        release = transition(
            release, states.FAILED, message=summary.get("reason", "failed"),
            data={"code": summary.get("code", "")}, promote=not rollback,
            fields={"failure_summary": summary},
        )
        if rollback:
            release = transition(
                release, states.ROLLING_BACK,
                message=f"auto-rollback to revision {release.revision_before}",
            )
    return release


from dashboard.service_ops import (  # noqa: E402  (they use the helpers above)
    lock_service,
    pause_service,
    resume_service,
    unlock_service,
)


def advance_release(release_id: int, tick: int) -> None:
    """Run one step of the release's driver (the Celery task calls this)."""
    from dashboard import pipeline

    pipeline.advance(release_id, tick)


def reconcile(now: datetime | None = None, stale_after: timedelta | None = None) -> dict[str, int]:
    """Re-drive active releases whose driver went quiet; start queued ones that can start."""
    from dashboard import pipeline

    return pipeline.reconcile(now=now, stale_after=stale_after)
