"""Every change to license state happens here; admin, REST, Stripe and management commands
call these functions. Each runs in one transaction and writes its LicenseChange row in it, so
a failure leaves nothing half-written. Errors carry a stable `code`; the API maps them to HTTP.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from licenseapi import conf
from licenseapi.keys import (
    MalformedKey,
    generate_license_key,
    generate_staff_token,
    parse_license_key,
    secret_matches,
)
from licenseapi.models import (
    STAFF_SCOPES,
    Activation,
    License,
    LicenseChange,
    LicenseSnapshot,
    LicenseStatus,
    Product,
    StaffToken,
)

log = logging.getLogger(__name__)


class LicenseError(Exception):
    code = "license_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidKey(LicenseError):
    code = "invalid_key"


class LicenseNotFound(LicenseError):
    code = "license_not_found"


class LicenseNotUsable(LicenseError):
    code = "license_not_usable"

    def __init__(self, reason: str) -> None:
        super().__init__(f"license is {reason}")
        self.reason = reason


class SeatsExhausted(LicenseError):
    code = "seats_exhausted"

    def __init__(self, seats: int, used: int) -> None:
        super().__init__(f"all {seats} seats are in use ({used} live activations)")
        self.seats = seats
        self.used = used


class ActivationNotFound(LicenseError):
    code = "activation_not_found"


class InvalidTransition(LicenseError):
    code = "invalid_transition"


@dataclass(frozen=True)
class IssuedLicense:
    license: License
    key: str  # the only moment the full key exists; callers show it once


@dataclass(frozen=True)
class ValidationResult:
    license: LicenseSnapshot
    valid: bool
    reason: str | None


@dataclass(frozen=True)
class ActivationResult:
    activation: Activation
    created: bool
    seats_used: int


def _log(
    lic: License, actor: str, action: str, changes: dict[str, Any] | None = None, reason: str = ""
) -> None:
    LicenseChange.objects.create(
        license=lic, actor=actor[:200], action=action, changes=changes or {}, reason=reason[:500]
    )
    # The same fact for log search; the masked key only, never the secret.
    log.info("license %s %s by %s", lic.masked_key, action, actor)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Product):
        return value.slug
    return value


# --- issuing and editing -------------------------------------------------------------------------


def issue_license(
    *,
    product: Product,
    actor: str,
    customer_name: str = "",
    customer_email: str = "",
    seats: int | None = None,
    expires_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    stripe: dict[str, str | None] | None = None,
) -> IssuedLicense:
    """Create a license and return it with its key. Without an expiry, the product's default
    duration applies (none = perpetual)."""
    if expires_at is None and product.default_duration_days:
        expires_at = timezone.now() + timedelta(days=product.default_duration_days)
    stripe = stripe or {}
    for _attempt in range(5):
        key, parts = generate_license_key()
        try:
            with transaction.atomic():
                lic = License.objects.create(
                    key_prefix=parts.prefix,
                    key_hash=parts.secret_hash,
                    product=product,
                    customer_name=customer_name,
                    customer_email=customer_email,
                    seats=seats if seats is not None else product.default_seats,
                    expires_at=expires_at,
                    metadata=metadata or {},
                    stripe_checkout_session_id=stripe.get("checkout_session"),
                    stripe_payment_intent_id=stripe.get("payment_intent") or "",
                    stripe_subscription_id=stripe.get("subscription") or "",
                    stripe_customer_id=stripe.get("customer") or "",
                )
                _log(
                    lic,
                    actor,
                    LicenseChange.Action.CREATED,
                    {
                        "product": product.slug,
                        "seats": lic.seats,
                        "expires_at": _jsonable(lic.expires_at),
                        "customer_email": customer_email,
                    },
                )
                return IssuedLicense(lic, key)
        except IntegrityError:
            # A 40-bit prefix collision is rare but possible; anything else is a real error.
            if not License.objects.filter(key_prefix=parts.prefix).exists():
                raise
    raise RuntimeError("could not allocate a unique license key prefix")


EDITABLE_FIELDS = ("product", "customer_name", "customer_email", "seats", "expires_at", "metadata")


@transaction.atomic
def update_license(license_id: Any, changes: dict[str, Any], actor: str) -> License:
    """Change editable terms; records old and new value of each field that really changed."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    lic = (
        License.objects.select_for_update(of=("self",)).select_related("product").get(pk=license_id)
    )
    diff: dict[str, list[Any]] = {}
    for field, new in changes.items():
        old = getattr(lic, field)
        if old != new:
            diff[field] = [_jsonable(old), _jsonable(new)]
            setattr(lic, field, new)
    if diff:
        lic.save()
        _log(lic, actor, LicenseChange.Action.UPDATED, diff)
    return lic


_TRANSITIONS: dict[str, tuple[set[str], str]] = {
    # action: (statuses it may start from, resulting status)
    "suspend": ({LicenseStatus.ACTIVE}, LicenseStatus.SUSPENDED),
    "reinstate": ({LicenseStatus.SUSPENDED}, LicenseStatus.ACTIVE),
    "revoke": ({LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED}, LicenseStatus.REVOKED),
}
_ACTION_LOG = {"suspend": "suspended", "reinstate": "reinstated", "revoke": "revoked"}


@transaction.atomic
def change_status(license_id: Any, action: str, actor: str, reason: str = "") -> License:
    """suspend / reinstate / revoke. Asking for the status the license already has is a no-op
    (Stripe may send a refund twice); revoked is final."""
    sources, target = _TRANSITIONS[action]
    lic = (
        License.objects.select_for_update(of=("self",)).select_related("product").get(pk=license_id)
    )
    if lic.status == target:
        return lic
    if lic.status not in sources:
        raise InvalidTransition(f"cannot {action} a {lic.status} license")
    old = lic.status
    lic.status = target
    lic.save(update_fields=["status", "updated_at"])
    _log(lic, actor, _ACTION_LOG[action], {"status": [old, target]}, reason)
    return lic


def suspend(license_id: Any, actor: str, reason: str = "") -> License:
    return change_status(license_id, "suspend", actor, reason)


def reinstate(license_id: Any, actor: str, reason: str = "") -> License:
    return change_status(license_id, "reinstate", actor, reason)


def revoke(license_id: Any, actor: str, reason: str = "") -> License:
    return change_status(license_id, "revoke", actor, reason)


# --- client-facing: validate, activate, heartbeat, deactivate ------------------------------------


def _cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=conf.activation_ttl())


def find_by_key(key: object) -> License:
    """The license a key belongs to. Unknown and wrong keys look the same to the caller."""
    try:
        parts = parse_license_key(key)
    except MalformedKey as exc:
        raise InvalidKey(str(exc)) from None
    lic = License.objects.select_related("product").filter(key_prefix=parts.prefix).first()
    if lic is None or not secret_matches(parts.secret, lic.key_hash):
        raise LicenseNotFound("no license with this key")
    return lic


def validate(key: object) -> ValidationResult:
    try:
        parts = parse_license_key(key)
    except MalformedKey as exc:
        raise InvalidKey(str(exc)) from None
    now = timezone.now()
    snap = License.snapshot(parts.prefix, _cutoff(now))  # one query, seat count included
    if snap is None or not secret_matches(parts.secret, snap.key_hash):
        raise LicenseNotFound("no license with this key")
    reason = snap.invalid_reason(now)
    return ValidationResult(snap, reason is None, reason)


def _live_count(lic: License, now: datetime, exclude_fingerprint: str | None = None) -> int:
    qs = Activation.objects.filter(license=lic, last_seen__gte=_cutoff(now))
    if exclude_fingerprint is not None:
        qs = qs.exclude(fingerprint=exclude_fingerprint)
    return qs.count()


def _claim_seat(
    lic_id: Any, fingerprint: str, hostname: str | None, *, create: bool
) -> ActivationResult:
    # The row lock on the license serializes every seat decision for it: on PostgreSQL,
    # concurrent activations queue here, so the count below cannot be stale.
    lic = License.objects.select_for_update(of=("self",)).get(pk=lic_id)
    now = timezone.now()
    reason = lic.invalid_reason(now)
    if reason is not None:
        raise LicenseNotUsable(reason)
    existing = Activation.objects.filter(license=lic, fingerprint=fingerprint).first()
    if existing is None and not create:
        raise ActivationNotFound("this machine is not activated")
    if existing is None or not existing.is_live(now, conf.activation_ttl()):
        # A new machine, or one whose seat lapsed: it needs a free seat.
        others = _live_count(lic, now, exclude_fingerprint=fingerprint)
        if others >= lic.seats:
            raise SeatsExhausted(lic.seats, others)
    if existing is None:
        activation = Activation.objects.create(
            license=lic, fingerprint=fingerprint, hostname=hostname or "", last_seen=now
        )
        _log(
            lic,
            "client",
            LicenseChange.Action.ACTIVATED,
            {"fingerprint": fingerprint, "hostname": hostname or ""},
        )
        return ActivationResult(activation, True, _live_count(lic, now))
    existing.last_seen = now
    fields = ["last_seen"]
    if hostname is not None and hostname != existing.hostname:
        existing.hostname = hostname
        fields.append("hostname")
    existing.save(update_fields=fields)
    return ActivationResult(existing, False, _live_count(lic, now))


@transaction.atomic
def activate(key: object, fingerprint: str, hostname: str = "") -> ActivationResult:
    """Take a seat for this machine. The same fingerprint again is the same activation (its
    last_seen is refreshed); a full license raises SeatsExhausted."""
    lic = find_by_key(key)
    return _claim_seat(lic.pk, fingerprint, hostname, create=True)


@transaction.atomic
def heartbeat(key: object, fingerprint: str) -> ActivationResult:
    """Refresh last_seen. A machine silent past the TTL lost its seat and gets it back only if
    one is free."""
    lic = find_by_key(key)
    return _claim_seat(lic.pk, fingerprint, None, create=False)


@transaction.atomic
def deactivate(key: object, fingerprint: str) -> None:
    lic = find_by_key(key)
    License.objects.select_for_update(of=("self",)).filter(pk=lic.pk).first()
    deleted, _ = Activation.objects.filter(license=lic, fingerprint=fingerprint).delete()
    if not deleted:
        raise ActivationNotFound("this machine is not activated")
    _log(lic, "client", LicenseChange.Action.DEACTIVATED, {"fingerprint": fingerprint})


def seats_used(lic: License) -> int:
    return _live_count(lic, timezone.now())


@transaction.atomic
def rotate_key(license_id: Any, actor: str) -> tuple[License, str]:
    """Replace a lost or leaked key; activations stay. Returns the new key (shown once)."""
    lic = (
        License.objects.select_for_update(of=("self",)).select_related("product").get(pk=license_id)
    )
    key, parts = generate_license_key()
    old_prefix = lic.key_prefix
    lic.key_prefix, lic.key_hash = parts.prefix, parts.secret_hash
    lic.save(update_fields=["key_prefix", "key_hash", "updated_at"])
    _log(
        lic,
        actor,
        LicenseChange.Action.UPDATED,
        {"key_prefix": [old_prefix, parts.prefix]},
        "key rotated",
    )
    return lic, key


def create_staff_token(name: str, scopes: tuple[str, ...] | list[str] = ("read",),
                       expires_in: timedelta | None = timedelta(days=90)) -> str:
    """Create a staff API token; returns it (the only time it exists in clear)."""
    unknown = sorted(set(scopes) - set(STAFF_SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(STAFF_SCOPES)}")
    token, parts = generate_staff_token()
    StaffToken.objects.create(
        name=name, prefix=parts.prefix, token_hash=parts.secret_hash,
        scopes=[s for s in STAFF_SCOPES if s in scopes],
        expires_at=timezone.now() + expires_in if expires_in else None)
    return token


def prune_stale_activations(older_than_seconds: int) -> int:
    """Delete activations silent for longer than max(TTL, older_than): they hold no seat
    already, this only keeps the table small. Returns how many were deleted."""
    horizon = max(conf.activation_ttl(), older_than_seconds)
    deleted, _ = Activation.objects.filter(
        last_seen__lt=timezone.now() - timedelta(seconds=horizon)
    ).delete()
    return deleted


@transaction.atomic
def remove_activations(activation_ids: list[int], actor: str) -> int:
    """Staff freeing seats (admin). Logged on each license like a client's deactivate."""
    removed = 0
    for activation in Activation.objects.select_related("license").filter(pk__in=activation_ids):
        License.objects.select_for_update(of=("self",)).filter(pk=activation.license_id).first()
        activation.delete()
        _log(
            activation.license,
            actor,
            LicenseChange.Action.DEACTIVATED,
            {"fingerprint": activation.fingerprint},
        )
        removed += 1
    return removed
