"""The audit trail: append-only, hash-chained, verified by `manage.py verify_audit`."""

from __future__ import annotations

import itertools

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from dashboard import audit, services
from dashboard.models import AppendOnly, AuditEntry
from tests.pipeline.conftest import SHA

pytestmark = pytest.mark.django_db


def _activity(service, users):
    services.lock_service(service=service, actor=users.alice, via="admin", reason="freeze")
    release = services.request_release(service=service, commit=SHA["good"], actor=users.bob,
                                       via="api", force_reason="hotfix",
                                       )
    services.cancel_release(release=release, actor=users.alice, via="admin", reason="oops")
    services.unlock_service(service=service, actor=users.alice, via="admin", reason="done")


def test_it_audits_every_action_in_a_verifiable_chain(plain_service, users, capsys):
    _activity(plain_service, users)
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions[0] == "lock" and actions[-1] == "unlock"
    assert {"release.request", "lock.force", "release.transition", "release.cancel"} <= set(actions)
    entries = list(AuditEntry.objects.order_by("id"))
    assert entries[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    call_command("verify_audit")
    assert f"{len(entries)} entries" in capsys.readouterr().out


def test_it_refuses_to_change_or_delete_entries(plain_service, users):
    _activity(plain_service, users)
    entry = AuditEntry.objects.first()
    entry.reason = "rewritten"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="x")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()


def test_it_refuses_raw_sql_changes_on_postgresql(plain_service, users, require_postgres):
    from django.db import DatabaseError

    _activity(plain_service, users)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute("UPDATE dashboard_auditentry SET reason = 'x'")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute("DELETE FROM dashboard_auditentry")


def _tamper(sql, params):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE dashboard_auditentry DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE dashboard_auditentry ENABLE TRIGGER USER")


@pytest.mark.parametrize("how", ["edit", "delete"])
def test_it_detects_tampering_and_names_the_first_bad_entry(plain_service, users, how):
    _activity(plain_service, users)
    ids = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    victim = ids[2]
    if how == "edit":
        _tamper("UPDATE dashboard_auditentry SET reason = %s WHERE id = %s", ["innocent", victim])
        bad = victim
    else:
        _tamper("DELETE FROM dashboard_auditentry WHERE id = %s", [victim])
        bad = ids[3]
    with pytest.raises(CommandError, match=f"audit entry {bad} "):
        call_command("verify_audit")


def test_it_never_stores_secrets_in_payloads():
    entry = audit.append(actor="x", via="system", action="test",
                         payload={"token": "abc", "nested": {"password": "p"}, "ok": 1})
    assert entry.payload == {"token": "[redacted]", "nested": {"password": "[redacted]"}, "ok": 1}
    assert audit.verify()[1] is None
