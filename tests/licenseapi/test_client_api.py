"""validate / activate / heartbeat / deactivate, as a customer's software sees them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from licenseapi import services
from licenseapi.models import Activation, LicenseChange

pytestmark = [pytest.mark.urls("licenseapi.urls"), pytest.mark.django_db]
BASE = "/api/v1/licenses"


def test_it_validates_a_key_without_echoing_secrets(api, issued):
    status, body, _ = api.post(f"{BASE}/validate/", {"key": issued.key})
    assert status == 200
    assert body["valid"] is True and body["status"] == "active" and body["reason"] is None
    assert body["seats"] == 3 and body["seats_used"] == 0 and body["product"] == "acme-ide"
    assert body["expires_at"] is not None
    secret = issued.key.split("-", 2)[2]
    assert secret not in str(body) and issued.license.key_hash not in str(body)


def test_it_accepts_a_lowercase_key_with_spaces(api, issued):
    status, body, _ = api.post(f"{BASE}/validate/", {"key": f"  {issued.key.lower()} "})
    assert status == 200 and body["valid"] is True


def test_it_answers_invalid_for_suspended_and_expired_licenses(api, issued):
    services.suspend(issued.license.pk, "test")
    status, body, _ = api.post(f"{BASE}/validate/", {"key": issued.key})
    assert status == 200 and body["valid"] is False and body["reason"] == "suspended"
    services.reinstate(issued.license.pk, "test")
    services.update_license(issued.license.pk, {"expires_at": timezone.now() - timedelta(seconds=1)}, "test")
    status, body, _ = api.post(f"{BASE}/validate/", {"key": issued.key})
    assert body["valid"] is False and body["reason"] == "expired" and body["status"] == "active"


def test_it_does_not_find_a_key_with_a_wrong_secret(api, issued):
    prefix = issued.key.split("-")[1]
    forged = f"LIC-{prefix}-AAAAAAAA-AAAAAAAA-AAAAAAAA-AAAAAAAA"
    status, body, _ = api.post(f"{BASE}/validate/", {"key": forged})
    assert status == 404 and body["error"] == "license_not_found"


def test_it_counts_one_activation_per_machine_and_refreshes_last_seen(api, issued):
    req = {"key": issued.key, "fingerprint": "machine-1", "hostname": "build-01"}
    status, first, _ = api.post(f"{BASE}/activate/", req)
    assert status == 201 and first["seats_used"] == 1
    status, second, _ = api.post(f"{BASE}/activate/", req)
    assert status == 200 and second["seats_used"] == 1
    assert second["last_seen"] >= first["last_seen"]
    assert Activation.objects.filter(license=issued.license).count() == 1


def test_it_refuses_activation_when_all_seats_are_taken(api, issued):
    for n in range(3):
        assert api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": f"m{n}"})[0] == 201
    status, body, _ = api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m4"})
    assert status == 409 and body["error"] == "seats_exhausted" and body["seats_used"] == 3
    assert Activation.objects.filter(license=issued.license).count() == 3


def test_it_frees_a_seat_on_deactivate(api, issued):
    for n in range(3):
        api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": f"m{n}"})
    status, _, _ = api.post(f"{BASE}/deactivate/", {"key": issued.key, "fingerprint": "m0"})
    assert status == 200
    assert api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m4"})[0] == 201
    status, body, _ = api.post(f"{BASE}/deactivate/", {"key": issued.key, "fingerprint": "m0"})
    assert status == 404 and body["error"] == "activation_not_found"


@override_settings(LICENSE_ACTIVATION_TTL_SECONDS=60)
def test_it_frees_the_seats_of_machines_silent_past_the_ttl(api, issued):
    for n in range(3):
        api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": f"m{n}"})
    Activation.objects.filter(fingerprint="m0").update(last_seen=timezone.now() - timedelta(seconds=61))
    assert api.post(f"{BASE}/validate/", {"key": issued.key})[1]["seats_used"] == 2
    assert api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m3"})[0] == 201
    # The silent machine comes back: no seat is free any more.
    status, body, _ = api.post(f"{BASE}/heartbeat/", {"key": issued.key, "fingerprint": "m0"})
    assert status == 409 and body["error"] == "seats_exhausted"


def test_it_keeps_an_activation_alive_with_heartbeats(api, issued):
    api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m0"})
    Activation.objects.filter(fingerprint="m0").update(last_seen=timezone.now() - timedelta(hours=1))
    status, body, _ = api.post(f"{BASE}/heartbeat/", {"key": issued.key, "fingerprint": "m0"})
    assert status == 200
    assert Activation.objects.get(fingerprint="m0").last_seen > timezone.now() - timedelta(minutes=1)
    status, body, _ = api.post(f"{BASE}/heartbeat/", {"key": issued.key, "fingerprint": "never"})
    assert status == 404 and body["error"] == "activation_not_found"


def test_it_refuses_to_activate_a_suspended_license(api, issued):
    services.suspend(issued.license.pk, "test")
    status, body, _ = api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m0"})
    assert status == 403 and body["error"] == "license_not_usable" and "suspended" in body["detail"]
    assert not Activation.objects.exists()


def test_it_logs_activations_and_status_changes_without_the_key(api, issued, caplog):
    caplog.set_level("INFO")
    api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m0"})
    services.suspend(issued.license.pk, "staff-token:ci", "chargeback")
    actions = list(LicenseChange.objects.filter(license=issued.license).values_list("action", "actor"))
    assert ("created", "test") in actions and ("activated", "client") in actions
    assert ("suspended", "staff-token:ci") in actions
    secret = issued.key.split("-", 2)[2]
    for change in LicenseChange.objects.all():
        assert secret not in str(change.changes) and issued.key not in str(change.changes)
    assert "suspended by staff-token:ci" in caplog.text and secret not in caplog.text


@override_settings(LICENSE_ACTIVATION_TTL_SECONDS=60)
def test_pruning_deletes_only_long_silent_activations(api, issued, capsys):
    from django.core.management import call_command

    for n in range(3):
        api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": f"m{n}"})
    Activation.objects.filter(fingerprint="m0").update(last_seen=timezone.now() - timedelta(days=31))
    Activation.objects.filter(fingerprint="m1").update(last_seen=timezone.now() - timedelta(days=2))
    call_command("prune_license_activations", "--older-than-days", "30")
    assert "deleted 1" in capsys.readouterr().out
    assert sorted(Activation.objects.values_list("fingerprint", flat=True)) == ["m1", "m2"]
