"""The middleware stack under ASGI: nothing in it forces Django to hop between the event loop
and threads (WhiteNoise's own middleware is sync-only and did, twice per request)."""

import logging

import pytest
from django.core.handlers.asgi import ASGIHandler


def test_asgi_stack_needs_no_adapting(caplog, settings):
    settings.DEBUG = True  # Django reports each adaptation only then
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        ASGIHandler()  # builds the middleware chain in async mode
    adapted = [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()]
    assert adapted == []


async def test_static_files_are_served_under_asgi(async_client):
    response = await async_client.get("/static/dashboard/dashboard.css")
    assert response.status_code == 200
    assert b"{" in b"".join(response.streaming_content)  # a file: a plain iterator
    assert "max-age" in response["Cache-Control"]


@pytest.mark.django_db
async def test_other_paths_pass_through_under_asgi(async_client):
    response = await async_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_static_files_are_served_under_wsgi(client):
    response = client.get("/static/dashboard/dashboard.css")
    assert response.status_code == 200
    assert b"{" in b"".join(response.streaming_content)
