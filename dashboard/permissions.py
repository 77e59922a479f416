"""Who may do what to a Service: Django model permissions, optionally narrowed per Service.

A Service with `allowed_groups` set is restricted to members of those groups (in addition to
the model permission); an empty set means everyone holding the permission. Superusers can do
everything. Entry points (admin, API, Slack, CLI) ask these; services.py enforces them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from dashboard.models import Service


def _allowed(user: Any, perm: str, service: Service) -> bool:
    if user is None or not getattr(user, "is_active", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    if not user.has_perm(f"dashboard.{perm}"):
        return False
    group_ids = allowed_group_ids(service)
    if not group_ids:
        return True
    return bool(user.groups.filter(pk__in=group_ids).exists())


def allowed_group_ids(service: Service) -> list[int]:
    """The Service's group restriction, read once per Service object (a request asks several
    checks of the same object); a prefetch of allowed_groups is used when present."""
    cached: list[int] | None = getattr(service, "_allowed_group_ids", None)
    if cached is None:
        if "allowed_groups" in getattr(service, "_prefetched_objects_cache", {}):
            cached = [g.pk for g in service.allowed_groups.all()]
        else:
            cached = list(service.allowed_groups.values_list("pk", flat=True))
        service._allowed_group_ids = cached  # type: ignore[attr-defined]
    return cached


@receiver(m2m_changed, sender=Service.allowed_groups.through,
          dispatch_uid="dashboard.permissions.allowed_groups_changed")
def _forget_allowed_groups(instance: Any, **kwargs: Any) -> None:
    if isinstance(instance, Service):
        instance.__dict__.pop("_allowed_group_ids", None)


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


def needs_second_factor(user: Any) -> bool:
    """Whether `user` must sign in to the admin with a TOTP code.

    Today: whoever may deploy (the deploy_service permission, superusers included) when
    settings.OTP_REQUIRED_FOR_DEPLOYERS is on. This is the one place the rule lives: once
    environments exist, a deploy right on an environment that needs approvals belongs here.
    """
    if not getattr(settings, "OTP_REQUIRED_FOR_DEPLOYERS", False):
        return False
    return bool(getattr(user, "is_active", False) and user.has_perm("dashboard.deploy_service"))


def may(user: Any, perm: str, service: Service) -> bool:
    """`dashboard.<perm>` on this Service (its group restriction included): for model
    permissions that have no can_* of their own (change_service, delete_service)."""
    return _allowed(user, perm, service)
