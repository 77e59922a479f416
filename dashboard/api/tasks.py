"""Celery discovers tasks here (autodiscover imports <app>.tasks): the Slack command tasks,
notification delivery, and the idempotency-record purge."""

from __future__ import annotations

from celery import shared_task

from dashboard.api.idempotency import purge_expired
from dashboard.api.notifications import deliver
from dashboard.api.slack import follow_release, run_command

__all__ = ["deliver", "follow_release", "purge_idempotency_records", "run_command"]


@shared_task(name="dashboard_api.purge_idempotency_records")
def purge_idempotency_records() -> int:
    return purge_expired()
