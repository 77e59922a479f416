"""Outgoing notifications on release state changes and lock changes: Slack incoming webhooks
and generic webhooks signed with HMAC-SHA256. Delivery runs in Celery tasks with exponential
back-off and never blocks or fails the pipeline: hooks only enqueue, after commit.

Signature (generic webhooks): headers X-Dashboard-Timestamp: <unix seconds> and
X-Dashboard-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from typing import Any

import requests
from celery import shared_task
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from dashboard.adapters import outbound
from dashboard.api.models import NotificationTarget
from dashboard.models import Lock, ReleaseEvent

log = logging.getLogger(__name__)

TIMEOUT = (3.05, 10)
MAX_RETRIES = 8
SIGNATURE_HEADER = "X-Dashboard-Signature"
TIMESTAMP_HEADER = "X-Dashboard-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, tolerance: int = 300) -> bool:
    """For receivers (and tests): constant-time check plus a replay window."""
    try:
        if abs(time.time() - int(timestamp)) > tolerance:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


# --- hooks --------------------------------------------------------------------------------


def _user_name(user: Any) -> str | None:
    return getattr(user, "username", None) or (str(user) if user else None)


def release_payload(release: Any, to_state: str, from_state: str | None = None,
                    seq: int | None = None, at: Any = None) -> dict[str, Any]:
    """Deliveries run in parallel and may arrive out of order: receivers order a release's
    notifications by `seq` (its timeline position). A failure carries its code and reason
    (and, when the release's pre-deploy Job had run, that the schema moved on)."""
    payload: dict[str, Any] = {
        "event": "release.state",
        "seq": seq,
        "at": at.isoformat() if at is not None else None,
        "service": release.service.name,
        "release": {
            "id": release.pk,
            "kind": getattr(release, "kind", "deploy"),
            "commit": getattr(release, "commit_sha", ""),
            "state": to_state,
            "previous_state": from_state,
            "via": getattr(release, "via", ""),
            "requested_by": _user_name(getattr(release, "requested_by", None)),
            "reason": getattr(release, "reason", ""),
        },
    }
    summary = getattr(release, "failure_summary", None) or {}
    if to_state == "failed" and summary:
        payload["release"]["failure"] = {
            "code": summary.get("code", ""), "reason": summary.get("reason", ""),
            "schema_moved_on": bool(summary.get("schema_moved_on"))}
    return payload


def _targets(service: str, event: str) -> list[int]:
    return [t.pk for t in NotificationTarget.objects.filter(active=True)
            if t.wants(service, event)]


def notify(event: str, service: str, payload: dict[str, Any],
           targets: list[int] | None = None) -> None:
    """Queue delivery to every interested target once the surrounding transaction commits.
    Never raises: a broken target list or broker must not fail a release transition."""
    try:
        targets = _targets(service, event) if targets is None else targets
        if not targets:
            return
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)

        def enqueue() -> None:
            for pk in targets:
                try:
                    deliver.delay(pk, body)
                except Exception:
                    log.exception("could not queue notification %s to target %s", event, pk)

        transaction.on_commit(enqueue)
    except Exception:
        log.exception("notification hook failed for %s on %s", event, service)


def on_release_transitioned(sender: Any = None, release: Any = None, to_state: str | None = None,
                            from_state: str | None = None, seq: int | None = None,
                            at: Any = None, **kwargs: Any) -> None:
    if release is None:
        return
    state = str(to_state or kwargs.get("state") or release.state)
    notify(state, release.service.name, release_payload(release, state, from_state, seq, at))


def on_release_event(sender: Any = None, instance: Any = None, created: bool = False,
                     **kwargs: Any) -> None:
    """Every transition writes a ReleaseEvent of kind "state" (data from/to) in its own
    transaction; a new release writes one of kind "requested" (state queued)."""
    if not created or instance is None or instance.kind not in ("state", "requested"):
        return
    try:
        # The common case (no targets) must cost the pipeline one cheap query, nothing more.
        if not NotificationTarget.objects.filter(active=True).exists():
            return
        data = instance.data or {}
        to_state = str(data.get("to") or instance.state or "queued")
        on_release_transitioned(release=instance.release, to_state=to_state,
                                from_state=data.get("from"), seq=instance.seq, at=instance.at)
    except Exception:
        log.exception("release notification hook failed")


def on_lock_saved(sender: Any = None, instance: Any = None, created: bool = False,
                  **kwargs: Any) -> None:
    if created and instance is not None:
        notify_lock(instance, locked=True)


def on_lock_deleted(sender: Any = None, instance: Any = None, **kwargs: Any) -> None:
    if instance is not None:
        notify_lock(instance, locked=False)


def notify_lock(lock: Any, locked: bool) -> None:
    try:
        name = lock.service.name
    except Exception:  # the service itself is being deleted
        return
    event = "lock" if locked else "unlock"
    notify(event, name, {"event": f"service.{event}", "service": name,
                         "owner": lock.owner_name, "reason": lock.reason})


def connect() -> None:
    """Hook release transitions and lock changes. The pipeline writes a ReleaseEvent for every
    transition and a Lock row per lock, inside its transactions; delivery is queued on commit.
    """
    post_save.connect(on_release_event, sender=ReleaseEvent,
                      dispatch_uid="dashboard_api.notifications.release_event")
    post_save.connect(on_lock_saved, sender=Lock, dispatch_uid="dashboard_api.notifications.lock")
    post_delete.connect(on_lock_deleted, sender=Lock,
                        dispatch_uid="dashboard_api.notifications.unlock")


# --- delivery -----------------------------------------------------------------------------


def _slack_text(payload: dict[str, Any]) -> str:
    if payload.get("event") == "release.state":
        r = payload["release"]
        who = f" by {r['requested_by']}" if r.get("requested_by") else ""
        return (f"*{payload['service']}* release #{r['id']} ({r['kind']} {r['commit'][:12]}){who}: "
                f"*{r['state']}*")
    verb = "locked" if payload.get("event") == "service.lock" else "unlocked"
    reason = f": {payload['reason']}" if payload.get("reason") else ""
    return f"*{payload.get('service')}* {verb} by {payload.get('owner')}{reason}"


def backoff(retries: int) -> float:
    return float(min(300, 2 ** (retries + 1)) + random.uniform(0, 1))


@shared_task(name="dashboard_api.deliver_notification", bind=True, max_retries=MAX_RETRIES,
             acks_late=True)
def deliver(self: Any, target_id: int, body: str) -> int | None:
    target = NotificationTarget.objects.filter(pk=target_id, active=True).first()
    if target is None:
        return None
    payload = json.loads(body)
    headers = {"Content-Type": "application/json", "User-Agent": "deploy-dashboard"}
    if target.kind == "slack":
        data = json.dumps({"text": _slack_text(payload)}).encode()
    else:
        data = body.encode()
        timestamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = timestamp
        headers["X-Dashboard-Delivery"] = self.request.id or ""
        if target.secret:
            headers[SIGNATURE_HEADER] = sign(target.secret, timestamp, data)
    try:
        response = outbound.post(target.url, target.kind, data=data, headers=headers,
                                 timeout=TIMEOUT)
    except outbound.OutboundRefused as exc:  # retrying cannot help; the URL must change
        log.warning("notification target %s not called: %s", target.name, exc)
        return None
    except requests.RequestException as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from None
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise self.retry(countdown=backoff(self.request.retries))
    if response.status_code >= 400:
        log.warning("notification target %s refused delivery: %s", target.name,
                    response.status_code)
    return response.status_code
