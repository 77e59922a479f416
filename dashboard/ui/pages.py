"""What the dashboard pages show, built with a fixed number of queries (pinned in tests/ui)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from dashboard import permissions, states
from dashboard.models import Lock, Release, Service
from dashboard.ui import live

# Rough share of the whole release each phase stands for (the progress bar on cards/pages).
PHASE_PROGRESS = {
    states.QUEUED: 0, states.BUILDING: 10, states.MIGRATING: 35, states.DEPLOYING: 55,
    states.VERIFYING: 85, states.ROLLING_BACK: 60,
}


def short_digest(digest: str) -> str:
    """sha256:abcdef0123... -> sha256:abcdef012345 (12 hex digits, like docker)."""
    if not digest:
        return ""
    algo, _, hexpart = digest.rpartition(":")
    return f"{algo or 'sha256'}:{hexpart[:12]}"


def digest_of(release: Release | None) -> str:
    if release is None:
        return ""
    if release.image_digest:
        return release.image_digest
    _, _, digest = (release.image or "").partition("@")
    return digest


def progress_percent(release: Release | None, rollout: dict[str, Any] | None = None) -> int:
    """0-100 for the release's progress bar: phase share plus progress inside the phase."""
    if release is None:
        return 0
    if release.state in states.TERMINAL:
        return 100
    base = PHASE_PROGRESS.get(release.state, 0)
    if release.state == states.BUILDING and release.build_steps:
        done = sum(1 for s in release.build_steps if str(s.get("status", "")).upper() in
                   {"SUCCESS", "FAILURE", "TIMEOUT", "CANCELLED"})
        base += int(40 * done / max(len(release.build_steps), 1))
    elif release.state == states.DEPLOYING:
        progress = rollout or release.last_progress or {}
        desired = int(progress.get("desired") or 0)
        if desired:
            ready = min(int(progress.get("updated") or 0), int(progress.get("available") or 0))
            base += int(30 * min(ready, desired) / desired)
    return base


def rollout_percent(rollout: dict[str, Any] | None) -> int:
    """The rollout bar: new pods available of desired (100 once the rollout is done)."""
    if not rollout:
        return 0
    desired = int(rollout.get("desired") or 0)
    if not desired:
        return 0
    if rollout.get("done"):
        return 100
    ready = min(int(rollout.get("updated") or 0), int(rollout.get("available") or 0))
    return int(100 * min(ready, desired) / desired)


@dataclass
class Card:
    service: Service
    current: Release | None
    active: Release | None
    queued: int
    lock: Lock | None
    live: live.LiveState
    can_deploy: bool
    can_rollback: bool
    can_lock: bool
    can_pause: bool

    @property
    def current_digest(self) -> str:
        return short_digest(digest_of(self.current))

    @property
    def progress(self) -> int:
        return progress_percent(self.active, self.live.rollout)

    @property
    def replicas_percent(self) -> int:
        desired = self.live.desired
        return int(100 * min(self.live.ready, desired) / desired) if desired else 0


def visible_services(user: Any) -> Any:
    return (
        Service.objects.visible_to(user)
        .select_related("cluster")
        .prefetch_related("allowed_groups")
        .order_by("name")
    )


def cards(user: Any, name: str | None = None) -> list[Card]:
    """One card per Service the user may view (or just `name`): a fixed number of queries,
    whatever the count."""
    latest = Release.objects.filter(service=OuterRef("pk"))
    visible = visible_services(user)
    if name is not None:
        visible = visible.filter(name=name)
    services = list(
        visible.annotate(
            current_id=Subquery(latest.filter(state=states.SUCCEEDED).order_by("-id").values("id")[:1]),
            active_id=Subquery(latest.filter(state__in=states.ACTIVE).order_by("-id").values("id")[:1]),
        )
    )
    if not services:
        return []
    ids = [i for s in services for i in (s.current_id, s.active_id) if i]  # type: ignore[attr-defined]
    releases = {r.pk: r for r in Release.objects.filter(pk__in=ids).select_related("requested_by")}
    queued: dict[int, int] = {}
    for service_id in Release.objects.queued().filter(service__in=services).values_list(
        "service_id", flat=True
    ):
        queued[service_id] = queued.get(service_id, 0) + 1
    locks = {lk.service_id: lk for lk in Lock.objects.active().filter(service__in=services)
             .select_related("owner")}
    user_groups = _group_ids(user)
    result = []
    for s in services:
        result.append(Card(
            service=s,
            current=releases.get(s.current_id),  # type: ignore[attr-defined]
            active=releases.get(s.active_id),  # type: ignore[attr-defined]
            queued=queued.get(s.pk, 0),
            lock=locks.get(s.pk),
            live=live.service_state(s.name),
            can_deploy=_can(user, "deploy_service", s, user_groups),
            can_rollback=_can(user, "rollback_service", s, user_groups),
            can_lock=_can(user, "lock_service", s, user_groups),
            can_pause=_can(user, "pause_service", s, user_groups),
        ))
    return result


def _group_ids(user: Any) -> set[int]:
    if getattr(user, "is_superuser", False):
        return set()
    return set(user.groups.values_list("id", flat=True))


def _can(user: Any, perm: str, service: Service, group_ids: set[int]) -> bool:
    """permissions._allowed without a query per card (groups fetched once). The server checks
    again with dashboard.permissions (and services.py) on every POST."""
    if not getattr(user, "is_active", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    if not user.has_perm(f"dashboard.{perm}"):
        return False
    allowed = {g.pk for g in service.allowed_groups.all()}
    return not allowed or bool(allowed & group_ids)


def queue_status(release: Release) -> dict[str, Any] | None:
    """For a queued release: its place in the Service's queue and what it waits for (the
    active release, the ones queued ahead of it, a pause); None once it left the queue."""
    if release.state != states.QUEUED:
        return None
    unfinished = list(Release.objects.for_service(release.service_id).unfinished()
                      .select_related("requested_by").order_by("id"))
    active = next((r for r in unfinished if r.state in states.ACTIVE), None)
    ahead = [r for r in unfinished if r.state == states.QUEUED and r.pk < release.pk]
    lock = Lock.objects.active().filter(service_id=release.service_id).first()
    return {"position": len(ahead) + 1, "ahead": ahead, "active": active, "lock": lock,
            "paused": release.service.paused}


def deploy_preview(service: Service, commit: str, ref: str) -> dict[str, Any]:
    """What the confirmation page shows: current vs new, who else is deploying, lock, queue."""
    current = Release.objects.for_service(service).succeeded().select_related(
        "requested_by").order_by("-id").first()
    unfinished = list(
        Release.objects.for_service(service).unfinished().select_related("requested_by")
        .order_by("id")
    )
    active = [r for r in unfinished if r.state in states.ACTIVE]
    queued = [r for r in unfinished if r.state == states.QUEUED]
    lock = Lock.objects.active().filter(service=service).select_related("owner").first()
    if not active and not queued:
        position = 0
    elif service.supersede_queued:
        position = 1  # a newer queued release replaces the older queued ones
    else:
        position = len(queued) + 1
    return {
        "current": current,
        "current_digest": short_digest(digest_of(current)),
        "new_commit": commit,
        "new_ref": ref,
        "new_image": f"{service.image_repository}:{commit or ref}",
        "active": active,
        "queued": queued,
        "lock": lock,
        "queue_position": position,
        "supersedes": queued if service.supersede_queued else [],
    }


def rollback_choices(service: Service, *, limit: int = 20) -> list[tuple[int, str]]:
    rows = Release.objects.for_service(service).succeeded().order_by("-id")[:limit]
    return [
        (r.pk, f"#{r.pk} {r.short_sha or short_digest(digest_of(r))} "
               f"({timezone.localtime(r.finished_at or r.created_at):%Y-%m-%d %H:%M})")
        for r in rows
    ]


def can_any(user: Any, service: Service) -> dict[str, bool]:
    return {
        "can_deploy": permissions.can_deploy(user, service),
        "can_rollback": permissions.can_rollback(user, service),
        "can_lock": permissions.can_lock(user, service),
        "can_pause": permissions.can_pause(user, service),
        "can_force": permissions.can_force(user, service),
    }
