"""The only writer of release rows and their timeline.

State moves only through `transition()`, which checks the table in dashboard.states, writes a
ReleaseEvent and an AuditEntry in the same transaction and, after commit, publishes the
change and queues the driver. Other fields the steps learn on the way (build id, log offset,
revision before, patch time...) are written by `save()`; the timeline grows by
`record_event()`. Side effects leave only after commit, each through one named function:
`publish_on_commit()` for live messages, `enqueue_on_commit()` for Celery tasks.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from dashboard import audit, metrics, states, streams
from dashboard.errors import Conflict
from dashboard.models import Release, ReleaseEvent, Service

# Celery task names (dashboard/tasks.py registers them under these names): the pipeline
# enqueues by name, so nothing here imports the task module.
ADVANCE_TASK = "dashboard.advance_release"
CANCEL_BUILD_TASK = "dashboard.cancel_build"
RECONCILE_TASK = "dashboard.reconcile"


# --- side effects after commit -------------------------------------------------------------

def publish_on_commit(names: list[str], type_: str, data: dict[str, Any]) -> None:
    """Publish `data` on each live stream once the surrounding transaction commits (at once
    outside one); nothing is published for a change that rolls back."""
    def send() -> None:
        for name in names:
            streams.publish(name, type_, data)

    transaction.on_commit(send)


def enqueue_on_commit(task_name: str, *args: Any, countdown: float = 0) -> None:
    """Queue a Celery task after commit (the worker must see the committed rows). Robust: if
    the broker is down (a Redis outage) the failure is logged, not raised into a change that
    already committed; the reconciler re-drives or starts the release once Redis is back."""
    transaction.on_commit(lambda: current_app.send_task(
        task_name, args=list(args), countdown=max(countdown, 0)), robust=True)


def enqueue_step(release_id: int, tick: int, countdown: float = 0) -> None:
    """Queue the driver's next step of a release chain (see dashboard.releases.driver)."""
    enqueue_on_commit(ADVANCE_TASK, release_id, tick, countdown=countdown)


# --- release rows ------------------------------------------------------------------------

def save(release: Release, **fields: Any) -> None:
    """Store fields the steps learned (never `state`: that is transition()'s)."""
    assert "state" not in fields, "state changes go through transition()"
    Release.objects.filter(pk=release.pk).update(**fields)
    for name, value in fields.items():
        setattr(release, name, value)


def record_event(release: Release, kind: str, message: str = "", data: dict[str, Any] | None = None,
                 *, publish_type: str | None = None, row_locked: bool = False,
                 created: bool = False) -> ReleaseEvent:
    """Append to the release timeline (and, after commit, its live stream). `row_locked`: the
    caller holds the release's row lock in this transaction; `created`: the caller created
    the release in this transaction, so this is its first event."""
    # No savepoint: a failure here aborts the caller's change, it is never caught and retried.
    with transaction.atomic(savepoint=False):
        if not (row_locked or created):
            # The release row lock orders concurrent writers (driver, cancel) of one timeline.
            Release.objects.select_for_update().filter(pk=release.pk).values_list("pk").first()
        last = 0 if created else (
            ReleaseEvent.objects.filter(release_id=release.pk)
            .order_by("-seq").values_list("seq", flat=True).first()
        )
        event = ReleaseEvent.objects.create(
            release_id=release.pk, seq=(last or 0) + 1, kind=kind, state=release.state,
            message=message, data=audit.normalize_payload(data),
        )
        if publish_type:
            publish_on_commit(
                [streams.release_stream(release.pk)], publish_type,
                {"release": release.pk, "message": message, **(data or {})},
            )
        return event


def record_log(release: Release, offset: int, text: str) -> bool:
    """Append a chunk of build log and move the stored log offset in one transaction, so a
    re-run never repeats or skips log text. False when another run moved the offset first."""
    with transaction.atomic():
        updated = Release.objects.filter(
            pk=release.pk, build_log_offset=release.build_log_offset
        ).update(build_log_offset=offset)
        if updated:
            record_event(release, "build.log", text, {"offset": offset},
                         publish_type="build.log")
    release.build_log_offset = offset
    return bool(updated)


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
            lock_service_row(release.service_id)
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
            transaction.on_commit(lambda: metrics.phase_spent(locked, from_state, spent))
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
            transaction.on_commit(lambda: metrics.release_ended(locked, to_state))
        for name, value in (fields or {}).items():
            setattr(locked, name, value)
        locked.save(update_fields=changed)
        text = message or f"{from_state} -> {to_state}"
        record_event(locked, "state", text, {"from": from_state, "to": to_state, **(data or {})},
                     row_locked=True)
        audit.append(
            actor=audit.actor_name(actor, via), via=via, action="release.transition",
            service=locked.service.name, release_id=locked.pk, reason=message,
            payload={"from": from_state, "to": to_state, **(data or {})},
        )
        payload = {
            "id": locked.pk, "service": locked.service.name, "kind": locked.kind,
            "state": to_state, "from": from_state, "commit": locked.commit_sha,
            "message": text, "at": now.isoformat(),
        }
        publish_on_commit([streams.release_stream(locked.pk),
                           streams.service_stream(locked.service.name)], "release.state", payload)
        if from_state == states.QUEUED and to_state in states.ACTIVE:
            enqueue_step(locked.pk, locked.tick)
        if to_state in states.TERMINAL and promote:
            promote_next(locked.service, service_locked=True)
    if locked is not release:  # the caller's copy sees the change too
        for f in locked._meta.concrete_fields:
            setattr(release, f.attname, getattr(locked, f.attname))
    return locked


def lock_service_row(service_id: int) -> None:
    """Take the Service row lock (first in the lock order) for the current transaction."""
    Service.objects.select_for_update().filter(pk=service_id).values_list("pk").first()


def promote_next(service: Service, *, service_locked: bool = False) -> Release | None:
    """Start the Service's next queued release if none is active (same transaction)."""
    with transaction.atomic(savepoint=not service_locked):
        if not service_locked:
            lock_service_row(service.pk)
        if Release.objects.active().filter(service=service).exists():
            return None
        order = "-id" if service.supersede_queued else "id"
        nxt = (Release.objects.queued().select_for_update().select_related("service")
               .filter(service=service).order_by(order).first())
        if nxt is None:
            return None
        first_state = rollout_state(nxt) if nxt.image else states.BUILDING
        return transition(nxt, first_state, message=f"started ({nxt.kind})", service_locked=True)


def rollout_state(release: Release) -> str:
    """Where a release with an image goes next: a deploy of a Service with a pre-deploy
    command runs it first (migrating); a rollback never does (deploying)."""
    if release.kind == states.KIND_DEPLOY and release.service.pre_deploy_command:
        return states.MIGRATING
    return states.DEPLOYING


def supersede_older(service: Service, newest: Release) -> None:
    """Queued releases older than `newest` are superseded (when the Service says so); the
    caller holds the Service row lock."""
    if not service.supersede_queued:
        return
    older = (Release.objects.queued().select_for_update().select_related("service")
             .filter(service=service, id__lt=newest.pk).order_by("id"))
    for old in older:
        transition(old, states.SUPERSEDED, message=f"superseded by release {newest.pk}",
                   data={"superseded_by": newest.pk}, promote=False,
                   fields={"superseded_by_id": newest.pk}, service_locked=True)


def fail_release(release: Release, summary: dict[str, Any], *, rollback: bool = True) -> Release:
    """Fail with `summary` stored; if the cluster was changed and the Service says so (and
    the caller allows it), start rolling back in the same transaction (nothing else may start
    in between)."""
    rollback = rollback and release.service.auto_rollback and release.patched_at is not None
    with transaction.atomic():
        release = transition(
            release, states.FAILED, message=summary.get("reason", "failed"),
            data={"code": summary.get("code", "")}, promote=not rollback,
            fields={"failure_summary": summary},
        )
        code = str(summary.get("code") or "")
        transaction.on_commit(lambda: metrics.release_failed(release, code))
        if rollback:
            release = transition(
                release, states.ROLLING_BACK,
                message=f"auto-rollback to revision {release.revision_before}",
            )
    return release
