"""What every /api/v1/ view shares: bearer-token or staff-session auth, scope checks,
per-token throttling, JSON in and out, problem-details errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import generics
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.api import errors
from dashboard.api.authentication import BearerTokenAuthentication, StaffSessionAuthentication
from dashboard.api.permissions import ScopePermission
from dashboard.api.throttling import TokenRateThrottle

AUTHENTICATION: list[Any] = [BearerTokenAuthentication, StaffSessionAuthentication]
PERMISSIONS: list[Any] = [ScopePermission]
THROTTLES: list[Any] = [TokenRateThrottle]
RENDERERS: list[Any] = [JSONRenderer]
PARSERS: list[Any] = [JSONParser]


def _json_errors(request: Request, response: Response) -> None:
    # Errors are always JSON, whichever renderer (CSV export) the request negotiated.
    if response.status_code >= 400 and isinstance(response, Response):
        renderer = JSONRenderer()
        request.accepted_renderer = renderer
        request.accepted_media_type = renderer.media_type


class ApiView(APIView):
    """What every /api/v1/ view shares: token or session auth with scopes, per-token
    throttling, JSON in and out, problem-details errors."""

    authentication_classes = AUTHENTICATION
    permission_classes = PERMISSIONS
    throttle_classes = THROTTLES
    renderer_classes = RENDERERS
    parser_classes = PARSERS
    required_scope = "read"

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return errors.handle  # type: ignore[return-value]

    def finalize_response(self, request: Request, response: Any, *args: Any,
                          **kwargs: Any) -> Any:
        _json_errors(request, response)
        return super().finalize_response(request, response, *args, **kwargs)


class GenericApiView(generics.GenericAPIView, ApiView):  # type: ignore[type-arg]
    """ApiView with DRF's generic list/detail machinery (querysets, pagination)."""
