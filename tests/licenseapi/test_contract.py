"""The license API's published schema is the truth (APP_ROLE=licenseapi): schemathesis, with
every check and stateful links, against a live ASGI server, with a staff token and with none
(the client endpoints take no token). A new seed each run (printed); any finding fails."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from licenseapi import services
from licenseapi.models import Product
from tests import contract
from tests.plugins.worker import worker_env

# In make test (every test); slow keeps them out of make test-embedded's short second pass.
pytestmark = [pytest.mark.contract, pytest.mark.slow]

# Examples per operation and phase. The coverage phase (boundary values of every parameter)
# runs with the staff token, which reaches every operation.
BUDGET = {"staff": 15, "anonymous": 8}
PHASES = {"staff": "examples,coverage,fuzzing,stateful", "anonymous": "examples,fuzzing,stateful"}


@pytest.fixture
def server(transactional_db: None, tmp_path: Path) -> Iterator[str]:
    product = Product.objects.create(slug="acme-ide", name="Acme IDE", default_seats=2)
    services.issue_license(product=product, actor="test", customer_name="Ada", seats=3,
                           expires_at=timezone.now() + timedelta(days=30))
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())
    env = {**worker_env(), "APP_ROLE": "licenseapi",
           "LICENSE_SIGNING_KEY": base64.b64encode(key).decode(),
           # Limits far above what one run sends: 429s would hide the operations' logic (the
           # limits have their own tests in test_rate_limits.py).
           "LICENSE_RATE_LIMIT_PER_KEY": "1000000", "LICENSE_RATE_LIMIT_PER_IP": "1000000"}
    proc, url = contract.start_asgi_server(tmp_path, env)
    try:
        yield url
    finally:
        proc.stop()


def test_it_answers_as_its_schema_says_with_a_staff_token_and_with_none(server: str,
                                                                        tmp_path: Path) -> None:
    seed = contract.new_seed()
    reports = []
    for who in ("staff", "anonymous"):
        headers = {}
        if who == "staff":
            headers["Authorization"] = f"Bearer {services.create_staff_token('contract')}"
        passed, report = contract.run(
            f"{server}/api/v1/licenses/schema/", tmp_path, headers=headers,
            max_examples=BUDGET[who], seed=seed, label=f"license API {who}", phases=PHASES[who])
        if not passed:
            reports.append(report)
    assert not reports, "\n\n".join(reports)
