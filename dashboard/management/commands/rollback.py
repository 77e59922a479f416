"""`manage.py rollback SERVICE [--to RELEASE] [--reason R] [--acknowledge-schema-change]
[--wait]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard import services
from dashboard.management.commands._release_cli import cli_actor, wait


class Command(BaseCommand):
    help = "Redeploy an earlier succeeded release's image (default: the one before the latest)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("service")
        parser.add_argument("--to", type=int, default=None, help="release id to go back to")
        parser.add_argument("--reason", default="")
        parser.add_argument("--wait", action="store_true", help="follow until it ends")
        parser.add_argument("--acknowledge-schema-change", action="store_true",
                            help="go back past releases whose pre-deploy Job (migrations) ran")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            release = services.request_rollback(
                service=opts["service"], to_release=opts["to"], actor=cli_actor(), via="cli",
                reason=opts["reason"],
                acknowledge_schema_change=opts["acknowledge_schema_change"],
            )
        except services.ServiceError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"release {release.pk}: rollback of {release.service.name} to "
                          f"{release.image} is {release.state}")
        if opts["wait"]:
            wait(release, self.stdout)
