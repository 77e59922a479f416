"""`manage.py deploy SERVICE --commit SHA [--ref R] [--reason R] [--wait]`; or --ref alone to
deploy the commit a branch or tag points at (looked up in the Service's git_repo)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard import services
from dashboard.management.commands._release_cli import cli_actor, wait


class Command(BaseCommand):
    help = "Deploy a commit of a Service (build, roll out, verify; roll back on failure)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("service")
        parser.add_argument("--commit", default="", help="git SHA, 7 to 40 hex characters")
        parser.add_argument("--ref", default="",
                            help="branch or tag; without --commit, deploys what it points at")
        parser.add_argument("--reason", default="")
        parser.add_argument("--force-reason", default=None,
                            help="deploy through a lock (break-glass; audited)")
        parser.add_argument("--wait", action="store_true", help="follow until it ends")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            release = services.request_release(
                service=opts["service"], commit=opts["commit"], ref=opts["ref"],
                actor=cli_actor(), via="cli", reason=opts["reason"],
                force_reason=opts["force_reason"],
            )
        except services.ServiceError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"release {release.pk}: {release.kind} of {release.commit_sha} "
                          f"to {release.service.name} is {release.state}")
        if opts["wait"]:
            wait(release, self.stdout)
