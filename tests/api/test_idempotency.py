"""Idempotency-Key on POSTs: replays, 422 on a different body, per-principal keys, 24 h
retention, concurrent first requests."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from dashboard.api.idempotency import purge_expired
from dashboard.api.models import IdempotencyRecord
from dashboard.models import Release
from tests.api.conftest import SHA, Api

URL = "/api/v1/releases/"
BODY = {"service": "license-api", "commit": SHA, "reason": "idempotent"}


@pytest.mark.django_db
def test_it_replays_the_first_response_for_the_same_key_and_body(service, api_for):
    api = api_for("deploy,read")
    key = str(uuid.uuid4())
    first = api.post(URL, BODY, key=key)
    again = api.post(URL, BODY, key=key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert Release.objects.count() == 1


@pytest.mark.django_db
def test_it_answers_422_for_the_same_key_with_a_different_body(service, api_for):
    api = api_for("deploy")
    key = str(uuid.uuid4())
    assert api.post(URL, BODY, key=key).status_code == 202
    r = api.post(URL, {**BODY, "reason": "changed"}, key=key)
    assert r.status_code == 422
    assert r.json()["code"] == "idempotency_key_reused"
    assert Release.objects.count() == 1


@pytest.mark.django_db
def test_it_replays_client_errors_too_but_not_conflicts(service, api_for):
    from dashboard import services
    from tests.api.conftest import make_user

    api = api_for("deploy")
    key = str(uuid.uuid4())
    bad = {**BODY, "commit": "zzz"}
    assert api.post(URL, bad, key=key).status_code == 400
    assert api.post(URL, bad, key=key)["Idempotent-Replayed"] == "true"
    owner = make_user("owner", ["view_service", "lock_service"])
    services.lock_service(service=service, actor=owner, via="api", reason="freeze")
    key2 = str(uuid.uuid4())
    assert api.post(URL, BODY, key=key2).status_code == 409
    services.unlock_service(service=service, actor=owner, via="api")
    assert api.post(URL, BODY, key=key2).status_code == 202  # the conflict was not recorded


@pytest.mark.django_db
def test_it_keeps_keys_per_principal(service, api_for):
    key = str(uuid.uuid4())
    a = api_for("deploy").post(URL, BODY, key=key)
    from dashboard import services

    services.cancel_release(release=a.json()["id"], actor=None, via="system")
    b = api_for("deploy").post(URL, BODY, key=key)
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.django_db
def test_it_keeps_keys_for_24_hours_then_forgets_them(service, api_for):
    api = api_for("deploy")
    key = str(uuid.uuid4())
    first = api.post(URL, BODY, key=key).json()["id"]
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=23))
    assert api.post(URL, BODY, key=key).json()["id"] == first
    assert purge_expired() == 0
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert purge_expired() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["k" * 300, "", "caf\u00e9", "a\tb"])
def test_it_rejects_keys_that_are_not_1_to_255_printable_characters(service, api_for, key):
    api = api_for("deploy")
    r = api.client.post(URL, json.dumps(BODY), content_type="application/json", headers={
        "Authorization": f"Bearer {api.token}", "Idempotency-Key": key})
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["errors"], key


@pytest.mark.django_db
def test_it_answers_400_to_a_malformed_body_with_a_key(service, api_for):
    # Found by schemathesis: the key's fingerprint read the body first, and after DRF's failed
    # parse the view saw an empty JSON object, so pausing with a body of "qA" answered 200.
    api = api_for("deploy")
    r = api.client.post("/api/v1/services/license-api/pause/", "qA",
                        content_type="application/json",
                        headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": "k1"})
    assert r.status_code == 400 and r["Content-Type"] == "application/problem+json"


@pytest.mark.django_db(transaction=True)
def test_it_creates_one_release_for_concurrent_requests_with_one_key(service, token_for):
    raw = token_for("deploy")
    key = str(uuid.uuid4())
    results: list[int] = []
    ids: list[int] = []

    def call() -> None:
        try:
            r = Api(raw).post(URL, BODY, key=key)
            results.append(r.status_code)
            if r.status_code == 202:
                ids.append(r.json()["id"])
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) <= {202, 409}, results
    assert Release.objects.count() == 1
    assert len(set(ids)) == 1
