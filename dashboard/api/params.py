"""/api/v1/'s parameters: how the views read them and how the schema documents them, side by
side so the two say the same thing (a query parameter the schema calls an integer is refused
when it is not one; DRF would quietly ignore it). Also the request examples the schema shows
(valid against the demo Service that `make run` seeds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

from dashboard import states
from dashboard.api.base import MAX_ID
from dashboard.api.fields import SERVICE_NAME, parse_rfc3339
from dashboard.api.idempotency import KEY_PATTERN


def ecma(pattern: str) -> str:
    """A Python pattern of dashboard.api.fields as JSON Schema publishes it."""
    return pattern.replace("\\Z", "$").replace("\\x00", "\\u0000")


TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}  # any text but NUL
STATE_LIST = "^({0})(,({0}))*$".format("|".join(states.ALL))

IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key", {"type": "string", "pattern": KEY_PATTERN},
    OpenApiParameter.HEADER, required=False,
    description="replays the first response for the same body; 422 for a different body")
LOCATION = OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[202],
                            description="the new release (GET it for its progress)")
RELEASE_ID = OpenApiParameter("id", {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                              OpenApiParameter.PATH, description="a release's id")
SERVICE = OpenApiParameter(
    "name", {"type": "string", "pattern": ecma(SERVICE_NAME), "maxLength": 63},
    OpenApiParameter.PATH, description="a service's name",
    examples=[OpenApiExample("the demo service", value="license-api")])

LIST_FILTERS = [
    OpenApiParameter("service", TEXT, description="service name"),
    OpenApiParameter("state", {"type": "string", "pattern": STATE_LIST},
                     description=f"comma-separated states: {', '.join(states.ALL)}"),
    OpenApiParameter("via", str, enum=list(states.VIAS)),
    OpenApiParameter("user", TEXT, description="username of the requester"),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="created at or after"),
]
AUDIT_FILTERS = [
    OpenApiParameter("service", TEXT), OpenApiParameter("action", TEXT),
    OpenApiParameter("actor", TEXT), OpenApiParameter("via", TEXT),
    OpenApiParameter("release", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
    OpenApiParameter("since", OpenApiTypes.DATETIME),
]
EXPORT = [
    *AUDIT_FILTERS,
    OpenApiParameter("format", str, enum=["json", "csv"],
                     description="instead of an Accept header: json (default) or csv"),
    OpenApiParameter("Content-Disposition", str, OpenApiParameter.HEADER, response=[200],
                     description='attachment; filename="audit.json" (or audit.csv)'),
]

DEPLOY_EXAMPLE = OpenApiExample("deploy a commit", request_only=True, value={
    "service": "license-api", "commit": "c0ffee1234567890c0ffee1234567890c0ffee12",
    "reason": "fix the login redirect"})
REASON_EXAMPLE = OpenApiExample("with a reason", request_only=True,
                                value={"reason": "errors after the deploy"})
LOCK_EXAMPLE = OpenApiExample("lock for a freeze", request_only=True,
                              value={"reason": "release freeze", "expires_at": None})


def query(request: Request, name: str) -> str | None:
    """A query parameter, or None when absent. Present but empty is a value like any other
    (the schema allows no empty date-time, number or enum member)."""
    value = request.query_params.get(name)
    if value is not None and "\x00" in value:
        raise exceptions.ValidationError({name: ["NUL is not allowed."]})
    return value


def enum(request: Request, name: str, allowed: tuple[str, ...] | list[str]) -> str | None:
    value = query(request, name)
    if value is not None and value not in allowed:
        raise exceptions.ValidationError({name: [f"One of {list(allowed)}."]})
    return value


def since(request: Request) -> datetime | None:
    raw = query(request, "since")
    if raw is None:
        return None
    # Normalised to UTC: databases accept narrower UTC offsets than RFC 3339 allows
    # (PostgreSQL refuses "-23:20").
    value = parse_rfc3339(raw)
    if value is None:
        raise exceptions.ValidationError(
            {"since": ["Use an RFC 3339 date-time, e.g. 2030-01-31T12:00:00Z."]})
    return value


class Cursor(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        raw = query(request, "limit")
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise exceptions.ValidationError({"limit": ["A whole number from 1 (at most 200 "
                                                        "are returned)."]})
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for p in params:
            if p["name"] == "limit":
                p["schema"] = {"type": "integer", "minimum": 1}
                p["description"] = "page size (default 50; more than 200 returns 200)"
            if p["name"] == "cursor":
                p["schema"] = TEXT
        return params
