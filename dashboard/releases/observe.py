"""Keep what the cluster did during a release with the release: pod state changes, the
Kubernetes events of its Deployment, ReplicaSets and pods, and ReplicaSet scaling steps.

The rollout steps (roll_out, roll_back) already list pods, ReplicaSets and events on every
poll; `record()` appends what changed since the last poll to the timeline through
lifecycle.record_event (the watcher stays read-only). What was recorded is read back from the
timeline itself, so a re-run after a worker died neither repeats nor skips entries. Bounded:
at most MAX_ENTRIES per release, then one note that the record was cut short.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from dashboard.models import Release, ReleaseEvent
from dashboard.releases import lifecycle
from dashboard.rollout import changes

log = logging.getLogger(__name__)

MAX_ENTRIES = 250
TRUNCATED = "observe.truncated"
POD_LOG = "pod.log"
LOG_PODS, LOG_LINES = 10, 50  # per release: the last lines of at most this many pods


def seen(release: Release) -> tuple[dict[str, str], int, bool]:
    """(key -> last recorded state, entries recorded, whether the cap was reached)."""
    rows = (ReleaseEvent.objects.filter(release_id=release.pk,
                                        kind__in=(*changes.KINDS, TRUNCATED))
            .order_by("seq").values_list("kind", "data"))
    out: dict[str, str] = {}
    count, capped = 0, False
    for kind, data in rows:
        if kind == TRUNCATED:
            capped = True
            continue
        count += 1
        if isinstance(data, dict) and data.get("key"):
            out[str(data["key"])] = str(data.get("state", ""))
    return out, count, capped


def record(release: Release, *, pods: Iterable[Mapping[str, Any]],
           replicasets: list[Mapping[str, Any]],
           events: Iterable[Mapping[str, Any]]) -> int:
    """Append the changes of this listing to the release's timeline; return how many."""
    with transaction.atomic():
        # One row lock for the whole batch: concurrent writers of this timeline wait.
        Release.objects.select_for_update().filter(pk=release.pk).values_list("pk").first()
        known, count, capped = seen(release)
        if capped:
            return 0
        news = changes.diff(pods=pods, replicasets=replicasets, events=events, seen=known)
        written = 0
        for entry in news:
            if count + written >= MAX_ENTRIES:
                lifecycle.record_event(
                    release, TRUNCATED,
                    f"more cluster changes than {MAX_ENTRIES}: the rest were not recorded",
                    row_locked=True)
                break
            lifecycle.record_event(release, entry.kind, entry.message, entry.data,
                                   row_locked=True)
            written += 1
        return written


def record_quietly(release: Release, **listing: Any) -> None:
    """record(), but a failure to keep the record never stops the rollout it describes."""
    try:
        record(release, **listing)
    except Exception:
        log.warning("release %s: could not record cluster changes", release.pk, exc_info=True)


def keep_logs(release: Release, kube: Any, pods: Iterable[Mapping[str, Any]]) -> int:
    """Keep the last LOG_LINES lines of the Service's container in each of `pods` (the
    current instance, else the previous one of a crash-looping container) with the release,
    once per pod: Kubernetes drops them with the pod. Best-effort; returns pods kept."""
    svc = release.service
    done = set(ReleaseEvent.objects.filter(release_id=release.pk, kind=POD_LOG)
               .values_list("data__pod", flat=True))
    kept = 0
    for pod in list(pods)[:LOG_PODS]:
        name = (pod.get("metadata") or {}).get("name", "")
        names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        if not name or name in done or svc.container not in names:
            continue
        try:
            lines = kube.recent_logs(svc.namespace, name, svc.container, tail_lines=LOG_LINES)
        except Exception:
            log.info("release %s: no log of %s", release.pk, name, exc_info=True)
            continue
        lifecycle.record_event(release, POD_LOG, "\n".join(lines)[-LOG_LINES * 500:], {
            "pod": name, "container": svc.container, "lines": len(lines)})
        kept += 1
    return kept


def keep_logs_quietly(release: Release, kube: Any, pods: Iterable[Mapping[str, Any]]) -> None:
    try:
        keep_logs(release, kube, pods)
    except Exception:
        log.warning("release %s: could not keep pod logs", release.pk, exc_info=True)
