"""`manage.py create_license_staff_token NAME`: print a new staff token once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from licenseapi import services
from licenseapi.models import StaffToken


class Command(BaseCommand):
    help = "Create a staff token for the license API's staff endpoints and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who or what uses the token (unique).")
        parser.add_argument("--scopes", default="read",
                            help="Comma-separated: read (list, see), issue (new licenses), "
                                 "manage (suspend, reinstate, revoke). Default: read.")
        parser.add_argument("--expires", type=int, default=90, metavar="DAYS",
                            help="Days until the token stops working (default 90; 0 = never).")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("NAME must be 1-100 characters")
        if StaffToken.objects.filter(name=name).exists():
            raise CommandError(
                f"a staff token named {name!r} exists; revoke it in the admin or pick another name"
            )
        scopes = [x.strip() for x in options["scopes"].split(",") if x.strip()]
        if options["expires"] < 0:
            raise CommandError("--expires must be 0 (never) or a number of days")
        try:
            token = services.create_staff_token(
                name, scopes,
                timedelta(days=options["expires"]) if options["expires"] else None)
        except ValueError as exc:
            raise CommandError(f"--scopes: {exc}") from None
        self.stderr.write(
            f"Staff token {name!r} created. It is shown only now; "
            "send it as 'Authorization: Bearer <token>'."
        )
        self.stdout.write(token)
