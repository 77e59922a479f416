"""Django's ASGI handler with the threads that run sync views kept between requests.

Django's own handler gives every request a fresh single-thread executor (asgiref's
ThreadSensitiveContext) and shuts it down afterwards: each request starts a thread, blocks the
event loop until that thread is up, and starts another to join it. On a busy 2-core machine that
is a large share of a cheap request's cost. Here a request borrows an idle executor, still one
thread per request in flight (so a request's sync code keeps running on one thread, as Django
expects), and gives it back. Threads are reused the way a threaded WSGI server reuses its
workers; Django's per-request connection handling (request_started/request_finished) is as
before.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

MAX_IDLE = 32  # idle threads kept for the next requests; a burst beyond that is let go


class BodyTooLarge(Exception):
    pass


class BoundedBodyASGIHandler(ASGIHandler):
    """Bodies are bounded while they arrive, declared (Content-Length) or not (chunked).

    Django's handler buffers the whole body (spilling to disk) before any view can refuse it,
    and with chunked transfer there is no Content-Length for a view to check: one client
    could fill the disk. Past settings.MAX_REQUEST_BODY_BYTES the request gets a 413 at once.
    A chunked body within the limit gets a Content-Length, so views parse it as any other.
    """

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        limit = settings.MAX_REQUEST_BODY_BYTES
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await self._too_large(send, limit)
        try:
            await super().handle(scope, receive, send)
        except BodyTooLarge:
            await self._too_large(send, limit)

    async def read_body(self, receive: Any) -> Any:
        limit = settings.MAX_REQUEST_BODY_BYTES
        total = 0

        async def bounded() -> Any:
            nonlocal total
            message = await receive()
            total += len(message.get("body", b""))
            if total > limit:
                raise BodyTooLarge
            return message

        return await super().read_body(bounded)

    def create_request(self, scope: Mapping[str, Any], body_file: Any) -> Any:
        headers = scope.get("headers") or []
        if not any(name == b"content-length" for name, _ in headers):
            size = body_file.seek(0, os.SEEK_END)
            body_file.seek(0)
            if size:
                scope = {**scope, "headers": [*headers, (b"content-length", str(size).encode())]}
        return super().create_request(scope, body_file)

    @staticmethod
    async def _too_large(send: Any, limit: int) -> None:
        body = json.dumps({"error": "payload_too_large",
                           "detail": f"request body is larger than {limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class ReusingThreadsASGIHandler(BoundedBodyASGIHandler):
    def __init__(self, max_idle: int = MAX_IDLE) -> None:
        super().__init__()
        self.max_idle = max_idle
        self._idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="django-request")
        try:
            # With an executor given, asgiref runs this request's sync code on it and leaves
            # it running afterwards (and refuses calls from tasks that outlive the request).
            # When a client goes away mid-request, asgiref waits for the sync code to finish
            # before handle() returns, so the thread is idle when it goes back.
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self._release(executor)

    def _release(self, executor: ThreadPoolExecutor) -> None:
        if len(self._idle) < self.max_idle:
            self._idle.append(executor)
        else:  # let the thread go without blocking the event loop
            threading.Thread(target=executor.shutdown, daemon=True).start()
