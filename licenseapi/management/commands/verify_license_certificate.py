"""`manage.py verify_license_certificate FILE [--public-key FILE]`: check a certificate
offline. Exit 0 and print the terms when valid; exit non-zero with the reason otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from licenseapi import certificates


class Command(BaseCommand):
    help = "Verify an offline license certificate (signature, expiry, status)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The certificate JSON file ('-' for stdin).")
        parser.add_argument(
            "--public-key",
            dest="public_key",
            help="PEM or base64 public key file. Default: this server's signing key.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["file"] == "-":
                import sys

                text = sys.stdin.read()
            else:
                text = Path(options["file"]).read_text()
        except OSError as exc:
            raise CommandError(f"cannot read certificate: {exc.strerror}") from None
        if options["public_key"]:
            try:
                public: Any = Path(options["public_key"]).read_text()
            except OSError as exc:
                raise CommandError(f"cannot read public key: {exc.strerror}") from None
        else:
            try:
                public = certificates.signing_key().public_key()
            except (certificates.SigningKeyUnavailable, ValueError) as exc:
                raise CommandError(f"no public key: pass --public-key ({exc})") from None
        try:
            terms = certificates.verify_certificate(text, public)
        except certificates.CertificateError as exc:
            raise CommandError(f"certificate INVALID: {exc}") from None
        self.stdout.write("certificate valid")
        self.stdout.write(json.dumps(terms, indent=2, sort_keys=True))
