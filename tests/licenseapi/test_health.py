"""The seed's probes: /health/live touches nothing; /health/ready names what is down, fast."""

from __future__ import annotations

import socket
import time

import pytest
from django.conf import settings
from django.test import override_settings

pytestmark = [pytest.mark.urls("licenseapi.urls")]


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_it_answers_alive_without_touching_the_database(client):
    # No django_db mark: any database access here would raise.
    response = client.get("/health/live")
    assert response.status_code == 200 and response.json() == {"status": "alive"}


@pytest.mark.django_db
def test_it_is_ready_when_database_and_redis_answer(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "connected", "redis": "connected"}


@pytest.mark.django_db
def test_it_turns_not_ready_when_redis_is_unreachable_and_back(client):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0"):
        started = time.monotonic()
        response = client.get("/health/ready")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "database": "connected", "redis": "disconnected"}
    assert elapsed < 2
    response = client.get("/health/ready")
    assert response.status_code == 200 and response.json()["redis"] == "connected"


@pytest.mark.django_db
def test_it_answers_503_within_two_seconds_when_redis_hangs(client):
    # A listener that never accepts: TCP connects (kernel backlog) but PING never gets an answer.
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(1)
    try:
        with override_settings(REDIS_URL=f"redis://127.0.0.1:{hung.getsockname()[1]}/0"):
            started = time.monotonic()
            response = client.get("/health/ready")
            elapsed = time.monotonic() - started
    finally:
        hung.close()
    assert response.status_code == 503 and response.json()["redis"] == "disconnected"
    assert elapsed < 2


def test_it_needs_no_authentication(client):
    assert settings.REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]  # the project denies by default
    assert client.get("/health/live").status_code == 200
