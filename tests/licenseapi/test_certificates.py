"""Offline certificates: they verify with the published key; any edit, another key, or expiry
makes them fail, both in verify_certificate and in the management command."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.test import override_settings

from licenseapi import certificates, services
from licenseapi.certificates import CertificateError, verify_certificate

pytestmark = [pytest.mark.urls("licenseapi.urls"), pytest.mark.django_db]
BASE = "/api/v1/licenses"


@pytest.fixture
def cert_and_key(api, issued):
    status, cert, _ = api.post(f"{BASE}/certificate/", {"key": issued.key})
    assert status == 200
    status, published, _ = api.get(f"{BASE}/public-key/")
    assert status == 200 and published["algorithm"] == "Ed25519"
    return cert, published


def test_it_signs_the_license_terms(cert_and_key, issued):
    cert, published = cert_and_key
    terms = verify_certificate(cert, published["public_key"])
    assert terms["license_id"] == str(issued.license.id)
    assert terms["seats"] == 3 and terms["product"] == "acme-ide" and terms["status"] == "active"
    assert terms["customer"] == {"name": "Ada", "email": "ada@example.com"}
    assert issued.key not in json.dumps(cert)
    # The PEM form of the published key verifies too, and so does the raw JSON text.
    assert verify_certificate(json.dumps(cert), published["pem"])["key_prefix"] == issued.license.key_prefix


@pytest.mark.parametrize(
    "field,value",
    [("seats", 300), ("expires_at", "2999-01-01T00:00:00Z"), ("status", "active "), ("product", "other"),
     ("certificate_expires_at", "2999-01-01T00:00:00Z"), ("customer", {"name": "Eve", "email": "e@x"})],
)
def test_it_rejects_any_tampering(cert_and_key, field, value):
    cert, published = cert_and_key
    forged = copy.deepcopy(cert)
    forged["payload"][field] = value
    with pytest.raises(CertificateError, match="signature"):
        verify_certificate(forged, published["public_key"])


def test_it_rejects_a_certificate_signed_by_another_key(cert_and_key):
    cert, _ = cert_and_key
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(CertificateError, match="signature"):
        verify_certificate(cert, other)


def test_it_rejects_expired_certificates(cert_and_key):
    cert, published = cert_and_key
    later = datetime.now(UTC) + timedelta(days=31)
    with pytest.raises(CertificateError, match="expired"):
        verify_certificate(cert, published["public_key"], now=later)


@override_settings(LICENSE_CERTIFICATE_TTL_SECONDS=3600)
def test_it_never_lets_a_certificate_outlive_its_license(api, product):
    issued = services.issue_license(product=product, actor="t", expires_at=datetime.now(UTC) + timedelta(minutes=5))
    cert = api.post(f"{BASE}/certificate/", {"key": issued.key})[1]
    assert cert["payload"]["certificate_expires_at"] == cert["payload"]["expires_at"]


def test_it_refuses_certificates_for_unusable_licenses(api, issued):
    services.suspend(issued.license.pk, "t")
    status, body, _ = api.post(f"{BASE}/certificate/", {"key": issued.key})
    assert status == 403 and body["error"] == "license_not_usable"


@pytest.mark.parametrize("garbage", ["", "{", "[]", '{"format": "licenseapi-cert-v1"}', '{"format": "licenseapi-cert-v1", "algorithm": "Ed25519", "payload": {}, "signature": "!!"}'])
def test_it_rejects_garbage_with_a_reason(garbage, cert_and_key):
    _, published = cert_and_key
    with pytest.raises(CertificateError):
        verify_certificate(garbage, published["public_key"])


def test_it_verifies_from_the_command_line(cert_and_key, tmp_path, capsys):
    cert, published = cert_and_key
    cert_file = tmp_path / "cert.json"
    key_file = tmp_path / "key.pem"
    cert_file.write_text(json.dumps(cert))
    key_file.write_text(published["pem"])
    call_command("verify_license_certificate", str(cert_file), "--public-key", str(key_file))
    assert "certificate valid" in capsys.readouterr().out
    call_command("verify_license_certificate", str(cert_file))  # the server's own key
    cert["payload"]["seats"] = 1000
    cert_file.write_text(json.dumps(cert))
    with pytest.raises(CommandError, match="INVALID: signature"):
        call_command("verify_license_certificate", str(cert_file), "--public-key", str(key_file))


def test_the_command_exits_non_zero_on_failure(cert_and_key, tmp_path):
    import subprocess
    import sys

    cert, published = cert_and_key
    cert["payload"]["seats"] = 1000
    (tmp_path / "c.json").write_text(json.dumps(cert))
    (tmp_path / "k.pub").write_text(published["public_key"])
    proc = subprocess.run(
        [sys.executable, "manage.py", "verify_license_certificate", str(tmp_path / "c.json"), "--public-key", str(tmp_path / "k.pub")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0 and "signature does not match" in proc.stderr


def test_it_loads_pem_and_base64_signing_keys():
    from cryptography.hazmat.primitives import serialization

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    assert certificates.key_id(certificates.load_private_key(pem).public_key()) == certificates.key_id(key.public_key())
    with pytest.raises(ValueError, match="32 raw key bytes"):
        certificates.load_private_key("c2hvcnQ=")


@override_settings(LICENSE_SIGNING_KEY=None, DEBUG=False)
def test_it_answers_503_when_no_signing_key_is_configured_in_production(api, issued):
    status, body, _ = api.post(f"{BASE}/certificate/", {"key": issued.key})
    assert status == 503 and "not configured" in body["detail"]


def test_a_malformed_signing_key_stops_start_up_naming_the_variable():
    import os
    import subprocess
    import sys

    env = {**os.environ, "LICENSE_SIGNING_KEY": "not-a-key"}
    proc = subprocess.run([sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode != 0
    assert "LICENSE_SIGNING_KEY is malformed" in proc.stderr and "not-a-key" not in proc.stderr
