"""Reads for the API: what a request may see, and the live service summary (fixed number of
queries however many services)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from rest_framework.request import Request

from dashboard import states
from dashboard.api.permissions import visible_service_names
from dashboard.models import Release, Service


def visible_services(request: Request) -> QuerySet[Service]:
    qs = Service.objects.visible_to(request.user)
    names = visible_service_names(request)
    if names is not None:
        qs = qs.filter(name__in=names)
    return qs


def _brief(release: Release | None) -> dict[str, Any] | None:
    if release is None:
        return None
    return {"id": release.pk, "state": release.state, "kind": release.kind,
            "commit": release.commit_sha, "image": release.image,
            "finished_at": release.finished_at}


def service_summaries(services: QuerySet[Service]) -> list[dict[str, Any]]:
    latest_ok = Release.objects.filter(service=OuterRef("pk"), state=states.SUCCEEDED)
    rows = list(
        services.select_related("cluster", "lock")
        .annotate(
            current_id=Subquery(latest_ok.order_by("-id").values("id")[:1]),
            queued_count=Count("releases", filter=Q(releases__state=states.QUEUED)),
        )
        .order_by("name")
    )
    current_ids = [s.current_id for s in rows if s.current_id]  # type: ignore[attr-defined]
    wanted = Q(pk__in=current_ids) | Q(service__in=[s.pk for s in rows],
                                       state__in=states.ACTIVE)
    releases = list(Release.objects.filter(wanted)) if rows else []
    by_id = {r.pk: r for r in releases}
    active = {r.service_id: r for r in releases if r.state in states.ACTIVE}
    out = []
    for s in rows:
        lock = getattr(s, "lock", None)
        if lock is not None and lock.is_expired:
            lock = None
        out.append({
            "name": s.name,
            "url": reverse("dashboard_api:service-detail", args=[s.name]),
            "cluster": s.cluster.name,
            "namespace": s.namespace,
            "deployment": s.deployment,
            "paused": s.paused,
            "lock": lock,
            "current": _brief(by_id.get(s.current_id)),  # type: ignore[attr-defined]
            "active": _brief(active.get(s.pk)),
            "queued": s.queued_count,  # type: ignore[attr-defined]
        })
    return out


def get_lock(service: Service) -> Any:
    try:
        return service.lock
    except Service.lock.RelatedObjectDoesNotExist:  # type: ignore[attr-defined]
        return None
