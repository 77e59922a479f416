"""API tokens (stored hashed, shown once), idempotency records, Slack user mappings and
outgoing notification targets."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# "force" is break-glass (deploy or roll back through someone's lock): never implied, not even
# by "admin", and it needs the force_lock permission as well.
SCOPES = ("read", "deploy", "rollback", "lock", "admin", "force")
TOKEN_PREFIX = "ddt_"
IDEMPOTENCY_TTL = timedelta(hours=24)


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token acting as `user`, narrowed by `scopes` and optionally to some services.
    Only the SHA-256 of the secret is stored; `prefix` identifies it in lists and logs."""

    VIA_CHOICES = [("api", "api"), ("ci", "ci")]

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=16, editable=False, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text="any of: " + ", ".join(SCOPES))
    services = models.JSONField(
        default=list, blank=True, help_text="service names this token may touch; empty = all"
    )
    via = models.CharField(max_length=8, choices=VIA_CHOICES, default="api")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens",
        help_text="the principal the token acts as (permissions and the audit trail)",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    rate_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="requests per minute; empty = API_TOKEN_RATE default"
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, **fields: object) -> tuple[ApiToken, str]:
        """Create a token; returns it with the raw secret, which is never stored or shown again."""
        raw = new_secret()
        token = cls(**fields)
        token.set_secret(raw)
        token.save()
        return token, raw

    def set_secret(self, raw: str) -> None:
        self.prefix = raw[: len(TOKEN_PREFIX) + 6]
        self.token_hash = hash_token(raw)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def has_scope(self, scope: str) -> bool:
        # admin implies everything; every write scope implies read (a CI token with only
        # "deploy" can still poll the status URL of the release it started)
        if scope in self.scopes:
            return True
        if scope == "force":
            return False
        if "admin" in self.scopes:
            return True
        return scope == "read" and bool(set(self.scopes) & set(SCOPES))

    def allows_service(self, name: str) -> bool:
        return not self.services or name in self.services


class IdempotencyRecord(models.Model):
    """The first response to (principal, key). `status` is null while the first request runs;
    the unique constraint makes concurrent requests with the same key safe."""

    principal = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="idempotency_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"

    @property
    def stale(self) -> bool:
        return self.created_at < timezone.now() - IDEMPOTENCY_TTL


class SlackUserMapping(models.Model):
    """A Slack user acting as a dashboard user: set explicitly, or learned from a verified email."""

    team_id = models.CharField(max_length=32)
    slack_user_id = models.CharField(max_length=32)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="slack_mappings"
    )
    verified_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team_id", "slack_user_id"], name="slack_user_unique"),
        ]
        # Mapping lets a Slack user act as a dashboard user: a right of its own.
        permissions = [("map_slack_user", "Can map Slack users to dashboard users")]

    def __str__(self) -> str:
        return f"{self.team_id}/{self.slack_user_id} -> {self.user}"


class NotificationTarget(models.Model):
    """Where release state changes and lock changes are sent. Generic webhooks are signed:
    X-Dashboard-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>."""

    KIND_CHOICES = [("slack", "Slack incoming webhook"), ("webhook", "Generic webhook")]

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=KIND_CHOICES, default="webhook")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, blank=True, help_text="HMAC key (webhooks)")
    services = models.JSONField(default=list, blank=True, help_text="service names; empty = all")
    events = models.JSONField(
        default=list, blank=True,
        help_text="release states (e.g. succeeded, failed) and lock/unlock; empty = all",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def wants(self, service: str, event: str) -> bool:
        return (
            self.active
            and (not self.services or service in self.services)
            and (not self.events or event in self.events)
        )
