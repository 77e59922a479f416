"""The ASGI handler reuses the threads that run sync views, one thread per request in flight."""

import asyncio
import json

import pytest
from asgiref.testing import ApplicationCommunicator

from config.asgi_http import ReusingThreadsASGIHandler
from tests.foundation import asgi_urls


@pytest.fixture
def handler(settings):
    settings.ROOT_URLCONF = "tests.foundation.asgi_urls"
    return ReusingThreadsASGIHandler(max_idle=1)


def scope(path):
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": [(b"host", b"testserver")], "server": ("testserver", 80),
            "client": ("127.0.0.1", 50000)}


async def get(app, path):
    call = ApplicationCommunicator(app, scope(path))
    await call.send_input({"type": "http.request", "body": b""})
    start = await call.receive_output(10)
    body = await call.receive_output(10)
    await call.wait(10)  # the handler has given its thread back
    assert start["status"] == 200, body
    return json.loads(body["body"])["thread"]


async def test_a_later_request_runs_on_the_thread_of_an_earlier_one(handler):
    first = await get(handler, "/whoami")
    assert await get(handler, "/whoami") == first
    assert len(handler._idle) == 1


async def test_requests_in_flight_together_get_a_thread_each(handler):
    asgi_urls.meeting.reset()
    idle = await get(handler, "/whoami")  # one thread is idle now: only one of the two gets it
    # On one shared thread the first would wait at the barrier for a second that never runs.
    one, two = await asyncio.gather(get(handler, "/meet"), get(handler, "/meet"))
    assert one != two and idle in (one, two)
    assert len(handler._idle) == 1  # max_idle: the second thread is let go


async def test_a_request_abandoned_by_its_client_gives_its_thread_back_idle(handler):
    asgi_urls.slow_finished.clear()
    call = ApplicationCommunicator(handler, scope("/slow"))
    await call.send_input({"type": "http.request", "body": b""})
    await asyncio.sleep(0.1)  # the view is running now
    await call.send_input({"type": "http.disconnect"})
    await call.wait(10)
    # asgiref waits for the view before the handler returns: a thread back in the idle list
    # never has a previous request's code still running on it.
    assert asgi_urls.slow_finished.is_set()
    assert len(handler._idle) == 1


async def test_it_refuses_other_connection_types(handler):
    with pytest.raises(ValueError, match="websocket"):
        await handler({"type": "websocket"}, None, None)
