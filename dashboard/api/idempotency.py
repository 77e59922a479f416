"""Idempotency-Key for POSTs: the same key and body replay the first response; the same key
with a different body is 422; a request still running under the key is 409. Records are kept
24 hours (IDEMPOTENCY_TTL) per principal (token or user). Conflicts (409) and server errors
are not recorded, so a client may retry them with the same key."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from dashboard.api.errors import problem
from dashboard.api.models import IDEMPOTENCY_TTL, ApiToken, IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Printable ASCII without a space at either end (HTTP strips those before we see them).
KEY_PATTERN = rf"^[!-~](?:[ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$"
_KEY = re.compile(KEY_PATTERN.replace("$", r"\Z"))
# Outcomes a retry could change are not replayed: conflicts, throttling, server errors.
_NOT_RECORDED = {409, 423, 429}


def principal_of(request: Request) -> str:
    if isinstance(request.auth, ApiToken):
        return f"token:{request.auth.pk}"
    return f"user:{request.user.pk}"


def fingerprint(request: Request, kwargs: dict[str, Any]) -> str:
    # A malformed body raises here (400/415) and must: DRF parses once, and after a failed
    # parse request.data is an empty dict, which the view would take for a valid empty body.
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    raw = f"{request.method} {request.path} {body}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _replay(record: IdempotencyRecord) -> Response:
    headers = {"Idempotent-Replayed": "true"}
    if record.location:
        headers["Location"] = record.location
    content_type = "application/problem+json" if (record.status or 0) >= 400 else None
    return Response(record.body, status=record.status, headers=headers, content_type=content_type)


def purge_expired(now: Any = None) -> int:
    """Delete records past the retention window (run from beat; also done lazily per key)."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL - timedelta(minutes=5)
    return IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()[0]


class _Replay(Exception):
    def __init__(self, record: IdempotencyRecord) -> None:
        self.record = record


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate an APIView POST handler (runs after authentication, permissions, throttles).

    The record is inserted in the same transaction as the work and updated with the response
    before that transaction commits: one commit per request, and a concurrent request with the
    same key waits on the unique index until the first commits, then replays its response.
    """

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        if HEADER not in request.headers:
            return handler(view, request, *args, **kwargs)
        key = request.headers[HEADER].strip()
        if len(key) > MAX_KEY_LENGTH:
            return problem(400, f"{HEADER} is longer than {MAX_KEY_LENGTH} characters.",
                           code="invalid", errors={HEADER: ["too long"]})
        if not _KEY.match(key):
            return problem(400, f"{HEADER} must be printable ASCII (1 to {MAX_KEY_LENGTH} "
                           "characters).", code="invalid", errors={HEADER: ["not printable ASCII"]})
        principal = principal_of(request)
        digest = fingerprint(request, kwargs)
        try:
            with transaction.atomic():
                record = _claim(principal, key, digest)
                try:
                    response = handler(view, request, *args, **kwargs)
                except Exception as exc:
                    response = view.handle_exception(exc)  # re-raises what no handler maps
                if response.status_code >= 500 or response.status_code in _NOT_RECORDED:
                    record.delete()
                else:
                    record.status = response.status_code
                    record.body = json.loads(json.dumps(response.data, default=str))
                    record.location = response.headers.get("Location", "")
                    record.save(update_fields=["status", "body", "location"])
                return response
        except _Replay as replay:
            existing = replay.record
        if existing.fingerprint != digest:
            return problem(422, f"{HEADER} '{key}' was already used with a different request.",
                           code="idempotency_key_reused")
        if existing.status is None:
            return problem(409, f"A request with {HEADER} '{key}' is still in progress.",
                           code="idempotency_in_progress", headers={"Retry-After": "1"})
        return _replay(existing)

    return wrapper


def _claim(principal: str, key: str, digest: str) -> IdempotencyRecord:
    """Insert the record for the key, or raise _Replay with the one that exists."""
    for _ in range(3):
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    principal=principal, key=key, fingerprint=digest)
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
            if existing is None:
                continue  # the other request rolled back meanwhile: try again
            if existing.stale:
                IdempotencyRecord.objects.filter(pk=existing.pk).delete()
                continue
            raise _Replay(existing) from None
    raise _Replay(IdempotencyRecord.objects.get(principal=principal, key=key))
