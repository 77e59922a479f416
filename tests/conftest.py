"""Test session set-up: an embedded Redis when REDIS_URL is unset, the sandbox and Celery
worker fixtures (tests/plugins/), and the database choice (DATABASE_URL, else SQLite)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.plugins.worker"]
if (Path(__file__).parent / "plugins" / "sandbox.py").exists():
    pytest_plugins.append("tests.plugins.sandbox")


def pytest_configure(config: pytest.Config) -> None:
    # Start the embedded Redis before anything connects (settings point at its socket).
    from django.conf import settings

    if settings.REDIS_URL.startswith(f"unix://{settings.EMBEDDED_REDIS_SOCKET}"):
        from config.embedded_redis import ensure_running

        proc = ensure_running(settings.EMBEDDED_REDIS_SOCKET)
        if proc is not None:
            config.add_cleanup(proc.terminate)


@pytest.fixture(scope="session")
def redis_url() -> str:
    from django.conf import settings

    return settings.REDIS_URL


@pytest.fixture
def is_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


@pytest.fixture
def require_postgres(is_postgres: bool) -> Iterator[None]:
    if not is_postgres:
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://... (CI does)")
    yield


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
