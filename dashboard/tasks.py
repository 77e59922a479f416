"""Celery tasks: thin, named, take ids, safe to run twice (dashboard/releases/driver.py says
how). The pipeline enqueues them by name after commit (releases.lifecycle.enqueue_on_commit);
nothing imports this module but Celery's autodiscovery."""

from __future__ import annotations

import logging

from celery import shared_task

from dashboard import auditcheck
from dashboard.adapters import objectstore
from dashboard.audit import checkpoints
from dashboard.models import AuditEntry
from dashboard.releases import driver, lifecycle

log = logging.getLogger(__name__)


@shared_task(name=lifecycle.ADVANCE_TASK, ignore_result=True)
def advance_release(release_id: int, tick: int) -> None:
    driver.advance(release_id, tick)


@shared_task(name=lifecycle.CANCEL_BUILD_TASK, ignore_result=True, max_retries=10)
def cancel_build(release_id: int) -> None:
    driver.cancel_build(release_id)


@shared_task(name=lifecycle.RECONCILE_TASK, ignore_result=True)
def reconcile() -> dict[str, int]:
    return driver.reconcile()


@shared_task(name="dashboard.verify_audit_chain", ignore_result=True)
def verify_audit_chain() -> int:
    """The periodic full walk of the audit chain (the audit page only checks what is new)."""
    result = auditcheck.verify_full()
    if not result.ok:
        log.error("audit chain broken at entry %s: %s (%d entries before it verify)",
                  result.bad.pk if result.bad else "?", result.problem, result.checked)
    return result.checked


@shared_task(name="dashboard.audit_checkpoint", ignore_result=True)
def audit_checkpoint() -> None:
    """Anchor the audit chain outside the database (beat runs it periodically)."""
    if AuditEntry.objects.exists():
        checkpoints.write(objectstore.configured())
