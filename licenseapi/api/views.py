"""REST views: thin. They parse and check input, apply rate limits, call services, and shape
the answer; all state changes live in services.py."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from licenseapi import certificates, conf, ratelimit, services
from licenseapi.api import errors
from licenseapi.api import serializers as s
from licenseapi.api.auth import IsLicenseStaff, StaffTokenAuthentication, actor_of
from licenseapi.keys import MalformedKey, parse_license_key, rate_limit_id
from licenseapi.models import License, LicenseStatus

ERRORS = {code: OpenApiResponse(s.ErrorResponse) for code in (400, 413, 415, 429)}


def client_ip(request: Request) -> str:
    proxies = conf.trusted_proxies()
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies][:64]
    return str(request.META.get("REMOTE_ADDR", "unknown"))[:64]


class LicenseApiView(APIView):
    """Base: JSON in and out, no auth, bounded bodies, one error shape."""

    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = [AllowAny]

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

    def rate_limit(self, request: Request, endpoint: str) -> None:
        key = request.data.get("key") if isinstance(request.data, dict) else None
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


def _validated(serializer_class: type[s.StrictSerializer], request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    ser = serializer_class(data=request.data)
    ser.is_valid(raise_exception=True)
    return dict(ser.validated_data)


def _key_only(request: Request) -> str:
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


def _activation_body(result: services.ActivationResult) -> dict[str, Any]:
    a = result.activation
    return {
        "license_id": str(a.license_id),
        "fingerprint": a.fingerprint,
        "hostname": a.hostname,
        "activated_at": a.created_at,
        "last_seen": a.last_seen,
        "seats": a.license.seats,
        "seats_used": result.seats_used,
        "heartbeat_ttl_seconds": conf.activation_ttl(),
    }


# --- client endpoints ----------------------------------------------------------------------------


class ValidateView(LicenseApiView):
    @extend_schema(
        request=s.KeyRequest, responses={200: s.ValidateResponse, 404: s.ErrorResponse, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        """Is this key usable now? 200 with `valid` false for suspended, revoked or expired."""
        self.rate_limit(request, "validate")
        result = services.validate(_key_only(request))
        lic = result.license
        return Response(
            {
                "valid": result.valid,
                "status": lic.status,
                "reason": result.reason,
                "license_id": str(lic.id),
                "product": lic.product,
                "expires_at": lic.expires_at,
                "seats": lic.seats,
                "seats_used": lic.seats_used,
            }
        )


class ActivateView(LicenseApiView):
    @extend_schema(
        request=s.ActivateRequest,
        responses={
            200: s.ActivationResponse,
            201: s.ActivationResponse,
            403: s.ErrorResponse,
            404: s.ErrorResponse,
            409: s.ErrorResponse,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        """Take a seat for a machine (201), or refresh the same machine's activation (200)."""
        self.rate_limit(request, "activate")
        data = _validated(s.ActivateRequest, request)
        result = services.activate(data["key"], data["fingerprint"], data.get("hostname", ""))
        return Response(
            _activation_body(result),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class HeartbeatView(LicenseApiView):
    @extend_schema(
        request=s.MachineRequest,
        responses={
            200: s.ActivationResponse,
            403: s.ErrorResponse,
            404: s.ErrorResponse,
            409: s.ErrorResponse,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        """Keep an activation alive; machines silent past the TTL lose their seat."""
        self.rate_limit(request, "activate")
        data = _validated(s.MachineRequest, request)
        return Response(_activation_body(services.heartbeat(data["key"], data["fingerprint"])))


class DeactivateView(LicenseApiView):
    @extend_schema(
        request=s.MachineRequest,
        responses={200: OpenApiResponse(description="Deactivated"), 404: s.ErrorResponse, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Free this machine's seat."""
        self.rate_limit(request, "activate")
        data = _validated(s.MachineRequest, request)
        services.deactivate(data["key"], data["fingerprint"])
        return Response({"deactivated": True, "fingerprint": data["fingerprint"]})


def _certificate_for(lic: License) -> dict[str, Any]:
    reason = lic.invalid_reason()
    if reason is not None:
        raise services.LicenseNotUsable(reason)
    try:
        key = certificates.signing_key()
    except certificates.SigningKeyUnavailable:
        raise errors.ServiceUnavailable("certificate signing is not configured") from None
    terms = certificates.license_terms(lic, timezone.now(), conf.certificate_ttl())
    return certificates.sign_payload(terms, key)


class CertificateView(LicenseApiView):
    @extend_schema(
        request=s.KeyRequest,
        responses={
            200: OpenApiResponse(description="Signed certificate (JSON)"),
            403: s.ErrorResponse,
            404: s.ErrorResponse,
            503: s.ErrorResponse,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        """An Ed25519-signed offline certificate of this license's terms."""
        self.rate_limit(request, "validate")
        data = _validated(s.KeyRequest, request)
        return Response(_certificate_for(services.find_by_key(data["key"])))


class PublicKeyView(LicenseApiView):
    @extend_schema(responses={200: s.PublicKeyResponse, 503: s.ErrorResponse})
    def get(self, request: Request) -> Response:
        """The public key that verifies certificates."""
        try:
            public = certificates.signing_key().public_key()
        except certificates.SigningKeyUnavailable:
            raise errors.ServiceUnavailable("certificate signing is not configured") from None
        return Response(
            {
                "algorithm": certificates.ALGORITHM,
                "key_id": certificates.key_id(public),
                "public_key": certificates.public_key_b64(public),
                "pem": certificates.public_key_pem(public),
            }
        )


# --- staff endpoints -----------------------------------------------------------------------------


class LicensePagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


def _staff_queryset() -> QuerySet[License]:
    return License.objects.select_related("product").with_seats_used(
        timezone.now(), conf.activation_ttl()
    )


class LicenseListCreateView(StaffView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[c.value for c in LicenseStatus]),
            OpenApiParameter("product", str),
            OpenApiParameter("customer_email", str),
        ],
        responses={200: s.LicenseSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        """Licenses, newest first (filters: status, product, customer_email)."""
        qs = _staff_queryset()
        for param, lookup in (
            ("status", "status"),
            ("product", "product__slug"),
            ("customer_email", "customer_email__iexact"),
        ):
            if value := request.query_params.get(param):
                qs = qs.filter(**{lookup: value})
        page = LicensePagination()
        rows = page.paginate_queryset(qs, request, view=self)
        return page.get_paginated_response(s.LicenseSerializer(rows, many=True).data)

    @extend_schema(
        request=s.LicenseCreateRequest, responses={201: s.LicenseCreatedSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        """Issue a license. The response is the only place the full key ever appears."""
        data = _validated(s.LicenseCreateRequest, request)
        issued = services.issue_license(actor=actor_of(request), **data)
        lic = issued.license
        lic.seats_used = 0  # type: ignore[attr-defined]
        body = dict(s.LicenseSerializer(lic).data)
        body["key"] = issued.key
        return Response(body, status=status.HTTP_201_CREATED)


class LicenseDetailView(StaffView):
    @extend_schema(responses={200: s.LicenseSerializer, 404: s.ErrorResponse})
    def get(self, request: Request, license_id: str) -> Response:
        """One license with its recent change log."""
        lic = get_object_or_404(_staff_queryset(), pk=license_id)
        body = dict(s.LicenseSerializer(lic).data)
        body["changes"] = s.LicenseChangeSerializer(lic.changes.all()[:50], many=True).data
        return Response(body)


class LicenseActionView(StaffView):
    action_name = ""

    @extend_schema(
        request=s.StatusChangeRequest,
        responses={200: s.LicenseSerializer, 404: s.ErrorResponse, 409: s.ErrorResponse, **ERRORS},
    )
    def post(self, request: Request, license_id: str) -> Response:
        """suspend / reinstate / revoke (revoked is final)."""
        data = _validated(s.StatusChangeRequest, request) if request.data else {"reason": ""}
        get_object_or_404(License, pk=license_id)
        services.change_status(
            license_id, self.action_name, actor_of(request), data.get("reason", "")
        )
        return Response(s.LicenseSerializer(_staff_queryset().get(pk=license_id)).data)


class StaffCertificateView(StaffView):
    @extend_schema(
        responses={
            200: OpenApiResponse(description="Signed certificate (JSON)"),
            403: s.ErrorResponse,
            404: s.ErrorResponse,
        }
    )
    def get(self, request: Request, license_id: str) -> Response:
        """The certificate of a license, for staff sending it to a customer."""
        lic = get_object_or_404(License.objects.select_related("product"), pk=license_id)
        return Response(_certificate_for(lic))


# --- Stripe --------------------------------------------------------------------------------------

MAX_WEBHOOK_BYTES = 256 * 1024


class StripeWebhookView(LicenseApiView):
    parser_classes: list[Any] = []  # the signature covers the raw bytes: never re-parse first

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        APIView.initial(self, request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(description="Handled (processed, duplicate or ignored)"),
            400: s.ErrorResponse,
            413: s.ErrorResponse,
            422: s.ErrorResponse,
            503: s.ErrorResponse,
        },
    )
    def post(self, request: Request) -> Response:
        """Stripe events (Stripe-Signature verified with STRIPE_WEBHOOK_SECRET)."""
        from django.conf import settings

        from licenseapi import stripe_webhooks

        secret = getattr(settings, "STRIPE_WEBHOOK_SECRET", "")
        if not secret:
            raise errors.ServiceUnavailable(
                "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)"
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_WEBHOOK_BYTES:
            raise errors.PayloadTooLarge(
                f"request body is {length} bytes; the limit is {MAX_WEBHOOK_BYTES}"
            )
        try:
            event = stripe_webhooks.verify(
                request.body, request.META.get("HTTP_STRIPE_SIGNATURE"), secret
            )
        except stripe_webhooks.InvalidSignature as exc:
            return Response(errors.error_body("invalid_signature", str(exc)), status=400)
        try:
            outcome = stripe_webhooks.process(event)
        except stripe_webhooks.UnusableEvent as exc:
            return Response(errors.error_body("unusable_event", str(exc)), status=422)
        return Response(
            {"received": True, "result": outcome.result, "license_id": outcome.license_id}
        )
