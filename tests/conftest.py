"""Test session set-up: the sandbox and Celery worker fixtures (tests/plugins/), and the
database choice (DATABASE_URL, else SQLite). tests/plugins/redis_session.py, loaded before
Django, gives the session its own embedded Redis when REDIS_URL is unset."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.plugins.worker", "tests.plugins.sandbox"]


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


@pytest.fixture(autouse=True)
def _audit_checkpoints_apart(settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Each test anchors its own audit chain: checkpoints of `make run` (var/) or of another
    # test must not make a fresh test database look truncated.
    settings.AUDIT_CHECKPOINT_URL = str(tmp_path_factory.mktemp("audit-checkpoints"))


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
