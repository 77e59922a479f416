"""`manage.py verify_audit`: check the audit chain's hashes and its latest signed checkpoint.

Exit status: 0 intact; 1 the checkpoint itself cannot be trusted (bad signature, unreadable);
2 entries were rewritten; 3 entries the checkpoint covers were removed (truncation); 4 both.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dashboard import auditcheck
from dashboard.adapters import objectstore
from dashboard.adapters.errors import AdapterError
from dashboard.audit import checkpoints

REWRITE, TRUNCATION, BOTH = 2, 3, 4


class Command(BaseCommand):
    help = ("Verify the audit trail's keyed hash chain against the latest signed checkpoint "
            "(exit 2: rewritten, 3: truncated, 4: both, 1: checkpoint untrusted).")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            checkpoint = checkpoints.read_latest(objectstore.configured())
        except (checkpoints.CheckpointError, AdapterError) as exc:
            raise CommandError(f"CHECKPOINT: {exc}", returncode=1) from None
        # The full walk also records the verified prefix the audit page builds on.
        result = auditcheck.verify_full(
            legacy_until=checkpoint.legacy_until if checkpoint else None)
        report = checkpoints.compare(checkpoint)
        if result.bad is not None:
            bad = result.bad
            report.rewrite = (f"audit entry {bad.pk} ({bad.at:%Y-%m-%d %H:%M:%S} {bad.action}) "
                              f"is bad: {result.problem}; {result.checked} entries before it "
                              "verify")
        problems = []
        if report.rewrite:
            problems.append(f"REWRITE: {report.rewrite}")
        if report.truncation:
            problems.append(f"TRUNCATION: {report.truncation}")
        for note in report.notes:
            self.stderr.write(f"note: {note}")
        if problems:
            code = BOTH if len(problems) == 2 else REWRITE if report.rewrite else TRUNCATION
            raise CommandError("\n".join(problems), returncode=code)
        cp = report.checkpoint
        anchored = (f"; checkpoint of {cp.at} (entry {cp.head_id}, {cp.count} entries) matches, "
                    f"{report.entries_after} newer entries" if cp else "")
        self.stdout.write(f"audit chain OK: {result.checked} entries{anchored}")
