"""`manage.py prune_license_activations [--older-than-days N]`: delete long-silent activations
(safe to run from cron; they hold no seat already)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from licenseapi import services


class Command(BaseCommand):
    help = "Delete activations silent for longer than the activation TTL (or --older-than-days)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than-days", type=int, default=30)

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = services.prune_stale_activations(options["older_than_days"] * 86400)
        self.stdout.write(f"deleted {deleted} stale activation(s)")
