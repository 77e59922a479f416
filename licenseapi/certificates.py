"""Ed25519-signed offline certificates.

A certificate is JSON: ``{"format": "licenseapi-cert-v1", "algorithm": "Ed25519", "key_id":
..., "payload": {...terms...}, "signature": base64}``. The signature covers the canonical JSON
of the payload (sorted keys, no whitespace, UTF-8), so a verifier re-serialises the payload it
received and any edit to a term breaks the signature. Customers' software verifies offline with
the published public key; `verify_certificate` is that check, with no Django dependency.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from licenseapi import conf

FORMAT = "licenseapi-cert-v1"
ALGORITHM = "Ed25519"
log = logging.getLogger(__name__)


class CertificateError(ValueError):
    """The certificate must not be trusted; str(exc) says why."""


class SigningKeyUnavailable(RuntimeError):
    pass


def canonical_json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise CertificateError(f"{name} is not a timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CertificateError(f"{name} is not a timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- keys ----------------------------------------------------------------------------------------


def load_private_key(text: str) -> Ed25519PrivateKey:
    """PEM (PKCS#8) or base64 of the 32 raw private bytes."""
    text = text.strip()
    # Messages never include the key material itself.
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError("not a readable, unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("neither PEM nor base64") from None
    if len(raw) != 32:
        raise ValueError("base64 must decode to the 32 raw key bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public_key(data: str | bytes | Ed25519PublicKey) -> Ed25519PublicKey:
    """PEM (SubjectPublicKeyInfo) or base64 of the 32 raw public bytes."""
    if isinstance(data, Ed25519PublicKey):
        return data
    text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
            if not isinstance(key, Ed25519PublicKey):
                raise CertificateError("public key is not Ed25519")
            return key
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error):
        raise CertificateError("public key is neither PEM nor base64 of 32 bytes") from None


def public_key_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


_key_lock = threading.Lock()
_key_cache: dict[str, Ed25519PrivateKey] = {}


def signing_key() -> Ed25519PrivateKey:
    """The configured key (LICENSE_SIGNING_KEY / _FILE). Unset: in DEBUG a key generated once
    and kept under var/ (so certificates survive restarts); in production, an error, because
    a key that changes per pod would make certificates unverifiable."""
    from django.conf import settings  # local: verify_certificate must work without Django

    text = conf.signing_key_text()
    cache_id = hashlib.sha256(text.encode()).hexdigest() if text else "dev"
    with _key_lock:
        if cache_id in _key_cache:
            return _key_cache[cache_id]
        if text:
            key = load_private_key(text)
        elif settings.DEBUG or getattr(settings, "LICENSE_DEV_SIGNING_KEY", False):
            key = _dev_key(
                Path(getattr(settings, "VAR_DIR", Path.cwd() / "var")) / "license_signing_key.pem"
            )
        else:
            raise SigningKeyUnavailable("LICENSE_SIGNING_KEY is not configured")
        _key_cache[cache_id] = key
        return key


def _dev_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        return load_private_key(path.read_text())
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    log.warning("LICENSE_SIGNING_KEY unset: generated a development signing key under var/")
    return key


# --- sign and verify -----------------------------------------------------------------------------


def sign_payload(payload: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    signature = key.sign(canonical_json(payload))
    return {
        "format": FORMAT,
        "algorithm": ALGORITHM,
        "key_id": key_id(key.public_key()),
        "payload": payload,
        "signature": base64.b64encode(signature).decode("ascii"),
    }


def license_terms(lic: Any, now: datetime, ttl_seconds: int) -> dict[str, Any]:
    """The signed terms. A certificate never outlives its license."""
    cert_expires = now + timedelta(seconds=ttl_seconds)
    if lic.expires_at is not None and lic.expires_at < cert_expires:
        cert_expires = lic.expires_at
    return {
        "license_id": str(lic.id),
        "key_prefix": lic.key_prefix,
        "product": lic.product.slug,
        "customer": {"name": lic.customer_name, "email": lic.customer_email},
        "seats": lic.seats,
        "expires_at": _iso(lic.expires_at),
        "status": lic.status,
        "issued_at": _iso(now),
        "certificate_expires_at": _iso(cert_expires),
    }


def verify_certificate(
    cert: dict[str, Any] | str | bytes,
    public_key: str | bytes | Ed25519PublicKey,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return the verified terms, or raise CertificateError naming the reason: malformed,
    wrong algorithm, bad signature (any tampering), expired certificate or license, or a
    license that was not active when issued."""
    if isinstance(cert, str | bytes):
        try:
            cert = json.loads(cert)
        except (ValueError, UnicodeDecodeError):
            raise CertificateError("certificate is not valid JSON") from None
    if not isinstance(cert, dict):
        raise CertificateError("certificate is not a JSON object")
    if cert.get("format") != FORMAT or cert.get("algorithm") != ALGORITHM:
        raise CertificateError(
            f"unsupported certificate format/algorithm (expected {FORMAT}/{ALGORITHM})"
        )
    payload, sig = cert.get("payload"), cert.get("signature")
    if not isinstance(payload, dict) or not isinstance(sig, str):
        raise CertificateError("certificate lacks a payload or signature")
    try:
        signature = base64.b64decode(sig, validate=True)
    except binascii.Error:
        raise CertificateError("signature is not base64") from None
    key = load_public_key(public_key)
    try:
        key.verify(signature, canonical_json(payload))
    except InvalidSignature:
        raise CertificateError(
            "signature does not match: the certificate was altered or signed by another key"
        ) from None
    now = now or datetime.now(UTC)
    cert_expiry = _parse_iso(payload.get("certificate_expires_at"), "certificate_expires_at")
    if cert_expiry is None or cert_expiry <= now:
        raise CertificateError("certificate has expired")
    license_expiry = _parse_iso(payload.get("expires_at"), "expires_at")
    if license_expiry is not None and license_expiry <= now:
        raise CertificateError("license has expired")
    if payload.get("status") != "active":
        raise CertificateError(f"license status is {payload.get('status')!r}, not active")
    return payload


def check_configured_key() -> None:
    """Stop start-up when LICENSE_SIGNING_KEY is set but is not a usable key."""
    from django.core.exceptions import ImproperlyConfigured

    text = conf.signing_key_text()
    if not text:
        return
    try:
        load_private_key(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"LICENSE_SIGNING_KEY is malformed: {exc}") from None
