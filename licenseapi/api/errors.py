"""One JSON error shape for the license API: {"error": code, "detail": text[, "fields": {...}]}.
Every failure a client can cause is a 4xx naming the problem; handler404/handler500 keep even
routing misses and bugs JSON when licenseapi.urls is the root URLconf."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from licenseapi import services


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request body too large"
    default_code = "payload_too_large"


class Unprocessable(exceptions.ValidationError):
    """422: the schema allows the request, but it names something that does not exist or a
    time already past (400 stays for malformed requests)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "temporarily unavailable"
    default_code = "unavailable"


_SERVICE_STATUS = {
    services.InvalidKey: 400,
    services.LicenseNotFound: 404,
    services.ActivationNotFound: 404,
    services.LicenseNotUsable: 403,
    services.SeatsExhausted: 409,
    services.InvalidTransition: 409,
}


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail, **extra}


def _flatten(detail: Any) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(v) for v in detail)
    return str(detail)


def handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, services.LicenseError):
        body = error_body(exc.code, exc.detail)
        if isinstance(exc, services.SeatsExhausted):
            body.update(seats=exc.seats, seats_used=exc.used)
        return Response(body, status=_SERVICE_STATUS.get(type(exc), 400))
    # Django's own 404/403 (get_object_or_404) in the same shape as everything else.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        unknown = sorted(k for k, v in fields.items() if v == ["Unknown field."])
        code = "unknown_fields" if unknown else "invalid_request"
        if isinstance(exc, Unprocessable):
            code = "unprocessable"
        response.data = error_body(code, _flatten(fields), fields=fields)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, _flatten(exc.detail))
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            response.data["retry_after"] = int(wait)
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return JsonResponse(error_body("not_found", f"no such endpoint: {request.path}"), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return JsonResponse(error_body("server_error", "internal error"), status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return JsonResponse(error_body("bad_request", "bad request"), status=400)
