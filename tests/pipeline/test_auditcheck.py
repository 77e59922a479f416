"""The audit page's incremental check: from the verified prefix, only what is new; the full
walk (hourly, verify_audit) finds what the incremental check cannot."""

from __future__ import annotations

import pytest
from django.db import connection

from dashboard import audit, auditcheck
from dashboard.models import AuditEntry, AuditVerifiedPrefix

pytestmark = pytest.mark.django_db


def _append(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        audit.append(actor="tester", via="cli", action="test", reason=f"entry {i}")


def _tamper(entry_id: int, reason: str) -> None:
    """Rewrite an entry behind the application's back (what the append-only guard is for)."""
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL refuses the UPDATE (the trigger): nothing to detect there")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE dashboard_auditentry SET reason = %s WHERE id = %s",
                       [reason, entry_id])


def test_it_walks_only_the_entries_appended_since_the_last_check():
    _append(30)
    first = auditcheck.verify_recent()
    assert first.ok and first.checked == 30 and first.walked == 30
    _append(5, 30)
    second = auditcheck.verify_recent()
    assert second.ok and second.checked == 35 and second.walked == 5
    prefix = AuditVerifiedPrefix.objects.get()
    last = AuditEntry.objects.order_by("-id").first()
    assert (prefix.entry_id, prefix.hash, prefix.count) == (last.pk, last.hash, 35)
    assert auditcheck.verify_recent().walked == 0


def test_it_notices_at_once_a_rewrite_that_reaches_the_verified_entry():
    _append(10)
    assert auditcheck.verify_recent().ok
    last = AuditEntry.objects.order_by("-id").first()
    _tamper(last.pk, "rewritten")
    result = auditcheck.verify_recent()
    assert not result.ok and result.bad.pk == last.pk


def test_it_leaves_older_edits_to_the_full_walk_which_pulls_the_prefix_back():
    _append(10)
    assert auditcheck.verify_recent().ok
    third = AuditEntry.objects.order_by("id")[2]
    _tamper(third.pk, "rewritten")
    assert auditcheck.verify_recent().ok  # inside the prefix: not re-read on a page view
    full = auditcheck.verify_full()
    assert not full.ok and full.bad.pk == third.pk and full.checked == 2
    assert AuditVerifiedPrefix.objects.get().entry_id < third.pk
    again = auditcheck.verify_recent()
    assert not again.ok and again.bad.pk == third.pk  # the page now shows the break too


def test_the_full_walk_records_when_it_last_ran():
    _append(3)
    full = auditcheck.verify_full()
    assert full.ok and full.checked == 3
    assert AuditVerifiedPrefix.objects.get().full_at is not None
    assert auditcheck.verify_recent().full_at is not None


def test_a_page_view_checks_a_bounded_number_of_entries_and_the_next_carries_on():
    _append(12)
    first = auditcheck.verify_recent(limit=5)
    assert first.ok and first.walked == 5 and first.checked == 5 and first.more
    second = auditcheck.verify_recent(limit=5)
    assert second.walked == 5 and second.checked == 10 and second.more
    third = auditcheck.verify_recent(limit=5)
    assert third.walked == 2 and third.checked == 12 and not third.more
