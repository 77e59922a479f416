"""Celery workers for chatops tests on a private queue: workers of other test sessions that
share the development Redis never take these tasks, and these workers never take theirs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


@contextmanager
def private_queue(name: str) -> Iterator[None]:
    """Route this process's task sends to `name` (Celery caches its routing, so reset it)."""
    from config.celery import app

    def reset() -> None:
        for attr in ("queues", "default_queue", "router"):
            app.amqp.__dict__.pop(attr, None)

    previous = app.conf.task_default_queue
    app.conf.task_default_queue = name
    reset()
    try:
        yield
    finally:
        app.conf.task_default_queue = previous
        reset()


def start_private_worker(tmp_path: Path, extra_env: dict[str, str] | None = None) -> Any:
    from tests.plugins.worker import start_celery_worker

    queue = f"chatops-test-{uuid.uuid4().hex[:10]}"
    env = {"DJANGO_SETTINGS_MODULE": "tests.api.worker_settings", "CHATOPS_TEST_QUEUE": queue,
           **(extra_env or {})}
    worker = start_celery_worker(tmp_path, name=queue, extra_env=env)
    worker.queue = queue  # type: ignore[attr-defined]
    return worker


@pytest.fixture
def sandbox_worker(transactional_db: None, tmp_path: Path, fresh_sandbox: Any) -> Iterator[Any]:
    """A real Celery worker on a private queue whose Cloud Build client is the sandbox's."""
    worker = start_private_worker(tmp_path, {
        "CLOUDBUILD_ENDPOINT": fresh_sandbox.cloudbuild_url,
        "KUBECONFIG": str(fresh_sandbox.kubeconfig),
        "SLACK_SIGNING_SECRET": "test-slack-signing-secret",
    })
    with private_queue(worker.queue):
        yield worker
    worker.stop()
