"""The hash-chained audit trail.

Each entry's hash is sha256(prev_hash + canonical JSON of its fields), so changing, removing
or reordering any entry breaks every hash after it. Appends are serialized (a PostgreSQL
advisory lock; SQLite already serializes writers) so two writers can never both chain onto
the same previous entry and fork the chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

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


def compute_hash(entry: AuditEntry) -> str:
    body = {
        "at": _at(entry.at),
        "actor": entry.actor,
        "via": entry.via,
        "action": entry.action,
        "service": entry.service,
        "release_id": entry.release_id,
        "reason": entry.reason,
        "payload": entry.payload,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((entry.prev_hash + canonical).encode()).hexdigest()


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
        )
        entry.hash = compute_hash(entry)
        entry.save()
        return entry


def verify(entries: Iterator[AuditEntry] | None = None) -> tuple[int, AuditEntry | None, str]:
    """Walk the chain in id order: (entries checked, first bad entry or None, what is wrong)."""
    checked = 0
    prev = GENESIS
    rows = entries if entries is not None else AuditEntry.objects.order_by("id").iterator(2000)
    for entry in rows:
        if entry.prev_hash != prev:
            return checked, entry, "prev_hash does not match the previous entry's hash"
        if compute_hash(entry) != entry.hash:
            return checked, entry, "hash does not match the entry's contents"
        prev = entry.hash
        checked += 1
    return checked, None, ""
