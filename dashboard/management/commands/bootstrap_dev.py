"""`make run`'s set-up: the admin user (login printed) and the demo Service on the sandbox."""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin user (printing its login) and seed the demo Service."

    def handle(self, *args: object, **options: object) -> None:
        password = os.environ.get("DASHBOARD_ADMIN_PASSWORD") or self._stored_password()
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if created or not user.check_password(password):
            user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save()
        self.stdout.write(f"Admin login: admin / {password}  (http://127.0.0.1:8000/admin/)")
        from dashboard.management.demo import seed_demo_service

        service = seed_demo_service()
        self.stdout.write(f"Demo service: {service.name} (sandbox cluster)")

    def _stored_password(self) -> str:
        # Generated once and kept under var/ (0600) so the printed login stays valid.
        path = settings.VAR_DIR / "admin_password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(12))
            path.chmod(0o600)
        return path.read_text().strip()
