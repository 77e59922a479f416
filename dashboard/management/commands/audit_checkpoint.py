"""`manage.py audit_checkpoint`: sign and store a checkpoint of the audit chain now."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dashboard.adapters import objectstore
from dashboard.adapters.errors import AdapterError
from dashboard.audit import checkpoints


class Command(BaseCommand):
    help = ("Write a signed checkpoint (head id, hash, count) of the audit chain to "
            "AUDIT_CHECKPOINT_URL; refuses a chain that does not verify.")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            cp = checkpoints.write(objectstore.configured())
        except (checkpoints.CheckpointError, AdapterError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"checkpoint: entry {cp.head_id}, {cp.count} entries, "
                          f"{cp.head_hash[:16]}... -> {settings.AUDIT_CHECKPOINT_URL}")
