"""Verifying the audit chain without walking all of it on every audit page view.

`verify_recent()` (the audit page) trusts the verified prefix recorded by an earlier check
(models.AuditVerifiedPrefix: the last entry known good and its hash), re-checks that entry
(still there, same hash, its hash still matches its contents), then walks only the entries
appended after it, and moves the prefix forward. An edit that also rewrites every later hash
changes that entry's hash, so the page sees it at once; an edit somewhere inside the prefix
that leaves the later hashes alone is found by the full walk: `verify_full()`, run by a
periodic task and by `manage.py verify_audit`, which also records the prefix it proved.

The prefix is a cache in the same database as the chain, not a signature: it saves work, it
adds no trust (signed checkpoints are a separate matter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard import audit
from dashboard.models import AuditEntry, AuditVerifiedPrefix

_ROW = 1  # the one row of AuditVerifiedPrefix


@dataclass(frozen=True)
class Result:
    checked: int  # entries known good (the prefix plus those walked now)
    bad: AuditEntry | None
    problem: str
    walked: int  # entries hashed by this call
    full_at: object = None  # when the whole chain was last walked, if ever
    more: bool = False  # newer entries remain unchecked (the walk stopped at its limit)

    @property
    def ok(self) -> bool:
        return self.bad is None


def _walk(rows: Iterable[AuditEntry], prev: str, *, keyed: bool = False,
          legacy_until: int | None = None) -> tuple[int, AuditEntry | None, str,
                                                    AuditEntry | None]:
    checked, last = 0, None
    for entry in rows:
        problem = audit.entry_problem(entry, prev, keyed=keyed, legacy_until=legacy_until)
        if problem:
            return checked, entry, problem, last
        keyed = keyed or bool(entry.key_id)
        prev, last = entry.hash, entry
        checked += 1
    return checked, None, "", last


def _intact(entry: AuditEntry) -> bool:
    try:
        return audit.compute_hash(entry) == entry.hash
    except audit.UnknownKey:
        return False


def _record(last: AuditEntry, count: int, full: bool, back: bool = False) -> None:
    """Move the prefix forward to `last` (never back, since a concurrent check may be ahead,
    unless `back`: a full walk found a break inside it)."""
    now = timezone.now()
    fields = {"entry_id": last.pk, "hash": last.hash, "count": count, "verified_at": now}
    if full:
        fields["full_at"] = now
    rows = AuditVerifiedPrefix.objects.filter(pk=_ROW)
    moved = (rows if back else rows.filter(entry_id__lte=last.pk)).update(**fields)
    if not moved and not AuditVerifiedPrefix.objects.filter(pk=_ROW).exists():
        try:
            with transaction.atomic():
                AuditVerifiedPrefix.objects.create(pk=_ROW, **fields)
        except IntegrityError:
            pass  # another check created it meanwhile


def verify_recent(limit: int | None = None) -> Result:
    """Check what was appended since the verified prefix (at most `limit` entries: a page view
    stays fast even on a chain nobody verified yet; later views carry on from there)."""
    prefix = AuditVerifiedPrefix.objects.filter(pk=_ROW).first()
    start, prev, count = 0, audit.GENESIS, 0
    anchor = None
    if prefix is not None and prefix.entry_id:
        anchor = AuditEntry.objects.filter(pk=prefix.entry_id).first()
        if anchor is None or anchor.hash != prefix.hash or not _intact(anchor):
            return Result(0, anchor or AuditEntry(pk=prefix.entry_id),
                          "the last verified entry was changed or removed since it was "
                          "verified", 1, prefix.full_at)
        start, prev, count = prefix.entry_id, prefix.hash, prefix.count
    newer = AuditEntry.objects.filter(id__gt=start).order_by("id")
    keyed = bool(start and anchor is not None and anchor.key_id)  # after keyed, all keyed
    walked, bad, problem, last = _walk((newer[:limit] if limit else newer).iterator(2000), prev,
                                       keyed=keyed)
    if last is not None:
        _record(last, count + walked, full=False)
    more = bool(limit and bad is None and walked == limit
                and AuditEntry.objects.filter(id__gt=last.pk if last else start).exists())
    return Result(count + walked, bad, problem, walked,
                  prefix.full_at if prefix is not None else None, more)


def verify_full(legacy_until: int | None = None) -> Result:
    """Walk the whole chain (audit.verify's rules; `legacy_until` from the latest signed
    checkpoint); record the prefix it proved good."""
    rows = AuditEntry.objects.order_by("id").iterator(2000)
    walked, bad, problem, last = _walk(rows, audit.GENESIS, legacy_until=legacy_until)
    if last is not None:
        _record(last, walked, full=bad is None, back=bad is not None)
    elif bad is not None:  # the very first entry is bad: nothing is known good
        AuditVerifiedPrefix.objects.filter(pk=_ROW).delete()
    return Result(walked, bad, problem, walked, timezone.now() if bad is None else None)
