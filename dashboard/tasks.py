"""Celery tasks: thin, named, take ids, safe to run twice (dashboard.pipeline explains how).

Callers enqueue them on commit (services.enqueue_advance); each run does one step and the
driver re-queues the next with a short countdown, far below the broker's visibility timeout.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="dashboard.advance_release", ignore_result=True)
def advance_release(release_id: int, tick: int) -> None:
    from dashboard import services

    services.advance_release(release_id, tick)


@shared_task(name="dashboard.cancel_build", ignore_result=True, max_retries=10)
def cancel_build(release_id: int) -> None:
    from dashboard import pipeline

    pipeline.cancel_build(release_id)


@shared_task(name="dashboard.reconcile", ignore_result=True)
def reconcile() -> dict[str, int]:
    from dashboard import services

    return services.reconcile()
