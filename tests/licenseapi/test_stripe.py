"""Stripe webhooks, signed locally with stripe's own WebhookSignature helpers (no network)."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.core import mail
from django.test import Client, override_settings
from stripe import WebhookSignature

from licenseapi import services
from licenseapi.models import License, LicenseStatus, ProcessedStripeEvent

pytestmark = [
    pytest.mark.urls("licenseapi.urls"),
    pytest.mark.django_db(transaction=True),  # the key is mailed on commit
    pytest.mark.usefixtures("webhook_secret"),
]
URL = "/api/v1/licenses/stripe/webhook/"
SECRET = "whsec_test_" + "a" * 24


@pytest.fixture
def webhook_secret():
    with override_settings(STRIPE_WEBHOOK_SECRET=SECRET):
        yield SECRET


def signed(payload: str, secret: str = SECRET, timestamp: int | None = None) -> str:
    ts = timestamp or int(time.time())
    signature = WebhookSignature._compute_signature(f"{ts}.{payload}", secret)
    return f"t={ts},{WebhookSignature.EXPECTED_SCHEME}={signature}"


def send(event: dict, secret: str = SECRET, timestamp: int | None = None):
    payload = json.dumps(event)
    return Client().post(URL, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed(payload, secret, timestamp))


def checkout_event(event_id: str | None = None, **metadata: str) -> dict:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "checkout.session.completed",
        "data": {"object": {
            "id": "cs_test_123", "object": "checkout.session", "payment_status": "paid",
            "payment_intent": "pi_123", "subscription": "sub_123", "customer": "cus_123",
            "customer_details": {"email": "buyer@example.com", "name": "Buyer"},
            "metadata": {"product": "acme-ide", "seats": "5", **metadata},
        }},
    }


def test_it_issues_a_license_on_checkout_and_mails_the_key(product, api):
    response = send(checkout_event())
    assert response.status_code == 200 and response.json()["result"] == "processed"
    lic = License.objects.get()
    assert lic.seats == 5 and lic.product == product and lic.customer_email == "buyer@example.com"
    assert lic.stripe_subscription_id == "sub_123"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["buyer@example.com"]
    key = next(word for word in mail.outbox[0].body.split() if word.startswith("LIC-"))
    status, body, _ = api.post("/api/v1/licenses/validate/", {"key": key})
    assert status == 200 and body["valid"] is True and body["seats"] == 5


def test_it_processes_a_replayed_event_once(product):
    event = checkout_event("evt_replayed")
    assert send(event).json()["result"] == "processed"
    second = send(event)
    assert second.status_code == 200 and second.json()["result"] == "duplicate"
    assert License.objects.count() == 1 and ProcessedStripeEvent.objects.count() == 1
    assert len(mail.outbox) == 1
    # A different event for the same checkout session (async payment) does not issue twice.
    again = checkout_event()
    again["type"] = "checkout.session.async_payment_succeeded"
    assert send(again).status_code == 200 and License.objects.count() == 1


def test_it_rejects_an_invalid_signature_with_400_json(product):
    response = send(checkout_event(), secret="whsec_wrong")
    assert response.status_code == 400 and response.json()["error"] == "invalid_signature"
    stale = send(checkout_event(), timestamp=int(time.time()) - 3600)
    assert stale.status_code == 400
    unsigned = Client().post(URL, json.dumps(checkout_event()), content_type="application/json")
    assert unsigned.status_code == 400
    assert not License.objects.exists() and not ProcessedStripeEvent.objects.exists()


def test_it_suspends_on_full_refund_but_not_partial(product):
    send(checkout_event())
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_123", "refunded": False}
    partial = {"id": "evt_partial", "type": "charge.refunded", "data": {"object": charge}}
    assert send(partial).json()["result"] == "ignored"
    assert License.objects.get().status == LicenseStatus.ACTIVE
    full = {"id": "evt_full", "type": "charge.refunded", "data": {"object": {**charge, "refunded": True}}}
    assert send(full).json()["result"] == "processed"
    lic = License.objects.get()
    assert lic.status == LicenseStatus.SUSPENDED
    assert lic.changes.filter(action="suspended", actor="stripe:evt_full", reason="payment refunded").exists()


def test_it_suspends_when_the_subscription_is_cancelled(product):
    send(checkout_event())
    event = {"id": "evt_cancel", "type": "customer.subscription.deleted", "data": {"object": {"id": "sub_123", "object": "subscription"}}}
    assert send(event).status_code == 200
    assert License.objects.get().status == LicenseStatus.SUSPENDED


def test_it_refuses_events_it_cannot_act_on_so_stripe_retries(product):
    response = send(checkout_event("evt_bad", product="no-such-product"))
    assert response.status_code == 422 and "no known product" in response.json()["detail"]
    assert not ProcessedStripeEvent.objects.exists() and not License.objects.exists()


def test_it_acknowledges_events_it_does_not_handle(product):
    response = send({"id": "evt_other", "type": "invoice.paid", "data": {"object": {}}})
    assert response.status_code == 200 and response.json()["result"] == "ignored"


def test_it_answers_503_when_no_webhook_secret_is_configured(product):
    with override_settings(STRIPE_WEBHOOK_SECRET=""):
        response = send(checkout_event())
    assert response.status_code == 503 and not License.objects.exists()


def test_it_does_not_issue_before_payment(product):
    event = checkout_event()
    event["data"]["object"]["payment_status"] = "unpaid"
    assert send(event).json()["result"] == "ignored"
    assert not License.objects.exists()
    assert services  # imported for readers: issuing goes through services.issue_license
