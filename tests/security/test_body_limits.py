"""Request bodies are bounded while they arrive, with or without Content-Length (chunked),
and a chunked body within the limit is parsed like any other."""

from __future__ import annotations

import json

import pytest
from asgiref.testing import ApplicationCommunicator

from config.asgi_http import ReusingThreadsASGIHandler

PATH = "/api/v1/licenses/validate/"


@pytest.fixture
def handler(settings):
    settings.ROOT_URLCONF = "licenseapi.urls"
    settings.MAX_REQUEST_BODY_BYTES = 2048
    settings.LICENSE_RATE_LIMIT_ENABLED = False
    return ReusingThreadsASGIHandler(max_idle=1)


async def post(app, chunks: list[bytes], *, length: int | None = None):
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    else:
        headers.append((b"transfer-encoding", b"chunked"))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": PATH, "raw_path": PATH.encode(),
             "query_string": b"", "headers": headers, "server": ("testserver", 80),
             "client": ("127.0.0.1", 50000)}
    call = ApplicationCommunicator(app, scope)
    for i, chunk in enumerate(chunks):
        await call.send_input({"type": "http.request", "body": chunk,
                               "more_body": i < len(chunks) - 1})
    start = await call.receive_output(10)
    body = await call.receive_output(10)
    await call.wait(10)
    return start["status"], json.loads(body["body"])


async def test_it_refuses_a_chunked_body_past_the_limit_as_it_arrives(handler):
    status, body = await post(handler, [b"x" * 1024] * 3 + [b"never read"] * 1000)
    assert status == 413 and body["error"] == "payload_too_large" and "2048" in body["detail"]


async def test_it_refuses_a_declared_length_past_the_limit_before_reading(handler):
    status, body = await post(handler, [b"{}"], length=10_000_000)
    assert status == 413 and body["error"] == "payload_too_large"


async def test_it_parses_a_chunked_body_within_the_limit(handler):
    status, body = await post(handler, [b'{"key": ', b'"not-a-license-key"}'])
    # The key was read (and found malformed), not reported missing.
    assert status == 400 and "not a license key" in json.dumps(body)
