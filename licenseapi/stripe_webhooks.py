"""Stripe webhooks: verify with stripe's own `Webhook.construct_event`, then act on the event
once. The ProcessedStripeEvent row (unique event id) is written in the same transaction as
the license change, so a replay, a retry after a timeout, or two deliveries racing each other
all end with exactly one effect.

checkout.session.completed (paid) / checkout.session.async_payment_succeeded issue a license
from the session's metadata (`product` slug, optional `seats`, optional `duration_days`).
A full refund (charge.refunded) or a cancelled subscription (customer.subscription.deleted)
suspends it. The new key is mailed to the customer after commit: it is never stored or logged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import stripe
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from licenseapi import services
from licenseapi.models import License, ProcessedStripeEvent, Product

log = logging.getLogger(__name__)


class InvalidSignature(Exception):
    pass


class UnusableEvent(Exception):
    """A verified event we cannot act on (e.g. metadata names no product). Not recorded as
    processed, so Stripe's retries succeed once the configuration is fixed."""


@dataclass(frozen=True)
class Outcome:
    result: str  # processed | duplicate | ignored
    license_id: str | None = None


def verify(payload: bytes, signature_header: str | None, secret: str) -> dict[str, Any]:
    try:
        stripe.Webhook.construct_event(payload, signature_header or "", secret)
    except stripe.SignatureVerificationError:
        raise InvalidSignature("signature verification failed") from None
    except ValueError:
        raise InvalidSignature("payload is not a Stripe event") from None
    event = json.loads(payload)
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidSignature("payload is not a Stripe event")
    return event


def process(event: dict[str, Any]) -> Outcome:
    event_id, event_type = event["id"], str(event.get("type", ""))
    obj = (event.get("data") or {}).get("object") or {}
    handler = _HANDLERS.get(event_type)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = ProcessedStripeEvent.objects.create(
                    event_id=event_id, event_type=event_type[:100]
                )
        except IntegrityError:
            return Outcome("duplicate")
        lic = handler(obj, f"stripe:{event_id}") if handler else None
        if lic is None:
            return Outcome("ignored")
        record.license = lic
        record.save(update_fields=["license"])
        return Outcome("processed", str(lic.pk))


def _issue(session: dict[str, Any], actor: str) -> License | None:
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return None  # async payment pending: async_payment_succeeded will follow
    existing = License.objects.filter(stripe_checkout_session_id=session.get("id")).first()
    if existing is not None:
        return existing
    meta = session.get("metadata") or {}
    product = Product.objects.filter(slug=meta.get("product", "")).first()
    if product is None:
        raise UnusableEvent(
            f"checkout session metadata names no known product ({meta.get('product')!r})"
        )
    try:
        seats = int(meta.get("seats") or product.default_seats)
        days = int(meta["duration_days"]) if meta.get("duration_days") else None
    except (TypeError, ValueError):
        raise UnusableEvent(
            "checkout session metadata seats/duration_days are not integers"
        ) from None
    if seats < 1 or (days is not None and days < 1):
        raise UnusableEvent("checkout session metadata seats/duration_days must be positive")
    details = session.get("customer_details") or {}
    email = details.get("email") or session.get("customer_email") or ""
    issued = services.issue_license(
        product=product,
        actor=actor,
        customer_name=(details.get("name") or "")[:200],
        customer_email=email[:254],
        seats=seats,
        expires_at=timezone.now() + timedelta(days=days) if days else None,
        metadata={"source": "stripe"},
        stripe={
            "checkout_session": session.get("id"),
            "payment_intent": session.get("payment_intent"),
            "subscription": session.get("subscription"),
            "customer": session.get("customer"),
        },
    )
    if email:
        transaction.on_commit(lambda: _deliver_key(email, product.name, issued.key))
    return issued.license


def _deliver_key(email: str, product_name: str, key: str) -> None:
    try:
        send_mail(
            subject=f"Your {product_name} license key",
            message=(
                f"Thank you for your purchase.\n\nLicense key: {key}\n\n"
                "Keep it safe: it is shown only once."
            ),
            from_email=None,
            recipient_list=[email],
        )
    except Exception as exc:
        # The key is not in the message: staff can rotate it from the admin if mail failed.
        log.error("could not mail a new license key to the customer: %s", type(exc).__name__)


def _suspend_where(actor: str, reason: str, **lookup: Any) -> License | None:
    lic = License.objects.filter(**lookup).first() if all(lookup.values()) else None
    if lic is None:
        return None
    return services.suspend(lic.pk, actor, reason)


def _refunded(charge: dict[str, Any], actor: str) -> License | None:
    if not charge.get("refunded"):
        return None  # a partial refund (e.g. fewer seats) keeps the license
    return _suspend_where(
        actor, "payment refunded", stripe_payment_intent_id=charge.get("payment_intent")
    )


def _subscription_deleted(sub: dict[str, Any], actor: str) -> License | None:
    return _suspend_where(actor, "subscription cancelled", stripe_subscription_id=sub.get("id"))


_HANDLERS = {
    "checkout.session.completed": _issue,
    "checkout.session.async_payment_succeeded": _issue,
    "charge.refunded": _refunded,
    "customer.subscription.deleted": _subscription_deleted,
}
