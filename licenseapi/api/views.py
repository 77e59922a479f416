"""Client endpoints: what customers' software calls (no auth; rate limited). Thin: they check
input, call services, and shape the answer; all state changes live in services.py."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from licenseapi import certificates, conf, services
from licenseapi.api import errors
from licenseapi.api import serializers as s
from licenseapi.api.base import LicenseApiView, certificate_for, key_only, validated


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


class ValidateView(LicenseApiView):
    @extend_schema(
        request=s.KeyRequest, responses={200: s.ValidateResponse, 404: s.ErrorResponse}
    )
    def post(self, request: Request) -> Response:
        """Is this key usable now? 200 with `valid` false for suspended, revoked or expired."""
        self.rate_limit(request, "validate")
        result = services.validate(key_only(request))
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
        },
    )
    def post(self, request: Request) -> Response:
        """Take a seat for a machine (201), or refresh the same machine's activation (200)."""
        self.rate_limit(request, "activate")
        data = validated(s.ActivateRequest, request)
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
        },
    )
    def post(self, request: Request) -> Response:
        """Keep an activation alive; machines silent past the TTL lose their seat."""
        # Per address only: a large license's fleet heartbeats far more often than any
        # per-key limit meant for activation and validation would allow.
        self.rate_limit(request, "machine", per_key=False)
        data = validated(s.MachineRequest, request)
        return Response(_activation_body(services.heartbeat(data["key"], data["fingerprint"])))


class DeactivateView(LicenseApiView):
    @extend_schema(
        request=s.MachineRequest,
        responses={200: s.DeactivateResponse, 404: s.ErrorResponse},
    )
    def post(self, request: Request) -> Response:
        """Free this machine's seat."""
        self.rate_limit(request, "machine", per_key=False)
        data = validated(s.MachineRequest, request)
        services.deactivate(data["key"], data["fingerprint"])
        return Response({"deactivated": True, "fingerprint": data["fingerprint"]})


class CertificateView(LicenseApiView):
    @extend_schema(
        request=s.KeyRequest,
        responses={
            200: OpenApiResponse(description="Signed certificate (JSON)"),
            403: s.ErrorResponse,
            404: s.ErrorResponse,
            503: s.ErrorResponse,
        },
    )
    def post(self, request: Request) -> Response:
        """An Ed25519-signed offline certificate of this license's terms."""
        self.rate_limit(request, "validate")
        data = validated(s.KeyRequest, request)
        return Response(certificate_for(services.find_by_key(data["key"])))


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
