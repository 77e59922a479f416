"""Signed checkpoints of the audit chain, kept outside the database.

A checkpoint says "the chain had `count` entries up to entry `head_id`, whose hash was
`head_hash`", signed with an Ed25519 key (settings.AUDIT_SIGNING_KEY) and written to
settings.AUDIT_CHECKPOINT_URL (a Cloud Storage object in production, a directory locally;
dashboard.adapters.objectstore.configured() opens it).
Someone who can edit the database can neither delete the newest entries nor recompute the
chain without it showing against the last checkpoint: deleting shows as a count or head that
is missing (truncation), recomputing as a head hash that differs (rewrite).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import transaction

from dashboard.audit import verify
from dashboard.models import AuditEntry

LATEST = "latest.json"


class ObjectStore(Protocol):
    """Where checkpoints are kept (dashboard.adapters.objectstore gives one per URL; the
    callers pass it in, so the audit core stays free of outside clients)."""

    def read(self, name: str) -> bytes | None: ...
    def write(self, name: str, data: bytes) -> None: ...


class CheckpointError(Exception):
    """A checkpoint could not be trusted or written (bad signature, unreadable, refused)."""


def signing_key() -> Ed25519PrivateKey:
    raw = settings.AUDIT_SIGNING_KEY.strip()
    try:
        if raw.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(raw.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw, validate=True))
    except (ValueError, TypeError):
        raise CheckpointError("AUDIT_SIGNING_KEY is malformed: expected an Ed25519 key, PEM "
                              "(PKCS#8) or base64 of 32 raw bytes") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError("AUDIT_SIGNING_KEY is not an Ed25519 key")
    return key


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Checkpoint:
    head_id: int
    head_hash: str
    count: int
    legacy_until: int  # the last unkeyed entry's id (0: none)
    at: str

    def body(self) -> dict[str, Any]:
        return {"version": 1, "head_id": self.head_id, "head_hash": self.head_hash,
                "count": self.count, "legacy_until": self.legacy_until, "at": self.at}


def read_latest(store: ObjectStore) -> Checkpoint | None:
    """The newest checkpoint, its signature checked; None when none was ever written."""
    data = store.read(LATEST)
    if data is None:
        return None
    try:
        doc = json.loads(data)
        body, signature = doc["checkpoint"], base64.b64decode(doc["signature"])
        signing_key().public_key().verify(signature, _canonical(body))
        return Checkpoint(head_id=int(body["head_id"]), head_hash=str(body["head_hash"]),
                          count=int(body["count"]), legacy_until=int(body["legacy_until"]),
                          at=str(body["at"]))
    except InvalidSignature:
        raise CheckpointError("the latest checkpoint's signature does not verify") from None
    except (ValueError, KeyError, TypeError):
        raise CheckpointError("the latest checkpoint is malformed") from None


@dataclass
class Report:
    checked: int = 0
    checkpoint: Checkpoint | None = None
    rewrite: str = ""  # the first entry that does not verify, or a head that changed
    truncation: str = ""  # entries the checkpoint covers that are gone
    entries_after: int = 0  # newer than the checkpoint (not yet anchored)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.rewrite or self.truncation)


def check(store: ObjectStore) -> Report:
    """Verify the chain, then compare it with the latest checkpoint."""
    checkpoint = read_latest(store)
    legacy_until = checkpoint.legacy_until if checkpoint else None
    checked, bad, problem = verify(legacy_until=legacy_until)
    report = compare(checkpoint)
    report.checked = checked
    if bad is not None:
        report.rewrite = (f"audit entry {bad.pk} ({bad.at:%Y-%m-%d %H:%M:%S} {bad.action}) is "
                          f"bad: {problem}; {checked} entries before it verify")
    return report


def compare(checkpoint: Checkpoint | None) -> Report:
    """The checkpoint against the table (head, count), without walking the chain (the audit
    page walks it already): truncation, or a recomputed head."""
    report = Report(checkpoint=checkpoint)
    if checkpoint is None:
        report.notes.append("no checkpoint yet: deleting the newest entries cannot be detected")
        return report
    covered = AuditEntry.objects.filter(id__lte=checkpoint.head_id)
    count = covered.count()
    head = AuditEntry.objects.filter(id=checkpoint.head_id).values_list("hash", flat=True).first()
    if head is None or count < checkpoint.count:
        report.truncation = (
            f"the checkpoint of {checkpoint.at} covers {checkpoint.count} entries up to entry "
            f"{checkpoint.head_id}; {count} of them remain"
            + ("" if head is not None else f" and entry {checkpoint.head_id} is gone"))
    elif head != checkpoint.head_hash:
        report.rewrite = (
            f"entry {checkpoint.head_id}'s hash differs from the checkpoint of {checkpoint.at}: "
            "the chain up to it was recomputed")
    elif count > checkpoint.count:
        report.rewrite = (
            f"{count - checkpoint.count} entries were inserted before entry "
            f"{checkpoint.head_id} after the checkpoint of {checkpoint.at}")
    report.entries_after = AuditEntry.objects.filter(id__gt=checkpoint.head_id).count()
    return report


def write(store: ObjectStore) -> Checkpoint:
    """Sign and store a checkpoint of the chain as it is now; refuses a chain that does not
    verify against the previous checkpoint (that would launder the tampering)."""
    report = check(store)
    if not report.ok:
        raise CheckpointError(report.rewrite or report.truncation)
    with transaction.atomic():
        head = AuditEntry.objects.order_by("-id").values_list("id", "hash").first()
        if head is None:
            raise CheckpointError("the audit trail is empty: nothing to anchor")
        head_id, head_hash = head
        count = AuditEntry.objects.filter(id__lte=head_id).count()
        legacy = (AuditEntry.objects.filter(key_id="", id__lte=head_id)
                  .order_by("-id").values_list("id", flat=True).first())
    checkpoint = Checkpoint(head_id=head_id, head_hash=head_hash, count=count,
                            legacy_until=legacy or 0,
                            at=datetime.now(UTC).isoformat(timespec="seconds"))
    key = signing_key()
    body = checkpoint.body()
    doc = {"checkpoint": body, "signature": base64.b64encode(key.sign(_canonical(body))).decode(),
           "public_key": _fingerprint(key.public_key())}
    data = json.dumps(doc, indent=1).encode()
    # An archive copy per checkpoint first, then the one verify_audit reads.
    store.write(f"checkpoint-{head_id:012d}.json", data)
    store.write(LATEST, data)
    return checkpoint
