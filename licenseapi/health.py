"""The seed's probes. Plain Django views: liveness must touch nothing (no DB, no Redis, no
auth, no DRF machinery), readiness checks both dependencies concurrently, each bounded, so a
hung database or Redis yields 503 in about a second instead of a hung probe."""

from __future__ import annotations

import concurrent.futures
import time

import redis
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from config.probes import database_ok
from licenseapi import conf
from licenseapi.redis_client import get_client

DB_TIMEOUT_SECONDS = 1.0
REDIS_TIMEOUT_SECONDS = 1.0
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="licenseapi-health")


def _redis_ok() -> bool:
    try:
        return bool(get_client(conf.redis_url()).ping())
    except (redis.RedisError, OSError):
        return False


def _bounded(fn: concurrent.futures.Future[bool], timeout: float) -> bool:
    try:
        return fn.result(timeout=timeout)
    except Exception:  # a timeout or any failure of the check means "not connected"
        return False


@require_safe
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})


@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    # database_ok runs its query in its own thread with a deadline; Redis runs alongside.
    started = time.monotonic()
    redis_future = _pool.submit(_redis_ok)
    db = database_ok(timeout=DB_TIMEOUT_SECONDS)
    rds = _bounded(redis_future, max(0.0, REDIS_TIMEOUT_SECONDS - (time.monotonic() - started)))
    body = {
        "status": "ready" if db and rds else "not_ready",
        "database": "connected" if db else "disconnected",
        "redis": "connected" if rds else "disconnected",
    }
    response = JsonResponse(body, status=200 if db and rds else 503)
    response["Cache-Control"] = "no-store"
    return response
