"""Shared pieces of the REST views: the base classes (JSON only, bounded bodies, one error
shape), client address, input checks and the certificate builder."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from licenseapi import certificates, conf, ratelimit, services
from licenseapi.api import errors
from licenseapi.api import serializers as s
from licenseapi.api.auth import IsLicenseStaff, StaffTokenAuthentication
from licenseapi.api.schema import LicenseApiSchema
from licenseapi.keys import MalformedKey, parse_license_key, rate_limit_id
from licenseapi.models import License


def client_ip(request: Request) -> str:
    # config.middleware.TrustedProxyMiddleware already put the address the trusted proxies saw
    # (TRUSTED_PROXIES hops) into REMOTE_ADDR; X-Forwarded-For itself is never read here.
    return str(request.META.get("REMOTE_ADDR", "unknown"))[:64]


class LicenseApiView(APIView):
    """Base: JSON in and out, no auth, bounded bodies, one error shape."""

    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = [AllowAny]
    schema = LicenseApiSchema()  # every status documented, errors as ErrorResponse

    def get_exception_handler(self) -> Any:
        return errors.handle

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # JSON is the only representation; skipping Accept parsing is measurable on validate.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in ("POST", "PUT", "PATCH"):
            return
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            raise exceptions.ParseError("Content-Length is not a number") from None
        limit = conf.max_body_bytes()
        if length > limit:
            raise errors.PayloadTooLarge(f"request body is {length} bytes; the limit is {limit}")
        if length > 0:
            media = (request.content_type or "").split(";")[0].strip().lower()
            if media != "application/json":
                raise exceptions.UnsupportedMediaType(
                    media or "(none)",
                    detail=f"Content-Type must be application/json, not {media or '(none)'!r}",
                )

    def rate_limit(self, request: Request, endpoint: str, *, per_key: bool = True) -> None:
        key = request.data.get("key") if per_key and isinstance(request.data, dict) else None
        decision = ratelimit.check(
            endpoint, rate_limit_id(key) if isinstance(key, str) else None, client_ip(request)
        )
        if not decision.allowed:
            raise exceptions.Throttled(
                wait=decision.retry_after, detail=f"rate limit per {decision.scope} exceeded"
            )


class StaffView(LicenseApiView):
    authentication_classes = [StaffTokenAuthentication, SessionAuthentication]
    permission_classes = [IsLicenseStaff]


def validated(serializer_class: type[s.StrictSerializer], request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    ser = serializer_class(data=request.data)
    ser.is_valid(raise_exception=True)
    return dict(ser.validated_data)


def key_only(request: Request) -> str:
    """KeyRequest's checks, without instantiating a serializer: validate is the hot path and
    DRF's per-request field copying was a measurable share of it. Same errors, same shape."""
    data = request.data
    if not isinstance(data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    unknown = sorted(set(data) - {"key"})
    if unknown:
        raise exceptions.ValidationError({name: ["Unknown field."] for name in unknown})
    key = data.get("key")
    if not isinstance(key, str) or not key.strip():
        raise exceptions.ValidationError({"key": ["A license key (string) is required."]})
    try:
        parse_license_key(key)
    except MalformedKey as exc:
        raise exceptions.ValidationError({"key": [str(exc)]}) from None
    return key


def certificate_for(lic: License) -> dict[str, Any]:
    reason = lic.invalid_reason()
    if reason is not None:
        raise services.LicenseNotUsable(reason)
    try:
        key = certificates.signing_key()
    except certificates.SigningKeyUnavailable:
        raise errors.ServiceUnavailable("certificate signing is not configured") from None
    terms = certificates.license_terms(lic, timezone.now(), conf.certificate_ttl())
    return certificates.sign_payload(terms, key)
