"""Who may create, change and delete API tokens, Slack user mappings and notification targets;
every such change is checked here and written to the audit trail, whether it comes from the
admin, the CLI or elsewhere (the models live in this app, so their rules do too).

Tokens: a token acts as a user with some scopes. Anyone allowed to add tokens may make them for
themselves; only a superuser may make one that acts as someone else. A token's scopes never
exceed the creator's own permissions (each scope needs the model permissions in
SCOPE_PERMISSIONS). Slack mappings let a Slack user act as a dashboard user, so they need the
dedicated `map_slack_user` permission, and only a superuser may map someone to a superuser.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from dashboard import audit
from dashboard.api.models import SCOPES, ApiToken, NotificationTarget, SlackUserMapping
from dashboard.errors import InvalidRequest, NotAllowed

# scope -> the dashboard model permissions it stands for (and that a creator must hold)
SCOPE_PERMISSIONS = {
    "read": ["view_service"],
    "deploy": ["view_service", "deploy_service", "pause_service"],
    "rollback": ["view_service", "rollback_service"],
    "lock": ["view_service", "lock_service"],
    "admin": ["view_service", "deploy_service", "pause_service", "rollback_service",
              "lock_service"],
    "force": ["view_service", "force_lock"],
}
SYSTEM = None  # the actor of CLI calls: whoever has a shell on the deployment


def _name(actor: Any, via: str = "cli") -> str:
    return str(actor.get_username()) if actor is not None else via


def _need(actor: Any, perm: str, what: str) -> None:
    if actor is SYSTEM:
        return
    if not (getattr(actor, "is_active", False) and actor.has_perm(perm)):
        raise NotAllowed(f"{_name(actor)} may not {what}")


def check_token_grant(actor: Any, user: Any, scopes: list[str]) -> dict[str, str]:
    """Problems with `actor` making a token that acts as `user` with `scopes`, by field."""
    problems: dict[str, str] = {}
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        problems["scopes"] = f"choose some of {', '.join(SCOPES)}"
    if actor is SYSTEM or actor.is_superuser:
        return problems
    if user is None or user.pk != actor.pk:
        problems["user"] = "only a superuser may create a token that acts as another user"
    beyond = [s for s in scopes if s in SCOPE_PERMISSIONS and not all(
        actor.has_perm(f"dashboard.{p}") for p in SCOPE_PERMISSIONS[s])]
    if beyond:
        problems["scopes"] = f"beyond your own permissions: {', '.join(beyond)}"
    return problems


def _token_payload(token: ApiToken) -> dict[str, Any]:
    return {"name": token.name, "prefix": token.prefix, "acting_as": token.user.get_username(),
            "scopes": list(token.scopes), "services": list(token.services),
            "expires_at": token.expires_at.isoformat() if token.expires_at else None}


def _grant_or_refuse(actor: Any, user: Any, scopes: list[str]) -> None:
    problems = check_token_grant(actor, user, scopes)
    if problems:
        raise NotAllowed("; ".join(f"{k}: {v}" for k, v in problems.items()))


def issue_token(*, actor: Any, via: str, name: str, user: Any, scopes: list[str],
                services: list[str] | None = None, token_via: str = "api",  # noqa: S107
                **fields: Any) -> tuple[ApiToken, str]:
    """Create a token; returns it with its secret (shown once, never stored). `via` is where
    the request came from (audit); `token_via` what the token's own requests count as."""
    _need(actor, "dashboard_api.add_apitoken", "create API tokens")
    _grant_or_refuse(actor, user, scopes)
    with transaction.atomic():
        token, raw = ApiToken.issue(name=name, user=user, scopes=scopes, via=token_via,
                                    services=services or [], created_by=actor, **fields)
        audit.append(actor=_name(actor, via), via=via, action="token.create",
                     payload=_token_payload(token))
    return token, raw


def change_token(*, actor: Any, via: str, token: ApiToken, **changes: Any) -> ApiToken:
    _need(actor, "dashboard_api.change_apitoken", "change API tokens")
    if actor is not SYSTEM and not actor.is_superuser and token.user_id != actor.pk:
        raise NotAllowed(f"{_name(actor)} may change only their own tokens")
    allowed = {"name", "user", "scopes", "services", "token_via", "expires_at", "rate_limit"}
    if set(changes) - allowed:
        raise InvalidRequest(sorted(set(changes) - allowed)[0], "cannot be changed")
    _grant_or_refuse(actor, changes.get("user", token.user), changes.get("scopes", token.scopes))
    with transaction.atomic():
        for field, value in changes.items():
            setattr(token, "via" if field == "token_via" else field, value)
        token.save()
        audit.append(actor=_name(actor, via), via=via, action="token.change",
                     payload=_token_payload(token))
    return token


def revoke_tokens(*, actor: Any, via: str, tokens: Any) -> int:
    _need(actor, "dashboard_api.change_apitoken", "revoke API tokens")
    done = 0
    with transaction.atomic():
        for token in tokens.filter(revoked_at__isnull=True).select_related("user"):
            if actor is not SYSTEM and not actor.is_superuser and token.user_id != actor.pk:
                raise NotAllowed(f"{_name(actor)} may revoke only their own tokens")
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.append(actor=_name(actor, via), via=via, action="token.revoke",
                         payload=_token_payload(token))
            done += 1
    return done


def delete_token(*, actor: Any, via: str, token: ApiToken) -> None:
    _need(actor, "dashboard_api.delete_apitoken", "delete API tokens")
    if actor is not SYSTEM and not actor.is_superuser and token.user_id != actor.pk:
        raise NotAllowed(f"{_name(actor)} may delete only their own tokens")
    with transaction.atomic():
        payload = _token_payload(token)
        token.delete()
        audit.append(actor=_name(actor, via), via=via, action="token.delete", payload=payload)


# --- Slack user mappings -------------------------------------------------------------------

def check_mapping(actor: Any, user: Any) -> str:
    if actor is SYSTEM:
        return ""
    if not (actor.is_active and actor.has_perm("dashboard_api.map_slack_user")):
        return "mapping Slack users needs the 'map Slack users' permission"
    if user is not None and user.is_superuser and not actor.is_superuser:
        return "only a superuser may map a Slack user to a superuser"
    return ""


def save_mapping(*, actor: Any, via: str, mapping: SlackUserMapping) -> SlackUserMapping:
    problem = check_mapping(actor, mapping.user)
    if problem:
        raise NotAllowed(problem)
    action = "slack_mapping.change" if mapping.pk else "slack_mapping.create"
    with transaction.atomic():
        mapping.save()
        audit.append(actor=_name(actor, via), via=via, action=action, payload={
            "team_id": mapping.team_id, "slack_user_id": mapping.slack_user_id,
            "acting_as": mapping.user.get_username()})
    return mapping


def delete_mapping(*, actor: Any, via: str, mapping: SlackUserMapping) -> None:
    problem = check_mapping(actor, None)
    if problem:
        raise NotAllowed(problem)
    with transaction.atomic():
        payload = {"team_id": mapping.team_id, "slack_user_id": mapping.slack_user_id,
                   "acting_as": mapping.user.get_username()}
        mapping.delete()
        audit.append(actor=_name(actor, via), via=via, action="slack_mapping.delete",
                     payload=payload)


# --- notification targets ------------------------------------------------------------------

def _target_payload(target: NotificationTarget) -> dict[str, Any]:
    # The URL itself can be a credential (Slack incoming webhooks): only its host is recorded.
    return {"name": target.name, "kind": target.kind, "host": urlsplit(target.url).hostname,
            "services": list(target.services), "events": list(target.events),
            "active": target.active}


def save_target(*, actor: Any, via: str, target: NotificationTarget) -> NotificationTarget:
    adding = target.pk is None
    _need(actor, f"dashboard_api.{'add' if adding else 'change'}_notificationtarget",
          "add notification targets" if adding else "change notification targets")
    with transaction.atomic():
        target.save()
        audit.append(actor=_name(actor, via), via=via,
                     action="notification_target." + ("create" if adding else "change"),
                     payload=_target_payload(target))
    return target


def delete_target(*, actor: Any, via: str, target: NotificationTarget) -> None:
    _need(actor, "dashboard_api.delete_notificationtarget", "delete notification targets")
    with transaction.atomic():
        payload = _target_payload(target)
        target.delete()
        audit.append(actor=_name(actor, via), via=via, action="notification_target.delete",
                     payload=payload)
