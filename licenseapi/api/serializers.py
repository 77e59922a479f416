"""Request and response shapes. Request serializers reject unknown fields by name: a typo in a
client (`fingerprnt`) must fail loudly, not silently activate without a fingerprint."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from licenseapi.keys import MAX_KEY_LENGTH, MalformedKey, parse_license_key
from licenseapi.models import License, LicenseChange

MAX_METADATA_BYTES = 4096
# What the published schema says, and exactly what is accepted. Patterns end in \Z (Python's
# "$" also matches before a final newline); drf-spectacular publishes \Z as "$".
NO_NUL = r"^[^\x00]*\Z"
SLUG = r"^[-a-zA-Z0-9_]+\Z"
# Keys get typed: case and surrounding whitespace are forgiven (keys.parse_license_key).
LICENSE_KEY = (r"^\s*[Ll][Ii][Cc]-[A-Za-z2-7]{8}-[A-Za-z2-7]{8}(?:-[A-Za-z2-7]{8}){3}\s*\Z")
FINGERPRINT = r"^[\x21-\x7e]+\Z"
RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                     r"([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII)


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string (no coercion: a number where a fingerprint belongs is a client bug worth
    reporting), checked untrimmed against the pattern the schema publishes."""

    def __init__(self, *, pattern: str = NO_NUL, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.validators.append(RegexValidator(pattern, f"must match {pattern}"))

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not "5", not 5.0, not true."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


@extend_schema_field(OpenApiTypes.DATETIME)
class Rfc3339DateTimeField(serializers.DateTimeField):
    """An RFC 3339 date-time with its offset (the schema's `date-time`), in UTC. Instants
    Python cannot hold in UTC are clamped to the first/last it can."""

    default_error_messages = {"invalid": "Use an RFC 3339 date-time, e.g. 2030-01-31T12:00:00Z."}

    def to_internal_value(self, value: Any) -> datetime:
        m = RFC3339.match(value) if isinstance(value, str) else None
        if m is None:
            self.fail("invalid")
        second = min(int(m[6]), 59)  # a leap second
        offset = "+00:00" if m[8] in "Zz" else m[8]
        try:
            local = datetime.fromisoformat(
                f"{m[1]}-{m[2]}-{m[3]}T{m[4]}:{m[5]}:{second:02d}{(m[7] or '')[:7]}{offset}")
        except ValueError:
            self.fail("invalid")
        try:
            return local.astimezone(UTC)
        except OverflowError:
            return (datetime.min if local.year == 1 else datetime.max).replace(tzinfo=UTC)


class KeyField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=MAX_KEY_LENGTH, pattern=LICENSE_KEY, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            parse_license_key(value)
        except MalformedKey as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class KeyRequest(StrictSerializer):
    key = KeyField(help_text="The license key, LIC-XXXXXXXX-XXXXXXXX-XXXXXXXX-XXXXXXXX-XXXXXXXX "
                   "(case and surrounding spaces are forgiven).")


class MachineRequest(KeyRequest):
    fingerprint = StrictCharField(
        pattern=FINGERPRINT,
        max_length=128,
        help_text="Stable machine id (printable ASCII, no spaces).",
    )


class ActivateRequest(MachineRequest):
    hostname = StrictCharField(max_length=255, required=False, allow_blank=True, default="")


class ValidateResponse(serializers.Serializer):
    valid = serializers.BooleanField()
    status = serializers.CharField()
    reason = serializers.CharField(
        allow_null=True, help_text="Why not valid: suspended, revoked, expired."
    )
    license_id = serializers.UUIDField()
    product = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    seats = serializers.IntegerField()
    seats_used = serializers.IntegerField()


class ActivationResponse(serializers.Serializer):
    license_id = serializers.UUIDField()
    fingerprint = serializers.CharField()
    hostname = serializers.CharField()
    activated_at = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    seats = serializers.IntegerField()
    seats_used = serializers.IntegerField()
    heartbeat_ttl_seconds = serializers.IntegerField()


class DeactivateResponse(serializers.Serializer):
    deactivated = serializers.BooleanField()
    fingerprint = serializers.CharField()


class ErrorResponse(serializers.Serializer):
    """Every error answer of the license API (application/json)."""

    error = serializers.CharField(help_text="a stable code, e.g. invalid_request, "
                                  "license_not_found, seats_exhausted, rate_limited")
    detail = serializers.CharField(help_text="what went wrong, for people")
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="field name -> messages, for invalid requests")
    seats = serializers.IntegerField(required=False, help_text="seats_exhausted: the seats")
    seats_used = serializers.IntegerField(required=False, help_text="seats_exhausted: in use")
    retry_after = serializers.IntegerField(required=False, help_text="rate limited: seconds")


METADATA_SCHEMA = {
    "type": "object",
    "maxProperties": 8,
    "propertyNames": {"maxLength": 40, "pattern": "^[^\\u0000]*$"},
    "additionalProperties": {"nullable": True, "anyOf": [
        {"type": "string", "maxLength": 200, "pattern": "^[^\\u0000]*$"},
        {"type": "number"}, {"type": "boolean"}]},
    "description": "up to 8 keys (40 characters) with a string (200), number, boolean or "
                   "null each, as Stripe keeps metadata; no NUL anywhere (PostgreSQL's jsonb "
                   "cannot store it)",
}


@extend_schema_field(METADATA_SCHEMA)
class MetadataField(serializers.DictField):
    """A flat map of scalars: what the schema says, checked here (jsonb refuses NUL, and a
    nested value would be unbounded)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = dict(super().to_internal_value(data))
        if len(value) > 8:
            raise serializers.ValidationError("at most 8 keys")
        for key, item in value.items():
            if len(key) > 40 or "\x00" in key:
                raise serializers.ValidationError(f"key {key[:40]!r}: at most 40 characters, "
                                                  "no NUL")
            if isinstance(item, str):
                if len(item) > 200 or "\x00" in item:
                    raise serializers.ValidationError(
                        f"{key}: a string of at most 200 characters, no NUL")
            elif item is not None and not isinstance(item, int | float | bool):
                raise serializers.ValidationError(
                    f"{key}: a string, number, boolean or null (no nested values)")
        if len(json.dumps(value, ensure_ascii=False)) > MAX_METADATA_BYTES:  # a backstop
            raise serializers.ValidationError(f"metadata is larger than {MAX_METADATA_BYTES}")
        return value


class LicenseCreateRequest(StrictSerializer):
    product = StrictCharField(pattern=SLUG, max_length=64,
                              help_text="a product's slug (an unknown one: 422)")
    customer_name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    customer_email = serializers.EmailField(required=False, allow_blank=True, default="")
    seats = StrictIntegerField(min_value=1, max_value=1_000_000, required=False)
    expires_at = Rfc3339DateTimeField(required=False, allow_null=True,
                                      help_text="when it lapses (not in the future: 422)")
    metadata = MetadataField(required=False, default=dict)


class StatusChangeRequest(StrictSerializer):
    reason = StrictCharField(max_length=500, required=False, allow_blank=True, default="")


class LicenseChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = LicenseChange
        fields = ["at", "actor", "action", "changes", "reason"]


class LicenseSerializer(serializers.ModelSerializer):
    product: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    key = serializers.CharField(
        source="masked_key",
        read_only=True,
        help_text="Masked: the full key is shown only at creation.",
    )
    seats_used = serializers.IntegerField(read_only=True)

    class Meta:
        model = License
        fields = [
            "id",
            "key",
            "key_prefix",
            "product",
            "customer_name",
            "customer_email",
            "seats",
            "seats_used",
            "expires_at",
            "status",
            "metadata",
            "created_at",
            "updated_at",
        ]


class LicensePageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = LicenseSerializer(many=True)


class LicenseCreatedSerializer(LicenseSerializer):
    key = serializers.CharField(
        read_only=True, help_text="The full key. Shown only in this response."
    )


class PublicKeyResponse(serializers.Serializer):
    algorithm = serializers.CharField()
    key_id = serializers.CharField()
    public_key = serializers.CharField(help_text="Base64 of the 32 raw Ed25519 public key bytes.")
    pem = serializers.CharField()
