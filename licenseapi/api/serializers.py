"""Request and response shapes. Request serializers reject unknown fields by name: a typo in a
client (`fingerprnt`) must fail loudly, not silently activate without a fingerprint."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from licenseapi.keys import MAX_KEY_LENGTH, MalformedKey, parse_license_key
from licenseapi.models import License, LicenseChange, Product

MAX_METADATA_BYTES = 4096


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class KeyField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=MAX_KEY_LENGTH, trim_whitespace=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            parse_license_key(value)
        except MalformedKey as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class KeyRequest(StrictSerializer):
    key = KeyField(help_text="The license key, LIC-XXXXXXXX-XXXXXXXX-XXXXXXXX-XXXXXXXX-XXXXXXXX.")


class StringRegexField(serializers.RegexField):
    """No coercion: a number where a fingerprint belongs is a client bug worth reporting."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class MachineRequest(KeyRequest):
    fingerprint = StringRegexField(
        r"^[\x21-\x7e]+$",
        max_length=128,
        help_text="Stable machine id (printable ASCII, no spaces).",
    )


class ActivateRequest(MachineRequest):
    hostname = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


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


class ErrorResponse(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(required=False)  # type: ignore[assignment]


class LicenseCreateRequest(StrictSerializer):
    product = serializers.SlugRelatedField(slug_field="slug", queryset=Product.objects.all())
    customer_name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    customer_email = serializers.EmailField(required=False, allow_blank=True, default="")
    seats = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    metadata = serializers.DictField(required=False, default=dict)

    def validate_expires_at(self, value: datetime | None) -> datetime | None:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("must be in the future")
        return value

    def validate_metadata(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > MAX_METADATA_BYTES:
            raise serializers.ValidationError(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
        return value


class StatusChangeRequest(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


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


class LicenseCreatedSerializer(LicenseSerializer):
    key = serializers.CharField(
        read_only=True, help_text="The full key. Shown only in this response."
    )


class PublicKeyResponse(serializers.Serializer):
    algorithm = serializers.CharField()
    key_id = serializers.CharField()
    public_key = serializers.CharField(help_text="Base64 of the 32 raw Ed25519 public key bytes.")
    pem = serializers.CharField()
