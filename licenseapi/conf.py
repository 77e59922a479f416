"""License API settings. Each is read from Django settings when the project defines it
(tests use override_settings), else from the environment variable of the same name, so the
license API is configurable without editing the shared settings file."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.env import env_bool, env_int, env_secret

_INT_DEFAULTS: dict[str, tuple[int, int]] = {
    # name: (default, minimum)
    "LICENSE_ACTIVATION_TTL_SECONDS": (7 * 24 * 3600, 60),
    "LICENSE_CERTIFICATE_TTL_SECONDS": (30 * 24 * 3600, 60),
    "LICENSE_RATE_LIMIT_WINDOW_SECONDS": (60, 1),
    "LICENSE_RATE_LIMIT_PER_KEY": (60, 1),
    "LICENSE_RATE_LIMIT_PER_IP": (300, 1),
    "LICENSE_API_MAX_BODY_BYTES": (16 * 1024, 256),
}


_MISSING = object()
_env_cache: dict[str, Any] = {}


def _setting(name: str, fallback: Any) -> Any:
    value = getattr(settings, name, _MISSING)
    if value is not _MISSING:
        return value
    # The environment does not change while we run: parse each variable once.
    if name not in _env_cache:
        _env_cache[name] = fallback()
    return _env_cache[name]


def get_int(name: str) -> int:
    default, minimum = _INT_DEFAULTS[name]
    return int(_setting(name, lambda: env_int(name, default, minimum=minimum)))


def activation_ttl() -> int:
    return get_int("LICENSE_ACTIVATION_TTL_SECONDS")


def certificate_ttl() -> int:
    return get_int("LICENSE_CERTIFICATE_TTL_SECONDS")


def max_body_bytes() -> int:
    return get_int("LICENSE_API_MAX_BODY_BYTES")


def rate_limits_enabled() -> bool:
    return bool(
        _setting("LICENSE_RATE_LIMIT_ENABLED", lambda: env_bool("LICENSE_RATE_LIMIT_ENABLED", True))
    )


def redis_url() -> str:
    return str(settings.REDIS_URL)


def redis_prefix() -> str:
    return str(_setting("LICENSE_REDIS_PREFIX", lambda: "licenseapi:"))


def signing_key_text() -> str | None:
    value = _setting("LICENSE_SIGNING_KEY", lambda: env_secret("LICENSE_SIGNING_KEY"))
    return str(value) if value else None


def bench_bare_view() -> bool:
    return env_bool("LICENSEAPI_BENCH_BARE", False)


def check_environment() -> None:
    """Parse every license API variable now, so a malformed value stops start-up naming it
    (the project's rule) instead of failing the first request that needs it."""

    for name in _INT_DEFAULTS:
        get_int(name)
    rate_limits_enabled()
