"""Strict parsing of environment variables: a malformed value stops start-up naming it."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bad(name: str, value: str, expected: str) -> ImproperlyConfigured:
    # Never echo the value itself: it may be a secret.
    return ImproperlyConfigured(
        f"{name} is malformed: expected {expected} (got {len(value)} chars)"
    )


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _bad(name, raw, "one of 1/0, true/false, yes/no, on/off")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise _bad(name, raw, "an integer") from None
    if minimum is not None and value < minimum:
        raise _bad(name, raw, f"an integer >= {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise _bad(name, raw, "a comma-separated list with at least one item")
    return items


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} is malformed: expected one of {', '.join(choices)}")
    return value


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the file named by NAME_FILE (mounted secrets); never both."""
    direct = os.environ.get(name)
    path = os.environ.get(f"{name}_FILE")
    if direct is not None and path is not None:
        raise ImproperlyConfigured(f"{name} and {name}_FILE are both set: use one")
    if path is not None:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE cannot be read: {exc.strerror}") from None
    return direct if direct is not None else default


def env_url(name: str, default: str | None, schemes: tuple[str, ...]) -> str | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        raise _bad(name, value, f"a URL with scheme {'/'.join(schemes)}")
    if parsed.scheme in ("http", "https", "redis", "rediss") and not parsed.hostname:
        raise _bad(name, value, "a URL with a host")
    if parsed.scheme == "unix" and not parsed.path:
        raise _bad(name, value, "unix:///path/to/socket")
    return value


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as `1200/min` (number / s, m, h or d, spelt out or not)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    number, _, period = value.partition("/")
    if not number.isdigit() or not period or period[0] not in "smhd":
        raise _bad(name, value, "a rate like 1200/min (per s, min, hour or day)")
    return value
