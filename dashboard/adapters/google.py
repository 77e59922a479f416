"""Google credentials for every Google call: Application Default Credentials (a key file
named by GOOGLE_APPLICATION_CREDENTIALS, gcloud's user login, or Workload Identity through
the GKE metadata server) with the cloud-platform scope, refreshed before they expire.

Against the sandbox (an API endpoint override is configured) and no key file, calls go
anonymously: a bare `python -m sandbox` accepts that, one started with `--auth required`
does not, so `make run` names the sandbox's generated key.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import google.auth
from google.auth import exceptions as gauth_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from .errors import AdapterError

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
_lock = threading.Lock()
_cache: dict[tuple[Any, ...], Credentials] = {}


def read_service_account(path: str) -> dict[str, Any]:
    """The key file at `path` if it is a service-account key, else ValueError saying why."""
    try:
        info = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{path} is not JSON") from exc
    if not isinstance(info, dict) or info.get("type") != "service_account":
        kind = info.get("type") if isinstance(info, dict) else None
        raise ValueError(f"{path} is not a service-account key (type {kind!r})")
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    return info


def credentials(key_file: str = "", *, sandbox: bool = False) -> Credentials:
    """Scoped credentials, one object per process and key file (google-auth refreshes it).

    `key_file`: a service-account key for this use only (else ADC). `sandbox`: an endpoint
    override is in use, so without any key file the calls may go anonymously.
    """
    adc_file = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")
    cache_key = (os.getpid(), key_file, adc_file, sandbox)
    with _lock:
        found = _cache.get(cache_key)
        if found is not None:
            return found
        try:
            if key_file:
                creds: Credentials = service_account.Credentials.from_service_account_info(
                    read_service_account(key_file), scopes=SCOPES)
            elif sandbox and not adc_file:
                creds = AnonymousCredentials()
            else:
                creds, _ = google.auth.default(scopes=SCOPES)
        except (ValueError, gauth_exceptions.GoogleAuthError) as exc:
            raise AdapterError(
                f"Google credentials {key_file or adc_file or '(application default)'} "
                f"unusable: {exc}", retryable=False, api="google-auth") from exc
        _cache[cache_key] = creds
        return creds


def who(creds: Credentials) -> str:
    """The identity calls are made as, for messages and the admin."""
    if isinstance(creds, AnonymousCredentials):
        return "anonymous"
    email = getattr(creds, "service_account_email", None) or getattr(creds, "signer_email", None)
    if email and email != "default":
        return str(email)
    if email == "default":  # the metadata server (Workload Identity): the KSA's GSA
        return "the workload's service account (metadata server)"
    return f"application default credentials ({type(creds).__name__})"


def fresh_token(creds: Credentials, api: str, *, force: bool = False) -> str:
    """A bearer token valid for a few more minutes (google-auth's refresh threshold),
    refreshing first when needed (`force`: the current one was refused); AdapterError naming
    the credential and API otherwise."""
    with _lock:
        if force or not creds.valid:
            try:
                creds.refresh(Request())
            except gauth_exceptions.GoogleAuthError as exc:
                raise credential_error(creds, api, exc) from exc
        return str(creds.token) if creds.token else ""  # anonymous: no token at all


def credential_error(creds: Credentials, api: str, exc: BaseException) -> AdapterError:
    """A refused or unrefreshable credential. A transport failure reaching the token
    endpoint may pass; a refusal (disabled or deleted key, revoked grant) will not."""
    transient = isinstance(exc, gauth_exceptions.TransportError) or bool(
        getattr(exc, "retryable", False))
    detail = str(exc.args[0] if getattr(exc, "args", None) else exc)[:300]
    return AdapterError(
        f"Google credentials {who(creds)} could not get a token for the {api}: {detail}",
        retryable=transient, api=api)
