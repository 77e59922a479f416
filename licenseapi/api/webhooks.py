"""The Stripe webhook endpoint (logic in licenseapi/stripe_webhooks.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from licenseapi import stripe_webhooks
from licenseapi.api import errors
from licenseapi.api.base import LicenseApiView

MAX_WEBHOOK_BYTES = 256 * 1024


class StripeWebhookView(LicenseApiView):
    parser_classes: list[Any] = []  # the signature covers the raw bytes: never re-parse first

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Not LicenseApiView's body checks: Stripe's bytes are verified as sent, with their own
        # size limit below.
        APIView.initial(self, request, *args, **kwargs)

    # Not in the published schema: Stripe calls it with events it signs (Stripe's contract,
    # documented in README.md), and no client of this API can (or should) call it.
    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        """Stripe events (Stripe-Signature verified with STRIPE_WEBHOOK_SECRET)."""
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
