"""Per-token (or per-user for sessions) request rates on the shared Redis cache."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from dashboard.api.models import ApiToken

DEFAULT_RATE = "1200/min"


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api_token"
    cache_format = "dashboard_api:throttle:%(scope)s:%(ident)s"

    def __init__(self) -> None:  # the rate depends on the request's token: set per request
        self.rate: str | None = None
        self.num_requests: int | None = None
        self.duration: int | None = None

    def get_rate(self) -> str:
        return str(getattr(settings, "API_TOKEN_RATE", DEFAULT_RATE))

    def allow_request(self, request: Request, view: Any) -> bool:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        self.rate = f"{token.rate_limit}/min" if token and token.rate_limit else self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)  # type: ignore[assignment]
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            # the hash, not the id: ids repeat across test databases sharing one Redis
            ident = request.auth.token_hash[:32]
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}
