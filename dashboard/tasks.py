"""Celery tasks: thin, named, take ids, safe to run twice (dashboard/releases/driver.py says
how). The pipeline enqueues them by name after commit (releases.lifecycle.enqueue_on_commit);
nothing imports this module but Celery's autodiscovery."""

from __future__ import annotations

from celery import shared_task

from dashboard.releases import driver, lifecycle


@shared_task(name=lifecycle.ADVANCE_TASK, ignore_result=True)
def advance_release(release_id: int, tick: int) -> None:
    driver.advance(release_id, tick)


@shared_task(name=lifecycle.CANCEL_BUILD_TASK, ignore_result=True, max_retries=10)
def cancel_build(release_id: int) -> None:
    driver.cancel_build(release_id)


@shared_task(name=lifecycle.RECONCILE_TASK, ignore_result=True)
def reconcile() -> dict[str, int]:
    return driver.reconcile()
