"""Per-key and per-address limits in real Redis; Redis down = fail open."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from licenseapi import ratelimit
from licenseapi.redis_client import get_client

pytestmark = [pytest.mark.urls("licenseapi.urls"), pytest.mark.django_db]
BASE = "/api/v1/licenses"


@override_settings(LICENSE_RATE_LIMIT_PER_KEY=3, LICENSE_RATE_LIMIT_PER_IP=1000)
def test_it_answers_429_with_retry_after_past_the_per_key_limit(api, issued):
    for _ in range(3):
        assert api.post(f"{BASE}/validate/", {"key": issued.key})[0] == 200
    status, body, response = api.post(f"{BASE}/validate/", {"key": issued.key})
    assert status == 429
    assert 1 <= int(response["Retry-After"]) <= 61
    assert body["error"] == "throttled" and "key" in body["detail"] and body["retry_after"] >= 1
    # Another key from the same address is not affected.
    other = f"LIC-AAAAAAAA-{'-'.join(['BBBBBBBB'] * 4)}"
    assert api.post(f"{BASE}/validate/", {"key": other})[0] == 404


@override_settings(LICENSE_RATE_LIMIT_PER_KEY=1000, LICENSE_RATE_LIMIT_PER_IP=2)
def test_it_limits_per_client_address_across_keys_and_endpoints(api, issued):
    assert api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m"})[0] == 201
    assert api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m"})[0] == 200
    status, _, response = api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m"})
    assert status == 429 and response["Retry-After"]
    # A different address has its own bucket.
    status, _, _ = api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m"}, REMOTE_ADDR="10.9.9.9")
    assert status == 200


@override_settings(LICENSE_RATE_LIMIT_PER_KEY=1000, LICENSE_RATE_LIMIT_PER_IP=1, TRUSTED_PROXIES=2)
def test_it_takes_the_client_address_from_the_load_balancer_when_told_to(api, issued):
    lb = {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7, 10.0.0.1"}
    assert api.post(f"{BASE}/validate/", {"key": issued.key}, **lb)[0] == 200
    spoofed = {"HTTP_X_FORWARDED_FOR": "7.7.7.7, 203.0.113.7, 10.0.0.1"}
    assert api.post(f"{BASE}/validate/", {"key": issued.key}, **spoofed)[0] == 429


@override_settings(LICENSE_RATE_LIMIT_PER_KEY=3, LICENSE_RATE_LIMIT_PER_IP=1000)
def test_it_shares_counts_between_processes_through_redis(api, issued, licenseapi_settings):
    for _ in range(3):
        assert api.post(f"{BASE}/validate/", {"key": issued.key})[0] == 200
    ratelimit.flush()
    keys = [k.decode() for k in get_client(settings.REDIS_URL).scan_iter(match=f"{licenseapi_settings}rl:validate:key:*")]
    assert len(keys) == 1 and get_client(settings.REDIS_URL).get(keys[0]) == b"3"
    # Another process knows nothing locally; after one flush it sees the shared total.
    ratelimit.forget_local_counts()
    assert api.post(f"{BASE}/validate/", {"key": issued.key})[0] == 200
    ratelimit.flush()
    assert api.post(f"{BASE}/validate/", {"key": issued.key})[0] == 429


@override_settings(LICENSE_RATE_LIMIT_PER_KEY=1000)
def test_it_keeps_validating_fast_when_redis_is_down(api, issued, caplog):
    import time

    with override_settings(REDIS_URL="redis://127.0.0.1:9/0"):
        started = time.monotonic()
        for _ in range(5):
            status, body, _ = api.post(f"{BASE}/validate/", {"key": issued.key})
            assert status == 200 and body["valid"] is True
        assert time.monotonic() - started < 1  # never waits on the dead Redis
        ratelimit.flush()
    assert "rate limiting is failing open" in caplog.text


@override_settings(LICENSE_RATE_LIMIT_PER_KEY=2, LICENSE_RATE_LIMIT_PER_IP=1000)
def test_it_does_not_limit_a_fleets_heartbeats_per_key(api, issued):
    assert api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m"})[0] == 201
    for _ in range(5):
        assert api.post(f"{BASE}/heartbeat/", {"key": issued.key, "fingerprint": "m"})[0] == 200
