"""Fixtures for the license API: its own URLconf, a signing key, a Redis key prefix of its own
(flushed after each test, leaving everyone else's keys alone), products and licenses."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from licenseapi import ratelimit, services
from licenseapi.models import Product
from licenseapi.redis_client import get_client

_SIGNING_KEY = base64.b64encode(
    Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
).decode()


@pytest.fixture(autouse=True)
def licenseapi_settings() -> Iterator[str]:
    prefix = f"test-licenseapi-{uuid.uuid4().hex[:8]}:"
    with override_settings(
        LICENSE_SIGNING_KEY=_SIGNING_KEY,
        LICENSE_REDIS_PREFIX=prefix,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # speed only
    ):
        yield prefix
    ratelimit.flush()
    client = get_client(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def product(db: Any) -> Product:
    return Product.objects.create(slug="acme-ide", name="Acme IDE", default_seats=2)


@pytest.fixture
def issued(product: Product) -> services.IssuedLicense:
    return services.issue_license(
        product=product,
        actor="test",
        customer_name="Ada",
        customer_email="ada@example.com",
        seats=3,
        expires_at=timezone.now() + timedelta(days=30),
    )


@pytest.fixture
def staff_token(db: Any) -> str:
    return services.create_staff_token("ci", ["read", "issue", "manage"])


class JsonClient:
    """POST/GET JSON against the license API; returns (status, body, response)."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def post(self, path: str, data: Any = None, **extra: Any) -> tuple[int, Any, Any]:
        body = json.dumps(data) if data is not None else ""
        kwargs = {"content_type": "application/json", **self.headers, **extra}
        response = self.client.post(path, body, **kwargs)
        return response.status_code, _json(response), response

    def get(self, path: str, **extra: Any) -> tuple[int, Any, Any]:
        response = self.client.get(path, **{**self.headers, **extra})
        return response.status_code, _json(response), response


def _json(response: Any) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


@pytest.fixture
def api() -> JsonClient:
    return JsonClient()


@pytest.fixture
def staff_api(staff_token: str) -> JsonClient:
    return JsonClient(staff_token)
