"""License API data. The database enforces the invariants (constraints below); every state
change goes through services.py, which also writes the LicenseChange log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, models
from django.db.models import Count, Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.dateparse import parse_datetime


class Product(models.Model):
    slug = models.SlugField(
        max_length=64, unique=True, help_text="Used in API calls and Stripe metadata."
    )
    name = models.CharField(max_length=200)
    default_seats = models.PositiveIntegerField(default=1)
    default_duration_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Licenses issued without an expiry get this many days; empty = perpetual.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_seats__gt=0), name="licenseapi_product_seats_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class LicenseStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    REVOKED = "revoked", "Revoked"


class LicenseQuerySet(models.QuerySet["License"]):
    def with_seats_used(self, now: datetime, ttl_seconds: int) -> LicenseQuerySet:
        """Annotate `seats_used`: activations seen within the TTL. Stale ones hold no seat."""
        cutoff = now - timedelta(seconds=ttl_seconds)
        return self.annotate(
            seats_used=Count("activations", filter=Q(activations__last_seen__gte=cutoff))
        )


@dataclass(frozen=True)
class LicenseSnapshot:
    """What validate needs, read in one hand-written query (see License.snapshot)."""

    id: uuid.UUID
    key_hash: str
    status: str
    expires_at: datetime | None
    seats: int
    product: str
    seats_used: int

    def invalid_reason(self, now: datetime | None = None) -> str | None:
        if self.status != LicenseStatus.ACTIVE:
            return self.status
        if self.expires_at is not None and self.expires_at <= (now or timezone.now()):
            return "expired"
        return None


def _aware(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_datetime(str(value))  # SQLite hands back text
    if parsed is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class License(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key_prefix = models.CharField(max_length=8, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="licenses")
    customer_name = models.CharField(max_length=200, blank=True)
    customer_email = models.EmailField(blank=True)
    seats = models.PositiveIntegerField(default=1)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty = perpetual.")
    status = models.CharField(
        max_length=16, choices=LicenseStatus.choices, default=LicenseStatus.ACTIVE
    )
    metadata = models.JSONField(default=dict, blank=True)
    # Stripe references, so refunds and cancellations find the license they concern.
    # NULL, not "": unique must allow many licenses that did not come from Stripe.
    stripe_checkout_session_id = models.CharField(
        max_length=255, null=True, blank=True, unique=True
    )
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LicenseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(seats__gt=0), name="licenseapi_license_seats_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in LicenseStatus]),
                name="licenseapi_license_status_valid",
            ),
            models.CheckConstraint(
                condition=Exact(Length("key_prefix"), 8), name="licenseapi_license_prefix_length"
            ),
            models.CheckConstraint(
                condition=Exact(Length("key_hash"), 64), name="licenseapi_license_hash_length"
            ),
        ]

    def __str__(self) -> str:
        return f"LIC-{self.key_prefix}-… ({self.product_id and self.product.slug}, {self.status})"

    @classmethod
    def snapshot(cls, key_prefix: str, live_since: datetime) -> LicenseSnapshot | None:
        """The license with this prefix and its live seat count, in one query.

        Raw SQL on purpose: validate is the hottest endpoint, and compiling the equivalent ORM
        query (join, correlated count) costs ~25x the query itself (see the benchmark)."""
        qn = connection.ops.quote_name
        lic, prod, act = cls._meta.db_table, Product._meta.db_table, Activation._meta.db_table
        # Only our own table names are interpolated; values go as parameters.
        sql = (
            f"SELECT l.id, l.key_hash, l.status, l.expires_at, l.seats, p.slug, "  # noqa: S608
            f"(SELECT COUNT(*) FROM {qn(act)} a WHERE a.license_id = l.id AND a.last_seen >= %s) "
            f"FROM {qn(lic)} l JOIN {qn(prod)} p ON p.id = l.product_id WHERE l.key_prefix = %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [connection.ops.adapt_datetimefield_value(live_since), key_prefix])
            row = cursor.fetchone()
        if row is None:
            return None
        return LicenseSnapshot(
            id=row[0] if isinstance(row[0], uuid.UUID) else uuid.UUID(str(row[0])),
            key_hash=row[1],
            status=row[2],
            expires_at=_aware(row[3]),
            seats=int(row[4]),
            product=row[5],
            seats_used=int(row[6]),
        )

    @property
    def masked_key(self) -> str:
        return f"LIC-{self.key_prefix}-…"

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def invalid_reason(self, now: datetime | None = None) -> str | None:
        """None when the license may be used now, else why not."""
        if self.status != LicenseStatus.ACTIVE:
            return str(self.status)
        if self.is_expired(now):
            return "expired"
        return None


class Activation(models.Model):
    license = models.ForeignKey(License, on_delete=models.CASCADE, related_name="activations")
    fingerprint = models.CharField(max_length=128)
    hostname = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["license", "fingerprint"], name="licenseapi_activation_unique_machine"
            ),
            models.CheckConstraint(
                condition=~Q(fingerprint=""), name="licenseapi_activation_fingerprint_set"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint} on {self.license.masked_key}"

    def is_live(self, now: datetime, ttl_seconds: int) -> bool:
        return self.last_seen >= now - timedelta(seconds=ttl_seconds)


class LicenseChange(models.Model):
    """Append-only: who changed what, when. Never holds a key or token."""

    class Action(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"
        SUSPENDED = "suspended"
        REINSTATED = "reinstated"
        REVOKED = "revoked"
        ACTIVATED = "activated"
        DEACTIVATED = "deactivated"

    license = models.ForeignKey(License, on_delete=models.CASCADE, related_name="changes")
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=16, choices=Action.choices)
    changes = models.JSONField(default=dict, blank=True, help_text="field: [old, new], or details.")
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    action__in=[
                        "created",
                        "updated",
                        "suspended",
                        "reinstated",
                        "revoked",
                        "activated",
                        "deactivated",
                    ]
                ),
                name="licenseapi_change_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor} at {self.at:%Y-%m-%d %H:%M}"


STAFF_SCOPES = ("read", "issue", "manage")  # list/see; issue licenses; suspend/reinstate/revoke


def _read_only() -> list[str]:
    return ["read"]


class StaffToken(models.Model):
    """Bearer tokens for the staff endpoints (`manage.py create_license_staff_token NAME`).

    A token may do what its scopes say until it expires; tokens from before scopes existed
    are read-only (secure by default: re-issue one with the scopes it needs)."""

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=_read_only)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProcessedStripeEvent(models.Model):
    """One row per Stripe event handled; the unique id makes webhook replays no-ops."""

    event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=100)
    license = models.ForeignKey(
        License, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-processed_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
