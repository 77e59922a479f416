"""What a live view shows when it (re)connects:
{"type": "snapshot", "seq": N, "epoch": E, "data": {...}} (epochs: dashboard/streams.py).

Pods, rollout and recent events come from the watcher's state for the stream (rows stored
atomically with the sequence number by streams.publish_row, so they are exactly the effect of
messages 1..N). When no watcher leads (or it has published nothing for this stream yet) they
are read from the cluster through KubeAdapter instead; the seq is taken first, so messages
after it may repeat what the snapshot shows, never the reverse (rows are states: re-applying
one is harmless). The release, its timeline and the lock come from the database.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist

from dashboard import streams
from dashboard.adapters import clients
from dashboard.models import Lock, Release, ReleaseEvent, Service
from dashboard.rollout import changes, rows

log = logging.getLogger(__name__)
EVENTS_SHOWN = 20
TIMELINE_SHOWN = 200


def _live_rows(stream: str) -> tuple[int, str, dict[str, Any] | None]:
    seq, epoch, state = streams.state_at(stream)
    if not state or not streams.client().exists(streams.LEASE_KEY):
        return seq, epoch, None
    pods = sorted((m["data"] for k, m in state.items() if k.startswith("pod:")),
                  key=lambda p: p.get("name") or "")
    events = sorted((m["data"] for k, m in state.items() if k.startswith("event:")),
                    key=lambda e: str(e.get("at") or ""))
    rollout = state.get("rollout")
    return seq, epoch, {"pods": pods, "rollout": rollout["data"] if rollout else None,
                 "events": events[-EVENTS_SHOWN:]}


def from_cluster(service: Service) -> dict[str, Any]:
    """Pods, rollout and recent events read from the cluster now."""
    try:
        kube = clients.kube(service.cluster)
        dep = kube.deployment(service.namespace, service.deployment)
        rss = kube.replicasets(service.namespace, dep)
        new_rs = rows.new_replicaset(dep, rss)
        new_uid = rows.meta(new_rs).get("uid") if new_rs else None
        by_uid = {rows.meta(rs).get("uid"): rs for rs in rss}
        pods = [
            rows.pod_row(p, by_uid.get(rows.controller_uid(p)), new_uid)
            for p in kube.pods(service.namespace, dep["spec"].get("selector") or {})
            if rows.controller_uid(p) in by_uid
        ]
        names = {service.deployment, *(rows.meta(o).get("name") for o in rss),
                 *(p["name"] for p in pods)}
        events = [rows.event_row(e) for e in kube.events(service.namespace,
                                                         involved_names=names)]
        return {"pods": sorted(pods, key=lambda p: p["name"] or ""),
                "rollout": rows.rollout_row(dep, rss), "events": events[-EVENTS_SHOWN:]}
    except Exception as exc:
        log.warning("snapshot of %s from the cluster failed: %s", service.name, exc)
        return {"pods": [], "rollout": None, "events": [], "error": str(exc)}


def release_events(release: Release, live: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = [e.data for e in ReleaseEvent.objects.filter(release=release, kind=changes.EVENT)
            .order_by("-seq")[:EVENTS_SHOWN]][::-1]
    return changes.panel_events(
        kept, live, deployment=release.service.deployment,
        since=release.patched_at or release.started_at, until=release.finished_at,
        active=release.is_active)[-EVENTS_SHOWN:]


def release_summary(release: Release) -> dict[str, Any]:
    return {
        "id": release.pk, "service": release.service.name, "kind": release.kind,
        "state": release.state, "commit": release.commit_sha, "ref": release.ref,
        "image": release.image, "reason": release.reason, "via": release.via,
        "requested_by": getattr(release.requested_by, "username", None),
        "created_at": release.created_at, "started_at": release.started_at,
        "finished_at": release.finished_at, "revision_before": release.revision_before,
        "revision_after": release.revision_after, "build_id": release.build_id,
        "build_steps": release.build_steps, "failure_summary": release.failure_summary or None,
        "timings": release.timings,
    }


def timeline(release: Release) -> list[dict[str, Any]]:
    events = ReleaseEvent.objects.filter(release=release).order_by("-seq")[:TIMELINE_SHOWN]
    return [{"seq": e.seq, "at": e.at, "kind": e.kind, "state": e.state, "message": e.message,
             "data": e.data} for e in reversed(events)]


def lock_of(service: Service) -> dict[str, Any] | None:
    try:
        lock = Lock.objects.active().get(service=service)
    except ObjectDoesNotExist:
        return None
    return {"owner": lock.owner_name, "reason": lock.reason, "created_at": lock.created_at,
            "expires_at": lock.expires_at}


def for_service(service: Service) -> dict[str, Any]:
    stream = streams.service_stream(service.name)
    seq, epoch, data = _live_rows(stream)
    if data is None:
        data = from_cluster(service)
    active = Release.objects.active().filter(service=service).select_related(
        "service", "requested_by").first()
    recent = Release.objects.filter(service=service).select_related(
        "service", "requested_by").order_by("-pk")[:10]
    data.update({
        "service": {"name": service.name, "namespace": service.namespace,
                    "deployment": service.deployment, "paused": service.paused},
        "release": release_summary(active) if active else None,
        "timeline": timeline(active) if active else [],
        "releases": [release_summary(r) for r in recent],
        "lock": lock_of(service),
    })
    return {"type": "snapshot", "stream": stream, "seq": seq, "epoch": epoch, "data": data}


def for_release(release: Release) -> dict[str, Any]:
    stream = streams.release_stream(release.pk)
    seq, epoch, data = _live_rows(stream)
    if data is None:
        if release.is_active:
            data = from_cluster(release.service)
        else:
            state = streams.state(stream)[1]  # what the watcher last showed, if anything
            data = {"pods": [m["data"] for k, m in state.items() if k.startswith("pod:")],
                    "rollout": (state.get("rollout") or {}).get("data"),
                    "events": [m["data"] for k, m in state.items()
                               if k.startswith("event:")][-EVENTS_SHOWN:]}
    data["events"] = release_events(release, data.get("events") or [])
    data.update({
        "release": release_summary(release),
        "timeline": timeline(release),
        "lock": lock_of(release.service),
    })
    return {"type": "snapshot", "stream": stream, "seq": seq, "epoch": epoch, "data": data}
