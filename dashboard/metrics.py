"""Prometheus metrics recorded where things happen (pipeline, adapters, watcher, live views).

Every process (web, Celery worker and its forked children, beat, watcher) records into files
under PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode; config/settings.py sets
it before anything imports prometheus_client); the web process adds them up at `/metrics`
(dashboard/api/metrics.py), together with the figures it reads from the database at scrape
time (queue depth, oldest queued release, active releases and how long each has been in its
state). Recording never raises: metrics must not break a release.

Labels stay bounded: service and environment names, states, status codes, failure codes.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)
assert settings.PROMETHEUS_MULTIPROC_DIR  # set (in the environment) before the import above

RELEASES = Counter(
    "dashboard_releases_total", "Releases that ended, by outcome (the state they ended in)",
    ["service", "environment", "outcome"])
PHASE_SECONDS = Histogram(
    "dashboard_release_phase_seconds", "Time a release spent in each phase (state)",
    ["service", "phase"], buckets=(1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800))
FAILURES = Counter(
    "dashboard_release_failures_total", "Failed releases by fail-fast reason code",
    ["service", "code"])
TAKEOVERS = Counter(
    "dashboard_reconciler_takeovers_total",
    "Active releases the reconciler re-drove (their chain was lost: a killed worker, "
    "an emptied Redis)")
API_ERRORS = Counter(
    "dashboard_outside_api_errors_total", "Errors from Cloud Build / Kubernetes calls",
    ["api", "status"])
WATCHER_LAG = Histogram(
    "dashboard_watcher_publish_lag_seconds",
    "From the watcher receiving a cluster change to its message being on the stream",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
STREAM_LAG = Histogram(
    "dashboard_stream_delivery_lag_seconds",
    "From a message being published to the web process handing it to its viewers",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
VIEWERS = Gauge(
    "dashboard_websocket_viewers", "Open WebSocket viewers (live pages)", ["kind"],
    multiprocess_mode="livesum")
STREAM_RESETS = Counter(
    "dashboard_stream_resets_total",
    "Live streams found reset (Redis came back empty) and re-read from a new epoch")


def _safe(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception:  # a metric must never break what it measures
        log.debug("metric not recorded", exc_info=True)


def environment_of(release: Any) -> str:
    env = getattr(release, "environment", None)
    return str(getattr(env, "name", env) or "default")


def release_ended(release: Any, outcome: str) -> None:
    _safe(lambda: RELEASES.labels(release.service.name, environment_of(release),
                                  outcome).inc())


def phase_spent(release: Any, phase: str, seconds: float) -> None:
    _safe(lambda: PHASE_SECONDS.labels(release.service.name, phase).observe(max(seconds, 0)))


def release_failed(release: Any, code: str) -> None:
    _safe(lambda: FAILURES.labels(release.service.name, code or "unknown").inc())


def takeovers(count: int) -> None:
    if count:
        _safe(TAKEOVERS.inc, count)


def api_error(api: str, status: int) -> None:
    _safe(lambda: API_ERRORS.labels(api or "unknown", str(status)).inc())


def watcher_lag(seconds: float) -> None:
    _safe(WATCHER_LAG.observe, max(seconds, 0))


def stream_lag(seconds: float) -> None:
    _safe(STREAM_LAG.observe, max(seconds, 0))


def stream_reset() -> None:
    _safe(STREAM_RESETS.inc)


def viewer_joined(kind: str) -> None:
    _safe(lambda: VIEWERS.labels(kind).inc())


def viewer_left(kind: str) -> None:
    _safe(lambda: VIEWERS.labels(kind).dec())
