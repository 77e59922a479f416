"""`manage.py verify_audit`: recompute the audit hash chain; exit non-zero at the first break."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dashboard import auditcheck


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain (exits 1 naming the first bad entry)."

    def handle(self, *args: Any, **opts: Any) -> None:
        result = auditcheck.verify_full()  # records the verified prefix the audit page uses
        checked, bad, problem = result.checked, result.bad, result.problem
        if bad is not None:
            raise CommandError(
                f"audit entry {bad.pk} ({bad.at:%Y-%m-%d %H:%M:%S} {bad.action}) is bad: "
                f"{problem}; {checked} entries before it verify"
            )
        self.stdout.write(f"audit chain OK: {checked} entries")
