"""Requesting, rolling back and cancelling releases: input, permission and lock checks, then
the release pipeline (dashboard.releases) does the rest."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard import audit, permissions, refs, states, streams
from dashboard.errors import (
    Conflict,
    InvalidRequest,
    Locked,
    NotFound,
    SchemaChanged,
    Unavailable,
)
from dashboard.models import Lock, Release, Service
from dashboard.releases import lifecycle, stepped
from dashboard.services.common import actor_name, check_via, get_service, require

# --- helpers -------------------------------------------------------------------------------

def _check_lock(service: Service, actor: Any, via: str, force_reason: str | None) -> Lock | None:
    """Raise Locked unless the lock is the actor's own or forced by someone allowed to."""
    lock = Lock.objects.active().filter(service=service).first()
    if lock is None:
        return None
    if actor is not None and lock.owner_id is not None and lock.owner_id == actor.pk:
        return None
    if not force_reason or not force_reason.strip():
        raise Locked(lock.owner_name, lock.reason, lock.expires_at)
    require(permissions.can_force, actor, via, service, "force a release through the lock on")
    return lock


def _create(service: Service, *, actor: Any, via: str, reason: str, force_reason: str | None,
            idempotency_key: str | None, action: str, **values: Any) -> Release:
    with transaction.atomic():
        # The Service row lock serializes concurrent requests for one Service; the partial
        # unique index stays the last word if anything slipped past it.
        lifecycle.lock_service_row(service.pk)
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
        lifecycle.record_event(release, "requested",
                               f"{release.kind} requested by {actor_name(actor, via)}",
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
        lifecycle.publish_on_commit([streams.service_stream(service.name)], "release.state", {
            "id": release.pk, "service": service.name, "kind": release.kind,
            "state": release.state, "from": None, "commit": release.commit_sha,
        })
        lifecycle.supersede_older(service, release)
        started = lifecycle.promote_next(service, service_locked=True)
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
    via = check_via(via)
    svc = get_service(service)
    try:
        ref = refs.clean_ref(ref)
    except ValueError as exc:
        raise InvalidRequest("ref", str(exc)) from None
    try:
        commit = refs.clean_commit(commit)
    except ValueError as exc:
        raise InvalidRequest("commit", str(exc)) from None
    if not commit and not ref:
        raise InvalidRequest("commit", f"give {refs.SHA_RULE}, or a branch or tag name")
    if image:
        validate_image(svc, image)
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 200):
        raise InvalidRequest("idempotency_key", "must be 1 to 200 characters")
    require(permissions.can_deploy, actor, via, svc, "deploy")
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


SCHEMA_OUTPUT_LINES = 10


def schema_changes(target: Release) -> list[dict[str, Any]]:
    """What rolling back to `target` would go back past: the later releases whose pre-deploy
    Job ran, with the last lines it printed."""
    return [{"id": r.pk, "commit": r.commit_sha, "job": r.pre_deploy_job,
             "output": r.pre_deploy_log.splitlines()[-SCHEMA_OUTPUT_LINES:]}
            for r in Release.objects.schema_changes_after(target)]


def rollback_target(service: Service | str, to_release: Release | int | None = None
                    ) -> Release:
    """The succeeded release a rollback would redeploy (default: the one before the latest
    succeeded release); InvalidRequest when there is none."""
    svc = get_service(service)
    done = Release.objects.succeeded().for_service(svc).exclude(image="").order_by("-id")
    if to_release is None:
        target = done[1:2].first() if done.exists() else None
        if target is None:
            raise InvalidRequest("to_release", "no earlier succeeded release to roll back to")
        return target
    pk = to_release.pk if isinstance(to_release, Release) else to_release
    target = done.filter(pk=pk).first()
    if target is None:
        raise InvalidRequest("to_release", f"release {pk} of {svc.name} did not succeed "
                             "with an image, so it cannot be rolled back to")
    return target


def request_rollback(*, service: Service | str, actor: Any, via: str, reason: str = "",
                     to_release: Release | int | None = None,
                     force_reason: str | None = None,
                     acknowledge_schema_change: bool = False) -> Release:
    """Queue a release of kind rollback that redeploys an earlier succeeded release's image
    (default: the one before the latest succeeded release). No build, no pre-deploy Job.
    Going back past releases whose pre-deploy Job ran raises SchemaChanged unless
    `acknowledge_schema_change`; acknowledged, it is written to the timeline and audit."""
    via = check_via(via)
    svc = get_service(service)
    require(permissions.can_rollback, actor, via, svc, "roll back")
    target = rollback_target(svc, to_release)
    changes = schema_changes(target)
    if changes and not acknowledge_schema_change:
        raise SchemaChanged(changes)
    with transaction.atomic():
        release = _create(
            svc, actor=actor, via=via, reason=reason, force_reason=force_reason,
            idempotency_key=None, action="release.rollback", kind=states.KIND_ROLLBACK,
            commit_sha=target.commit_sha, ref=target.ref, image=target.image,
            image_digest=target.image_digest, rollback_of=target,
        )
        if changes:
            ids = ", ".join(f"#{c['id']}" for c in changes)
            text = (f"rolling back past the schema changes of release {ids}, acknowledged by "
                    f"{actor_name(actor, via)}")
            lifecycle.record_event(release, "schema", text, {"schema_changes": changes})
            audit.append(actor=actor_name(actor, via), via=via,
                         action="release.rollback.schema_acknowledged", service=svc.name,
                         release_id=release.pk, reason=reason,
                         payload={"schema_changes": [c["id"] for c in changes]})
    return release


def _current(release: Release | int) -> Release:
    """The release as the database has it now (NotFound when there is no such release)."""
    rel = release if isinstance(release, Release) else Release.objects.filter(pk=release).first()
    if rel is None:
        raise NotFound(f"no release {release}")
    rel.refresh_from_db()
    return rel


def cancel_release(*, release: Release | int, actor: Any, via: str, reason: str = "") -> Release:
    """Cancel: queued -> cancelled; building -> cancelled (the Cloud Build is cancelled);
    migrating -> cancelled (the pre-deploy Job runs to its end);
    deploying/verifying -> rolling back."""
    via = check_via(via)
    rel = _current(release)
    require(permissions.can_deploy, actor, via, rel.service, "cancel releases of")
    with transaction.atomic():
        # Service row first (the lock order transition() documents), then the audit chain.
        lifecycle.lock_service_row(rel.service_id)
        rel.refresh_from_db()
        audit.append(actor=actor_name(actor, via), via=via, action="release.cancel",
                     service=rel.service.name, release_id=rel.pk, reason=reason,
                     payload={"state": rel.state})
        if rel.state in (states.QUEUED, states.BUILDING, states.MIGRATING):
            # A running pre-deploy Job is left to finish: killing a migration half-way is
            # worse than letting it end; the Deployment was not touched.
            was_building = rel.state == states.BUILDING
            rel = lifecycle.transition(rel, states.CANCELLED, actor=actor, via=via,
                             message=f"cancelled by {actor_name(actor, via)}")
            if was_building:
                lifecycle.enqueue_on_commit(lifecycle.CANCEL_BUILD_TASK, rel.pk)
            return rel
        if rel.state in (states.DEPLOYING, states.VERIFYING):
            return lifecycle.transition(rel, states.ROLLING_BACK, actor=actor, via=via,
                              message=f"cancelled by {actor_name(actor, via)}: rolling back")
    raise Conflict(f"release {rel.pk} is {rel.state}; there is nothing to cancel")


def continue_step(*, release: Release | int, actor: Any, via: str, reason: str = "") -> Release:
    """"Continue now": end the bake of the release's current rollout step early (the driver
    resumes the Deployment at its next look). Only while a step bakes."""
    via = check_via(via)
    rel = _current(release)
    require(permissions.can_deploy, actor, via, rel.service, "continue releases of")
    with transaction.atomic():
        lifecycle.lock_service_row(rel.service_id)
        rel.refresh_from_db()
        if rel.state != states.DEPLOYING or (rel.rollout_step or {}).get("phase") != "baking":
            raise Conflict(f"release {rel.pk} is not baking a rollout step; there is nothing "
                           "to continue")
        lifecycle.save(rel, step_continue_at=timezone.now())
        who = actor_name(actor, via)
        lifecycle.record_event(rel, "step", f"continue now, by {who}", {"reason": reason},
                               publish_type="rollout.step")
        audit.append(actor=who, via=via, action="release.continue", service=rel.service.name,
                     release_id=rel.pk, reason=reason,
                     payload={"step": (rel.rollout_step or {}).get("index", 0) + 1})
        lifecycle.enqueue_step(rel.pk, rel.tick)  # look now, not at the next poll
    return rel


def step_view(release: Release) -> dict[str, Any]:
    """The release's rollout step for pages: number, phase, bake seconds left."""
    return stepped.view(release)
