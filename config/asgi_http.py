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

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

MAX_IDLE = 32  # idle threads kept for the next requests; a burst beyond that is let go


class ReusingThreadsASGIHandler(ASGIHandler):
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
