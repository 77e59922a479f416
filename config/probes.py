"""Bounded dependency checks for readiness endpoints: each answers within its timeout, even
when the database or Redis hangs instead of refusing."""

from __future__ import annotations

import threading
from collections.abc import Callable

import redis
from django.db import connections


def _within(timeout: float, check: Callable[[], None]) -> bool:
    outcome: list[bool] = []

    def run() -> None:
        try:
            check()
            outcome.append(True)
        except Exception:
            outcome.append(False)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(outcome and outcome[0])


def database_ok(timeout: float = 1.5, alias: str = "default") -> bool:
    def check() -> None:
        # A fresh thread gets its own connection; close it so probes never leak connections.
        conn = connections[alias]
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        finally:
            conn.close()

    return _within(timeout, check)


def redis_ok(url: str, timeout: float = 1.0) -> bool:
    def check() -> None:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()

    return _within(timeout + 0.2, check)
