"""The audit chain is keyed (HMAC, rotatable key ids) and anchored by signed checkpoints
outside the database: `verify_audit` tells a rewrite from a truncation, by exit status too."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import connection

from dashboard import audit
from dashboard.adapters import objectstore
from dashboard.audit import checkpoints
from dashboard.models import AuditEntry

pytestmark = pytest.mark.django_db
KEY_A = "a" * 40
KEY_B = "b" * 40


@pytest.fixture
def keyed(settings):
    settings.AUDIT_HMAC_KEYS = {"k1": KEY_A.encode()}
    return settings


def _trail(n: int = 5) -> list[AuditEntry]:
    return [audit.append(actor="alice", via="api", action="lock", service="svc",
                         reason=f"r{i}", payload={"i": i}) for i in range(n)]


def _sql(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE dashboard_auditentry DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE dashboard_auditentry ENABLE TRIGGER USER")


def _recompute(keyed_with: bytes | None, *, edit_id: int, key_id: str | None = None) -> None:
    """What someone with database access does: edit one entry, then re-chain every hash."""
    prev = audit.GENESIS
    for entry in AuditEntry.objects.order_by("id"):
        if entry.pk == edit_id:
            entry.reason = "rewritten"
        if key_id is not None:
            entry.key_id = key_id
        entry.prev_hash = prev
        body = json.dumps({"at": audit._at(entry.at), "actor": entry.actor, "via": entry.via,
                           "action": entry.action, "service": entry.service,
                           "release_id": entry.release_id, "reason": entry.reason,
                           "payload": entry.payload, **({"key_id": entry.key_id}
                                                        if entry.key_id else {})},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        msg = (prev + body).encode()
        if keyed_with is None:
            new = hashlib.sha256(msg).hexdigest()
        else:
            import hmac
            new = hmac.new(keyed_with, msg, hashlib.sha256).hexdigest()
        _sql("UPDATE dashboard_auditentry SET reason=%s, prev_hash=%s, hash=%s, key_id=%s "
             "WHERE id=%s", [entry.reason, prev, new, entry.key_id, entry.pk])
        prev = new


def _verify() -> tuple[int, str]:
    try:
        call_command("verify_audit")
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, ""


def test_it_keys_every_new_entry_and_verifies_with_a_checkpoint(keyed, capsys):
    entries = _trail()
    assert {e.key_id for e in entries} == {"k1"}
    call_command("audit_checkpoint")
    assert _verify() == (0, "")
    assert "checkpoint of" in capsys.readouterr().out


def test_it_catches_a_chain_recomputed_without_the_key(keyed):
    entries = _trail()
    call_command("audit_checkpoint")
    _recompute(None, edit_id=entries[1].pk)
    code, message = _verify()
    assert code == 2 and "REWRITE" in message and "TRUNCATION" not in message


def test_it_catches_a_chain_recomputed_as_old_unkeyed_entries(keyed):
    entries = _trail()
    call_command("audit_checkpoint")
    _recompute(None, edit_id=entries[1].pk, key_id="")
    code, message = _verify()
    assert code == 2 and "REWRITE" in message


def test_it_catches_a_rewrite_by_someone_holding_the_hmac_key(keyed):
    entries = _trail()
    call_command("audit_checkpoint")
    _recompute(KEY_A.encode(), edit_id=entries[1].pk)  # every hash valid again...
    assert audit.verify()[1] is None
    code, message = _verify()  # ...but the head no longer matches the signed checkpoint
    assert code == 2 and "recomputed" in message


def test_it_reports_deleting_the_newest_entries_as_truncation(keyed):
    entries = _trail()
    call_command("audit_checkpoint")
    _sql("DELETE FROM dashboard_auditentry WHERE id >= %s", [entries[-2].pk])
    code, message = _verify()
    assert code == 3 and "TRUNCATION" in message and "REWRITE" not in message
    assert "5 entries" in message and "3 of them remain" in message


def test_it_reports_both_with_their_own_status(keyed):
    entries = _trail()
    call_command("audit_checkpoint")
    _sql("DELETE FROM dashboard_auditentry WHERE id = %s", [entries[-1].pk])
    _sql("UPDATE dashboard_auditentry SET reason = 'x' WHERE id = %s", [entries[0].pk])
    code, message = _verify()
    assert code == 4 and "REWRITE" in message and "TRUNCATION" in message


def test_it_refuses_to_checkpoint_a_truncated_chain(keyed):
    entries = _trail()
    call_command("audit_checkpoint")
    _sql("DELETE FROM dashboard_auditentry WHERE id = %s", [entries[-1].pk])
    with pytest.raises(CommandError, match="remain"):
        call_command("audit_checkpoint")


def test_it_rotates_keys_by_id(keyed):
    old = _trail(2)
    keyed.AUDIT_HMAC_KEYS = {"k2": KEY_B.encode(), "k1": KEY_A.encode()}
    new = _trail(2)
    assert [e.key_id for e in old + new] == ["k1", "k1", "k2", "k2"]
    call_command("audit_checkpoint")
    assert _verify()[0] == 0
    keyed.AUDIT_HMAC_KEYS = {"k2": KEY_B.encode()}  # the old key dropped too early
    code, message = _verify()
    assert code == 2 and "unknown key id 'k1'" in message


def test_it_distrusts_a_checkpoint_signed_by_another_key(keyed, settings):
    _trail()
    call_command("audit_checkpoint")
    path = Path(settings.AUDIT_CHECKPOINT_URL) / "latest.json"
    doc = json.loads(path.read_text())
    doc["checkpoint"]["count"] = 2
    forged = Ed25519PrivateKey.generate().sign(checkpoints._canonical(doc["checkpoint"]))
    doc["signature"] = base64.b64encode(forged).decode()
    path.write_text(json.dumps(doc))
    code, message = _verify()
    assert code == 1 and "signature" in message


def test_it_accepts_older_unkeyed_entries_before_the_keyed_ones(keyed):
    keyed.AUDIT_HMAC_KEYS = {"k1": KEY_A.encode()}
    legacy = _trail(2)
    _recompute(None, edit_id=0, key_id="")  # as written before keys existed
    assert audit.verify()[1] is None and legacy
    _trail(2)
    call_command("audit_checkpoint")
    assert _verify()[0] == 0
    assert checkpoints.read_latest(objectstore.configured()).legacy_until == legacy[-1].pk


def test_it_says_when_there_is_no_checkpoint_yet(keyed, capsys):
    _trail(1)
    assert _verify()[0] == 0
    assert "no checkpoint yet" in capsys.readouterr().err


def test_it_reads_keys_from_a_file_and_refuses_malformed_ones(tmp_path, monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import config.settings as conf

    path = tmp_path / "keys"
    path.write_text(f"new:{secrets.token_urlsafe(40)},old:{secrets.token_urlsafe(40)}\n")
    monkeypatch.setenv("AUDIT_HMAC_KEYS_FILE", str(path))
    assert list(conf._audit_hmac_keys()) == ["new", "old"]
    path.write_text("short:abc")
    with pytest.raises(ImproperlyConfigured, match="AUDIT_HMAC_KEYS is malformed"):
        conf._audit_hmac_keys()
    assert importlib.import_module("config.settings") is conf


def test_the_audit_page_shows_the_checkpoint_status(keyed, admin_client):
    entries = _trail(3)
    page = admin_client.get("/admin/deployments/audit/").content.decode()
    assert "not anchored" in page
    call_command("audit_checkpoint")
    assert "✓ anchored" in admin_client.get("/admin/deployments/audit/").content.decode()
    _sql("DELETE FROM dashboard_auditentry WHERE id = %s", [entries[-1].pk])
    page = admin_client.get("/admin/deployments/audit/").content.decode()
    assert "checkpoint mismatch" in page and "2 of them remain" in page
