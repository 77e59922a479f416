"""The dashboard's own probes: /healthz (the process answers) and /readyz (its database and
Redis answer within a short timeout; 503 naming what is down)."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.probes import database_ok, redis_ok


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": "up" if database_ok() else "down",
        "redis": "up" if redis_ok(settings.REDIS_URL) else "down",
    }
    ready = all(value == "up" for value in checks.values())
    body = {"status": "ready" if ready else "not_ready", **checks}
    return JsonResponse(body, status=200 if ready else 503)
