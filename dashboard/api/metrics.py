"""GET /metrics: the Prometheus exposition of every process's metrics (dashboard/metrics.py,
added up from PROMETHEUS_MULTIPROC_DIR) plus what the database says at scrape time: releases
queued and the age of the oldest, active releases by state, how long each has been in its
state and since its driver last reported (the "release stuck" signals), and the Celery queue.

Behind `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set (401 otherwise).
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dashboard import states, streams
from dashboard.metrics import environment_of
from dashboard.models import Release

log = logging.getLogger(__name__)
_LIVE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


class DatabaseCollector(Collector):
    """Figures read at scrape time (so they are right whichever process changed them)."""

    def collect(self) -> Iterator[Any]:
        now = timezone.now()
        queued = GaugeMetricFamily("dashboard_releases_queued", "Releases waiting to start",
                                   labels=["service"])
        oldest = GaugeMetricFamily("dashboard_release_oldest_queued_age_seconds",
                                   "Age of the oldest queued release", labels=["service"])
        by_service: dict[str, list[Any]] = {}
        for r in Release.objects.filter(state=states.QUEUED).select_related("service"):
            by_service.setdefault(r.service.name, []).append(r.created_at)
        for name, created in sorted(by_service.items()):
            queued.add_metric([name], len(created))
            oldest.add_metric([name], (now - min(created)).total_seconds())
        active = GaugeMetricFamily(
            "dashboard_releases_active", "Active releases by state",
            labels=["service", "environment", "state"])
        in_state = GaugeMetricFamily(
            "dashboard_release_state_age_seconds",
            "How long each active release has been in its current state",
            labels=["service", "environment", "state", "release"])
        silent = GaugeMetricFamily(
            "dashboard_release_heartbeat_age_seconds",
            "Seconds since the driver of each active release last reported",
            labels=["service", "environment", "state", "release"])
        counts: dict[tuple[str, ...], int] = {}
        for r in Release.objects.active().select_related("service"):
            labels = [r.service.name, environment_of(r), r.state]
            counts[tuple(labels)] = counts.get(tuple(labels), 0) + 1
            since = r.phase_started_at or r.created_at
            in_state.add_metric([*labels, str(r.pk)], (now - since).total_seconds())
            beat = r.heartbeat_at or since
            silent.add_metric([*labels, str(r.pk)], (now - beat).total_seconds())
        for key, n in sorted(counts.items()):
            active.add_metric(list(key), n)
        yield from (queued, oldest, active, in_state, silent)
        try:
            depth = streams.client().llen("celery")
        except Exception:
            return
        celery = GaugeMetricFamily("dashboard_celery_queue_length",
                                   "Tasks waiting in the Celery queue (not yet taken)")
        celery.add_metric([], depth)
        yield celery


def _forget_dead_processes(path: str) -> None:
    """Live gauges (WebSocket viewers) of a process that died must stop counting; all our
    processes share this host (multiprocess mode needs that anyway)."""
    for f in Path(path).glob("gauge_live*.db"):
        m = _LIVE_FILE.match(f.name)
        if not m:
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:
            pass


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse("metrics need Authorization: Bearer <METRICS_TOKEN>\n",
                                status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    path = settings.PROMETHEUS_MULTIPROC_DIR
    registry = CollectorRegistry()
    try:
        _forget_dead_processes(path)
        multiprocess.MultiProcessCollector(registry, path)
    except Exception:
        log.warning("metrics: cannot read %s", path, exc_info=True)
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
