"""The keyed, hash-chained audit trail.

Each entry's hash is HMAC-SHA256(key, prev_hash + canonical JSON of its fields), under the key
its `key_id` names (settings.AUDIT_HMAC_KEYS; the first key signs new entries). Changing,
removing or reordering an entry breaks every hash after it, and without the key nobody can
recompute the chain after an edit. Entries written before keys existed (empty key_id) keep
their plain sha256 and may only precede keyed ones. Truncating the newest entries is caught
against a signed checkpoint kept outside the database (dashboard.audit.checkpoints).

Appends are serialized (a PostgreSQL advisory lock; SQLite already serializes writers) so two
writers can never both chain onto the same previous entry and fork the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dashboard.models import AuditEntry

GENESIS = "0" * 64
# Any xact-scoped advisory lock key, private to the audit chain.
_ADVISORY_KEY = 0x6175646974  # "audit"
# Payload keys that may carry secrets are never stored.
_SECRET_KEY = re.compile(r"(secret|token|password|authorization|api[_-]?key|credential)", re.I)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            str(k): ("[redacted]" if _SECRET_KEY.search(str(k)) else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def normalize_payload(payload: dict[str, Any] | None) -> dict[str, Any]:
    """JSON round-trip (so the stored value hashes the same when read back), secrets removed."""
    return json.loads(json.dumps(_scrub(payload or {}), default=str))  # type: ignore[no-any-return]


def actor_name(actor: Any, via: str) -> str:
    """Who the trail names for an action: the signed-in user, else the channel itself
    ("cli", "system", ...)."""
    if actor is not None and getattr(actor, "is_authenticated", False):
        return str(actor.get_username())
    return via


def _at(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


class UnknownKey(LookupError):
    """An entry names a key id that settings.AUDIT_HMAC_KEYS no longer (or never) had."""


def current_key_id() -> str:
    return next(iter(settings.AUDIT_HMAC_KEYS))


def compute_hash(entry: AuditEntry) -> str:
    body: dict[str, Any] = {
        "at": _at(entry.at),
        "actor": entry.actor,
        "via": entry.via,
        "action": entry.action,
        "service": entry.service,
        "release_id": entry.release_id,
        "reason": entry.reason,
        "payload": entry.payload,
    }
    if entry.key_id:
        body["key_id"] = entry.key_id  # hashed too: an entry cannot be moved to another key
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    message = (entry.prev_hash + canonical).encode()
    if not entry.key_id:  # written before the chain was keyed
        return hashlib.sha256(message).hexdigest()
    key = settings.AUDIT_HMAC_KEYS.get(entry.key_id)
    if key is None:
        raise UnknownKey(entry.key_id)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def append(*, actor: str, via: str, action: str, service: str = "", release_id: int | None = None,
           reason: str = "", payload: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry, in the caller's transaction (so it commits or rolls back with it)."""
    with transaction.atomic(savepoint=False):  # never caught and retried: no savepoint needed
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_KEY])
        last = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
        entry = AuditEntry(
            # Microseconds survive every backend, so the hash recomputes exactly when read.
            at=timezone.now(),
            actor=actor[:150], via=via, action=action, service=service, release_id=release_id,
            reason=reason, payload=normalize_payload(payload), prev_hash=last or GENESIS,
            key_id=current_key_id(),
        )
        entry.hash = compute_hash(entry)
        entry.save()
        return entry


def verify(entries: Iterator[AuditEntry] | None = None,
           legacy_until: int | None = None) -> tuple[int, AuditEntry | None, str]:
    """Walk the chain in id order: (entries checked, first bad entry or None, what is wrong).

    An unkeyed entry is accepted only before the first keyed one and, when a checkpoint says
    where the unkeyed prefix ended (`legacy_until`), not past that id: otherwise whoever can
    write the table could rewrite the chain as "old" unkeyed entries.
    """
    checked = 0
    prev = GENESIS
    keyed = False
    rows = entries if entries is not None else AuditEntry.objects.order_by("id").iterator(2000)
    for entry in rows:
        problem = entry_problem(entry, prev, keyed=keyed, legacy_until=legacy_until)
        if problem:
            return checked, entry, problem
        keyed = keyed or bool(entry.key_id)
        prev = entry.hash
        checked += 1
    return checked, None, ""


def entry_problem(entry: AuditEntry, prev: str, *, keyed: bool,
                  legacy_until: int | None = None) -> str:
    """What is wrong with `entry` after one whose hash is `prev` ("" when nothing); `keyed`:
    a keyed entry came before it (unkeyed ones may no longer follow)."""
    if entry.prev_hash != prev:
        return ("prev_hash does not match the previous entry's hash "
                "(an entry before it was removed or rewritten)")
    if not entry.key_id and (keyed or (legacy_until is not None and entry.pk > legacy_until)):
        return "entry has no key id where the chain is keyed"
    try:
        expected = compute_hash(entry)
    except UnknownKey:
        return f"entry names an unknown key id {entry.key_id!r}"
    if not hmac.compare_digest(expected, entry.hash):
        return "hash does not match the entry's contents"
    return ""
