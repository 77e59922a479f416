"""The sandbox as a Google identity: a service-account key it generates, an OAuth2 token
endpoint (JWT-bearer grant), and the checks every API applies to a bearer token.

The key lives in `service-account.json` beside the kubeconfig and is kept across restarts (a
dashboard that loaded it keeps working); its `token_uri` points at this sandbox, so
google-auth's own service-account flow runs unchanged. A bearer token is good when it is

* an access token this endpoint issued (self-verifying: HMAC under a secret derived from the
  key, so a restarted sandbox still knows it), not expired and not revoked, or
* a self-signed JWT of the service account (what the generated Google clients send when
  given service-account credentials), signed by the key, unexpired, at most an hour long.

Access tokens carry the granted scopes; a token without `cloud-platform` is refused with 403,
a missing, malformed, expired, revoked or foreign one with 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions as gauth_exceptions
from google.auth import jwt

PROJECT = "sandbox"
ACCOUNT = f"deploy-dashboard@{PROJECT}.iam.gserviceaccount.com"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PREFIX = "ya29.sandbox."
MAX_JWT_LIFETIME = 3600
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


class AuthError(Exception):
    """A refused credential: `code` is 401 (who are you?) or 403 (not allowed)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_key(path: Path, token_uri: str) -> dict[str, Any]:
    """The service-account key file at `path` (created 0600 when missing or unusable); its
    token_uri is rewritten when the sandbox moved (another port or host)."""
    info: dict[str, Any] | None = None
    try:
        info = json.loads(path.read_text())
        if info.get("type") != "service_account" or "private_key" not in info:
            info = None
    except (OSError, ValueError):
        info = None
    if info is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        info = {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": ACCOUNT,
            "client_id": str(100000000000000000000 + secrets.randbelow(10**20)),
            "auth_uri": token_uri.rsplit("/", 1)[0] + "/auth",
            "token_uri": token_uri,
            "universe_domain": "googleapis.com",
        }
    elif info.get("token_uri") == token_uri:
        return info
    info["token_uri"] = token_uri
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh, indent=2)
    tmp.replace(path)
    return info


@dataclass
class Identity:
    """Issues and checks tokens for the one service account in `key` (the key file's JSON)."""

    key: dict[str, Any]
    token_lifetime: int = 900
    required: bool = False  # --auth required: the APIs refuse requests without a good token
    disabled: bool = False  # the key was disabled: no grants, every token refused
    revoked_before: float = 0.0  # tokens issued before this (epoch seconds) are refused
    issued: int = 0
    _secret: bytes = field(init=False, repr=False)
    _public_pem: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._secret = hashlib.sha256(b"sandbox-access-token\0" +
                                      self.key["private_key"].encode()).digest()
        public = serialization.load_pem_private_key(
            self.key["private_key"].encode(), password=None).public_key()
        self._public_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    @property
    def email(self) -> str:
        return str(self.key["client_email"])

    # -- the token endpoint -----------------------------------------------------------------
    def grant(self, grant_type: str, assertion: str) -> dict[str, Any]:
        """The OAuth2 token response for a JWT-bearer grant, or AuthError(400/401...)."""
        if grant_type != JWT_BEARER:
            raise AuthError(400, f"unsupported_grant_type: {grant_type!r}")
        # google-auth addresses the assertion to Google's token endpoint whatever token_uri
        # says; Google accepts both, so does the sandbox.
        claims = self._verify_jwt(assertion, audience=[self.key["token_uri"], GOOGLE_TOKEN_URI])
        if self.disabled:
            raise AuthError(400, f"invalid_grant: service account {self.email} is disabled")
        scopes = str(claims.get("scope") or "").split()
        if not scopes:
            raise AuthError(400, "invalid_scope: the assertion names no scope")
        now = int(time.time())
        payload = {"sub": self.email, "scope": scopes, "iat": now,
                   "iat_ms": int(time.time() * 1000),  # revocation is finer than a second
                   "exp": now + self.token_lifetime, "n": secrets.token_hex(4)}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        mac = _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())
        self.issued += 1
        return {"access_token": f"{TOKEN_PREFIX}{body}.{mac}", "token_type": "Bearer",
                "expires_in": self.token_lifetime, "scope": " ".join(scopes)}

    # -- checking a request -----------------------------------------------------------------
    def check(self, authorization: str | None) -> str:
        """The account a request's `Authorization` header authenticates, or AuthError."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(401, "Request is missing required authentication credential. "
                                 "Expected OAuth 2 access token.")
        if self.disabled:
            raise AuthError(401, f"service account {self.email} is disabled")
        if token.startswith(TOKEN_PREFIX):
            claims = self._access_claims(token[len(TOKEN_PREFIX):])
            scopes = claims.get("scope") or []
            issued = claims.get("iat_ms", 0) / 1000
        else:
            claims = self._verify_jwt(token, audience=None)
            scopes = str(claims.get("scope") or "").split()
            if not scopes and not claims.get("aud"):
                raise AuthError(401, "the self-signed JWT has neither a scope nor an audience")
            issued = claims.get("iat", 0) + 0.999  # whole seconds: same second counts as after
        if issued < self.revoked_before:
            raise AuthError(401, "Request had invalid authentication credentials: the token "
                                 "was revoked")
        if scopes and CLOUD_PLATFORM not in scopes:
            raise AuthError(403, "Request had insufficient authentication scopes (needs "
                                 f"{CLOUD_PLATFORM}).")
        return self.email

    def _access_claims(self, token: str) -> dict[str, Any]:
        body, _, mac = token.partition(".")
        want = _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())
        if not mac or not hmac.compare_digest(mac, want):
            raise AuthError(401, "Request had invalid authentication credentials: unknown "
                                 "access token")
        try:
            claims: dict[str, Any] = json.loads(_unb64(body))
        except ValueError as exc:
            raise AuthError(401, "Request had invalid authentication credentials") from exc
        if claims.get("exp", 0) <= time.time():
            raise AuthError(401, "Request had invalid authentication credentials: the access "
                                 "token expired")
        return claims

    def _verify_jwt(self, assertion: str, audience: list[str] | None) -> dict[str, Any]:
        try:
            header = jwt.decode_header(assertion)
        except (ValueError, gauth_exceptions.GoogleAuthError) as exc:
            raise AuthError(401, f"Request had invalid authentication credentials: {exc}") \
                from exc
        if header.get("kid") not in (None, self.key["private_key_id"]):
            raise AuthError(401, "invalid_grant: the JWT was signed by a key this service "
                                 "account does not have")
        try:
            claims: dict[str, Any] = jwt.decode(assertion, certs=self._public_pem,
                                                audience=audience, clock_skew_in_seconds=10)
        except (ValueError, gauth_exceptions.GoogleAuthError) as exc:
            raise AuthError(401, f"invalid_grant: {exc}") from exc
        if claims.get("iss") != self.email:
            raise AuthError(401, f"invalid_grant: the JWT's issuer {claims.get('iss')!r} is "
                                 "not a service account of this project")
        if int(claims.get("exp", 0)) - int(claims.get("iat", 0)) > MAX_JWT_LIFETIME:
            raise AuthError(401, "invalid_grant: the JWT is valid for more than an hour")
        return claims
