"""Request fields that accept exactly what the published schema allows, no more.

DRF's stock fields coerce (a number where a string belongs becomes a string, "5" and 5.0
become 5, whitespace is trimmed before the length check, a date alone passes as a date-time).
A generated client then learns a contract the server does not keep, and a schema-driven test
(schemathesis' negative data check) finds the gap. These fields take JSON types as they are,
check the same pattern the schema publishes, and read date-times as RFC 3339 only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# Patterns end in \Z (Python's "$" also matches before a final newline); drf-spectacular
# publishes \Z as "$", which means the very end in the ECMA regexes of JSON Schema.
# No NUL anywhere: DRF refuses it in text, and PostgreSQL cannot store it.
NO_NUL = r"^[^\x00]*\Z"
# At least one non-space character (the server strips before "is it blank?").
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*\Z"
# A Service's name (its SlugField): what /services/{name}/ routes match.
SERVICE_NAME = r"^[-a-zA-Z0-9_]+\Z"
# A git SHA, full or abbreviated (dashboard.services.SHA_RE, case-insensitive), or nothing.
OPTIONAL_COMMIT_SHA = r"^(?:[0-9a-fA-F]{7,40})?\Z"
# A branch or tag name, or nothing: dashboard.services.REF_RE (no leading "-", no ".."),
# written without look-ahead so that every client's regex engine and schema-driven generator
# can use it.
OPTIONAL_REF_NAME = (r"^(?:(?:[A-Za-z0-9_/+]|\.[A-Za-z0-9_/+-])"
                     r"(?:[A-Za-z0-9_/+-]|\.[A-Za-z0-9_/+-])*\.?|\.)?\Z")
# RFC 3339 date-time (the OpenAPI `date-time` format): an offset is required.
RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                     r"([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII)


def parse_rfc3339(text: str) -> datetime | None:
    """An aware UTC datetime, or None when `text` is not RFC 3339. Instants beyond what
    Python can hold in UTC (year 1 at +05:00, year 9999 at -05:00) are clamped to the
    earliest/latest representable one: as a bound they select the same rows."""
    m = RFC3339.match(text)
    if m is None:
        return None
    second = min(int(m[6]), 59)  # RFC 3339 allows a leap second (:60)
    iso = f"{m[1]}-{m[2]}-{m[3]}T{m[4]}:{m[5]}:{second:02d}{(m[7] or '')[:7]}"
    offset = m[8].upper()
    try:
        local = datetime.fromisoformat(iso + ("+00:00" if offset == "Z" else offset))
    except ValueError:  # month 13, hour 25, offset +24:00 ...
        return None
    try:
        return local.astimezone(UTC)
    except OverflowError:
        return (datetime.min if local.year == 1 else datetime.max).replace(tzinfo=UTC)


class StrictCharField(serializers.CharField):
    """A JSON string, checked untrimmed against the published pattern (default: no NUL)."""

    def __init__(self, *, pattern: str = NO_NUL, message: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        # A RegexValidator is also what drf-spectacular publishes as the field's `pattern`.
        self.validators.append(RegexValidator(pattern, message or f"must match {pattern}"))

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not a string of digits, not 5.0, not true."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


@extend_schema_field(OpenApiTypes.DATETIME)
class Rfc3339DateTimeField(serializers.DateTimeField):
    """An RFC 3339 date-time with its offset (the `date-time` format), stored in UTC."""

    default_error_messages = {"invalid": "Use an RFC 3339 date-time, e.g. 2030-01-31T12:00:00Z."}

    def to_internal_value(self, value: Any) -> datetime:
        parsed = parse_rfc3339(value) if isinstance(value, str) else None
        if parsed is None:
            self.fail("invalid")
        return parsed
