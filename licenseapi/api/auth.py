"""Staff authentication: `Authorization: Bearer lst_...` (a StaffToken) or a Django staff
session (the admin's users)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from licenseapi.keys import MalformedKey, parse_staff_token, secret_matches
from licenseapi.models import StaffToken


@dataclass
class StaffPrincipal:
    """What request.user is for a token: enough for DRF and for the change log's `actor`."""

    token: StaffToken
    is_authenticated: bool = True
    is_staff: bool = True
    is_active: bool = True

    @property
    def actor(self) -> str:
        return f"staff-token:{self.token.name}"


class StaffTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme != self.keyword:
            return None
        try:
            parts = parse_staff_token(value)
        except MalformedKey:
            raise exceptions.AuthenticationFailed("invalid staff token") from None
        token = StaffToken.objects.filter(prefix=parts.prefix, revoked_at__isnull=True).first()
        if token is None or not secret_matches(parts.secret, token.token_hash):
            raise exceptions.AuthenticationFailed("invalid staff token")
        if token.expires_at is not None and token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("staff token expired")
        StaffToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return StaffPrincipal(token), token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword  # makes DRF answer 401 (with WWW-Authenticate), not 403


class IsLicenseStaff(permissions.BasePermission):
    """A staff token with the scope the view names for the method, or a staff session whose
    user holds the matching model permission (`view.access[method] = (scope, permission)`)."""

    message = "staff token or staff session required"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and getattr(user, "is_staff", False)):
            return False
        scope, perm = getattr(view, "access", {}).get(request.method, ("manage", "change_license"))
        if isinstance(user, StaffPrincipal):
            if scope not in (user.token.scopes or []):
                self.message = f"this staff token lacks the {scope!r} scope"
                return False
            return True
        if not user.has_perm(f"licenseapi.{perm}"):
            self.message = f"you need the licenseapi.{perm} permission"
            return False
        return True


def actor_of(request: Request) -> str:
    user = request.user
    if isinstance(user, StaffPrincipal):
        return user.actor
    return f"user:{user.get_username()}" if user is not None else "anonymous"


class StaffTokenScheme(OpenApiAuthenticationExtension):
    """Documents the staff token in the OpenAPI schema."""

    target_class = "licenseapi.api.auth.StaffTokenAuthentication"
    name = "staffToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `manage.py create_license_staff_token NAME`.",
        }
