"""License keys and staff tokens: generation, parsing and hashing.

A license key looks like ``LIC-ABCD2345-XXXXXXXX-XXXXXXXX-XXXXXXXX-XXXXXXXX``: a public lookup
prefix (8 base32 characters, indexed and unique) and a 160-bit secret. Only the prefix and the
SHA-256 of the secret are stored, so a database leak does not leak usable keys. The secret is
random and long, so a plain (fast) hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_PATTERN = re.compile(r"^LIC-([A-Z2-7]{8})-([A-Z2-7]{8}(?:-[A-Z2-7]{8}){3})$")
TOKEN_PATTERN = re.compile(r"^lst_([a-z2-7]{8})_([A-Za-z0-9_-]{43})$")
PREFIX_LENGTH = 8
MAX_KEY_LENGTH = 64  # anything longer is rejected before the regex runs


class MalformedKey(ValueError):
    """The text is not a license key (or staff token) at all."""


@dataclass(frozen=True)
class ParsedSecret:
    prefix: str
    secret: str

    @property
    def secret_hash(self) -> str:
        return hash_secret(self.secret)


def _b32(nbytes: int) -> str:
    return base64.b32encode(secrets.token_bytes(nbytes)).decode("ascii").rstrip("=")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    # Constant-time: the comparison must not tell an attacker how many characters matched.
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def generate_license_key() -> tuple[str, ParsedSecret]:
    """Return (full key, its parts). The full key is shown once and never stored."""
    prefix = _b32(5)  # 5 bytes -> exactly 8 base32 characters
    body = _b32(20)  # 20 bytes -> exactly 32 characters
    secret = "-".join(body[i : i + 8] for i in range(0, 32, 8))
    return f"LIC-{prefix}-{secret}", ParsedSecret(prefix, secret)


def parse_license_key(text: object) -> ParsedSecret:
    """Parse a user-supplied key. Case and surrounding whitespace are forgiven (keys get typed)."""
    if not isinstance(text, str) or len(text) > MAX_KEY_LENGTH:
        raise MalformedKey("not a license key")
    match = KEY_PATTERN.match(text.strip().upper())
    if match is None:
        raise MalformedKey("not a license key: expected LIC-XXXXXXXX-XXXXXXXX-...")
    return ParsedSecret(match.group(1), match.group(2))


def generate_staff_token() -> tuple[str, ParsedSecret]:
    prefix = _b32(5).lower()
    secret = secrets.token_urlsafe(32)  # 43 characters
    return f"lst_{prefix}_{secret}", ParsedSecret(prefix, secret)


def parse_staff_token(text: str) -> ParsedSecret:
    match = TOKEN_PATTERN.match(text.strip())
    if match is None:
        raise MalformedKey("not a staff token")
    return ParsedSecret(match.group(1), match.group(2))


def rate_limit_id(text: str) -> str:
    """A stable identifier for per-key rate limiting that never puts the secret into Redis."""
    return hashlib.sha256(text.strip().upper().encode("utf-8")).hexdigest()[:24]
