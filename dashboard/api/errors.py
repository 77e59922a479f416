"""Every API error as RFC 9457 problem details (application/problem+json):
{"type", "title", "status", "detail", "code", "errors": {field: [messages]}} plus extras
(`owner`, `reason`, `expires_at` for locks; `retry_after` for throttling)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import OperationalError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from dashboard.errors import ServiceError

log = logging.getLogger(__name__)
PROBLEM_CONTENT_TYPE = "application/problem+json"


class Unprocessable(exceptions.ValidationError):
    """422: the request is well-formed (its schema allows it) but names something that does
    not exist or cannot be used, or a time already past. 400 stays for malformed requests, so
    that a client generated from the schema never sees 400 for a request the schema allows."""

    status_code = 422
    default_code = "unprocessable"


def problem(status: int, detail: str, *, code: str = "", errors: dict[str, list[str]] | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    code = code or HTTPStatus(status).phrase.lower().replace(" ", "_")
    body: dict[str, Any] = {
        "type": f"urn:deploy-dashboard:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        out: list[str] = []
        for v in value:
            out.extend(_messages(v))
        return out
    if isinstance(value, dict):
        return [f"{k}: {m}" for k, v in value.items() for m in _messages(v)]
    return [str(value)]


def _field_errors(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(k): _messages(v) for k, v in detail.items()}
    return {"non_field_errors": _messages(detail)}


def service_error_response(exc: Any) -> Response:
    """dashboard.services.ServiceError -> problem details (code is the HTTP status)."""
    status = int(getattr(exc, "code", 400) or 400)
    if status < 400 or status > 599:
        status = 400
    detail = str(getattr(exc, "detail", "") or exc)
    extra: dict[str, Any] = {}
    errors = None
    field = getattr(exc, "field", None)
    if field:
        errors = {str(field): [str(getattr(exc, "message", detail))]}
    kind = type(exc).__name__
    if kind == "Locked":
        owner = getattr(exc, "owner", None)
        extra["owner"] = getattr(owner, "username", None) or (str(owner) if owner else "")
        extra["reason"] = getattr(exc, "reason", "")
        expires = getattr(exc, "expires_at", None)
        extra["expires_at"] = expires.isoformat() if expires else None
    if kind == "SchemaChanged":
        extra["schema_changes"] = getattr(exc, "releases", [])
    headers = {"Retry-After": "5"} if status == 503 else None
    code = {"InvalidRequest": "invalid", "NotAllowed": "forbidden", "Locked": "locked",
            "Conflict": "conflict", "NotFound": "not_found",
            "Unavailable": "unavailable", "SchemaChanged": "schema_changed"}.get(kind, "")
    return problem(status, detail, code=code, errors=errors, headers=headers, **extra)


def handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        return service_error_response(exc)
    if isinstance(exc, OperationalError):
        # Overload or a lost connection (SQLite "database is locked" after its timeout): a
        # retry with the same Idempotency-Key is safe, so say so instead of a bare 500.
        log.warning("database unavailable: %s", exc)
        return problem(503, "The database is busy or unreachable; retry shortly.",
                       code="unavailable", headers={"Retry-After": "2"})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handling (and logging) applies
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        extra["retry_after"] = int(headers["Retry-After"])
    auth_header = getattr(exc, "auth_header", None)  # set by APIView.handle_exception
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    codes = exc.get_codes()
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        first = next(iter(errors.items()))
        detail = f"{first[0]}: {first[1][0]}" if first[0] != "non_field_errors" else first[1][0]
        code = "unprocessable" if isinstance(exc, Unprocessable) else "invalid"
        return problem(exc.status_code, detail, code=code, errors=errors, headers=headers)
    code = codes if isinstance(codes, str) else ""
    return problem(exc.status_code, " ".join(_messages(exc.detail)), code=code, headers=headers,
                   **extra)
