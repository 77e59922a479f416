"""What every /api/v1/ view shares: bearer-token or staff-session auth, scope checks,
per-token throttling, JSON in and out, problem-details errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404
from rest_framework import exceptions, generics
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.api import errors
from dashboard.api.authentication import BearerTokenAuthentication, StaffSessionAuthentication
from dashboard.api.permissions import ScopePermission
from dashboard.api.schema import ApiSchema
from dashboard.api.throttling import TokenRateThrottle

AUTHENTICATION: list[Any] = [BearerTokenAuthentication, StaffSessionAuthentication]
PERMISSIONS: list[Any] = [ScopePermission]
THROTTLES: list[Any] = [TokenRateThrottle]
RENDERERS: list[Any] = [JSONRenderer]
PARSERS: list[Any] = [JSONParser]
MAX_ID = 2**63 - 1  # the largest id a database row can have (bigint)


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
    schema = ApiSchema()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        pk = kwargs.get("pk")
        if isinstance(pk, int) and pk > MAX_ID:  # no such row (and no integer overflow)
            raise exceptions.NotFound(f"No release {pk}.")

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # DRF answers a ?format= that no renderer has with 404, and ignores an empty one:
        # both are a bad parameter (400 naming it).
        fmt = request.query_params.get("format")
        formats = [r.format for r in self.get_renderers()]
        if not force and fmt is not None and fmt not in formats:
            raise exceptions.ValidationError({"format": [f"One of {formats}."]})
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            raise exceptions.ValidationError({"format": [f"One of {formats}."]}) from None

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return errors.handle  # type: ignore[return-value]

    def finalize_response(self, request: Request, response: Any, *args: Any,
                          **kwargs: Any) -> Any:
        _json_errors(request, response)
        return super().finalize_response(request, response, *args, **kwargs)


class GenericApiView(generics.GenericAPIView, ApiView):  # type: ignore[type-arg]
    """ApiView with DRF's generic list/detail machinery (querysets, pagination)."""
