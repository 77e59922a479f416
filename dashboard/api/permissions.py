"""Token scopes on top of dashboard.permissions: a request may act on a service only if its
token has the scope, the token is not limited to other services, and the user may do it."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from dashboard import permissions as perms
from dashboard.api.models import ApiToken

# scope -> the dashboard.permissions check it narrows
ACTION_CHECKS = {
    "read": "can_view",
    "deploy": "can_deploy",
    "rollback": "can_rollback",
    "lock": "can_lock",
    "pause": "can_pause",
}
# pause/resume are part of deploying (kubectl rollout pause/resume), so the deploy scope
ACTION_SCOPES = {"read": "read", "deploy": "deploy", "rollback": "rollback", "lock": "lock",
                 "pause": "deploy"}


def token_of(request: Request) -> ApiToken | None:
    auth = request.auth
    return auth if isinstance(auth, ApiToken) else None


def has_scope(request: Request, scope: str) -> bool:
    token = token_of(request)
    return token is None or token.has_scope(scope)  # staff sessions: the user's perms decide


class ScopePermission(permissions.BasePermission):
    """Views set `required_scope` (or `scopes` per method name) ."""

    message = "This token lacks the scope for this operation."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.user is None or not request.user.is_authenticated:
            return False
        scope = str(getattr(view, "scope_map", {}).get(request.method)
                    or getattr(view, "required_scope", "read"))
        scope = ACTION_SCOPES.get(scope, scope)
        if not has_scope(request, scope):
            self.message = f"This token lacks the '{scope}' scope."
            return False
        return True


def check_service(request: Request, service: Any, action: str) -> None:
    """Raise 403 unless this request may perform `action` on `service`."""
    scope = ACTION_SCOPES[action]
    token = token_of(request)
    if token is not None:
        if not token.has_scope(scope):
            raise exceptions.PermissionDenied(f"This token lacks the '{scope}' scope.")
        if not token.allows_service(service.name):
            raise exceptions.PermissionDenied(
                f"This token is not allowed to act on service '{service.name}'."
            )
    check = getattr(perms, ACTION_CHECKS[action])
    if not check(request.user, service):
        raise exceptions.PermissionDenied(
            f"User '{request.user}' may not {action} service '{service.name}'."
        )


def visible_service_names(request: Request) -> list[str] | None:
    """The token's service restriction (None = unrestricted)."""
    token = token_of(request)
    return list(token.services) if token is not None and token.services else None
