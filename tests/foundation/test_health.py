"""The dashboard's /healthz and /readyz."""

import json
import socket
import time

import pytest
from django.test import override_settings


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.django_db
def test_it_answers_healthz_without_touching_dependencies(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


@pytest.mark.django_db(transaction=True)
def test_it_is_ready_when_database_and_redis_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready", "database": "up", "redis": "up"}


@pytest.mark.django_db(transaction=True)
def test_it_names_redis_when_it_is_down_and_answers_quickly(client):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert json.loads(response.content) == {"status": "not_ready", "database": "up", "redis": "down"}
    assert elapsed < 2


@pytest.mark.django_db(transaction=True)
def test_it_answers_within_the_timeout_when_redis_hangs(client):
    # A listener that accepts TCP but never answers: the check must give up, not hang.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        with override_settings(REDIS_URL=f"redis://127.0.0.1:{server.getsockname()[1]}/0"):
            started = time.monotonic()
            response = client.get("/readyz")
            elapsed = time.monotonic() - started
    finally:
        server.close()
    assert response.status_code == 503
    assert elapsed < 2.5
