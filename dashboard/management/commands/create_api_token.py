"""manage.py create_api_token NAME --scopes read,deploy [--service S ...] [--expires DAYS]
[--user USERNAME] [--via ci]: print a new API token once (the last word of the last line).

Without --user the token acts as a dedicated service user `api:<NAME>` holding exactly the
model permissions its scopes need, so the audit trail names the token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from dashboard.api import access
from dashboard.api.access import SCOPE_PERMISSIONS
from dashboard.api.models import SCOPES, ApiToken


class Command(BaseCommand):
    help = "Create an API token and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--scopes", default="read", help=f"comma-separated: {SCOPES}")
        parser.add_argument("--service", action="append", default=[],
                            help="limit the token to this service (repeatable)")
        parser.add_argument("--expires", type=int, default=None, metavar="DAYS")
        parser.add_argument("--user", default=None, help="act as this existing user")
        parser.add_argument("--via", choices=["api", "ci"], default="api")
        parser.add_argument("--rate-limit", type=int, default=None, help="requests per minute")
        parser.add_argument("--replace", action="store_true",
                            help="revoke-and-replace an existing token with this name")

    def handle(self, *args: Any, **opts: Any) -> None:
        scopes = [s.strip() for s in opts["scopes"].split(",") if s.strip()]
        unknown = sorted(set(scopes) - set(SCOPES))
        if not scopes or unknown:
            raise CommandError(f"--scopes must be some of {', '.join(SCOPES)} (got {unknown})")
        if opts["expires"] is not None and opts["expires"] <= 0:
            raise CommandError("--expires must be a positive number of days")
        name = opts["name"]
        User = get_user_model()
        with transaction.atomic():
            existing = ApiToken.objects.filter(name=name).first()
            if existing is not None:
                if not opts["replace"]:
                    # Re-running a bootstrap must give a usable token: rotate under the name.
                    self.stderr.write(f"token '{name}' exists: replacing it")
                access.delete_token(actor=access.SYSTEM, via="cli", token=existing)
            if opts["user"]:
                user = User.objects.filter(username=opts["user"]).first()
                if user is None:
                    raise CommandError(f"no user '{opts['user']}'")
            else:
                user, _ = User.objects.get_or_create(username=f"api:{name}"[:150])
                user.set_unusable_password()
                user.save()
                codenames = {c for s in scopes for c in SCOPE_PERMISSIONS[s]}
                user.user_permissions.set(Permission.objects.filter(
                    content_type__app_label="dashboard", codename__in=codenames))
            expires = (timezone.now() + timedelta(days=opts["expires"])
                       if opts["expires"] else None)
            token, raw = access.issue_token(
                actor=access.SYSTEM, via="cli", name=name, scopes=scopes,
                services=opts["service"], user=user, expires_at=expires,
                token_via=opts["via"], rate_limit=opts["rate_limit"])
        limits = f" services={','.join(token.services)}" if token.services else ""
        until = f" expires={expires:%Y-%m-%d}" if expires else ""
        self.stdout.write(f"Created API token '{name}' acting as {user.get_username()} "
                          f"scopes={','.join(scopes)}{limits}{until}. It is shown only once:")
        self.stdout.write(f"token: {raw}")
