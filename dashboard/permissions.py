"""Who may do what to a Service: Django model permissions, optionally narrowed per Service.

A Service with `allowed_groups` set is restricted to members of those groups (in addition to
the model permission); an empty set means everyone holding the permission. Superusers can do
everything. Entry points (admin, API, Slack, CLI) ask these; services.py enforces them.
"""

from __future__ import annotations

from typing import Any

from dashboard.models import Service


def _allowed(user: Any, perm: str, service: Service) -> bool:
    if user is None or not getattr(user, "is_active", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    if not user.has_perm(f"dashboard.{perm}"):
        return False
    group_ids = [g.pk for g in service.allowed_groups.all()]  # uses a prefetch when present
    if not group_ids:
        return True
    return bool(user.groups.filter(pk__in=group_ids).exists())


def can_view(user: Any, service: Service) -> bool:
    return _allowed(user, "view_service", service)


def can_deploy(user: Any, service: Service) -> bool:
    return _allowed(user, "deploy_service", service)


def can_rollback(user: Any, service: Service) -> bool:
    return _allowed(user, "rollback_service", service)


def can_lock(user: Any, service: Service) -> bool:
    return _allowed(user, "lock_service", service)


def can_force(user: Any, service: Service) -> bool:
    return _allowed(user, "force_lock", service)


def can_pause(user: Any, service: Service) -> bool:
    return _allowed(user, "pause_service", service)
