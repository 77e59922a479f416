"""Slack slash commands at /chatops/slack/commands.

The view verifies Slack's signature (slack-sdk SignatureVerifier, 5-minute window), answers
at once with an ephemeral acknowledgement, and hands the command to a Celery task that acts
through dashboard.services and posts progress and the outcome to the command's response_url.
Slack retries (X-Slack-Retry-Num) and duplicate deliveries are recognised by a key derived
from team, user, command, text and trigger_id, so they never start a second release.

Commands: deploy <service> <sha|ref> [reason], status <service>, rollback <service> [release],
lock <service> <reason>, unlock <service>, help.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from slack_sdk.signature import SignatureVerifier

from dashboard import states
from dashboard.adapters import outbound
from dashboard.api import access, chatops
from dashboard.api.models import IdempotencyRecord, SlackUserMapping

log = logging.getLogger(__name__)

TIMEOUT = (3.05, 10)
FOLLOW_INTERVAL = 2.0  # seconds between checks of a release being followed
FOLLOW_FOR = 30 * 60  # Slack accepts response_url posts for 30 minutes...
MAX_POSTS = 5  # ...and at most five of them
VERBS = ("deploy", "status", "rollback", "lock", "unlock", "continue", "help")

HELP = "\n".join([
    "*Deploy dashboard commands*",
    "`deploy <service> <sha|ref> [reason]` start a release",
    "`status <service>` what is deployed, running, locked",
    "`rollback <service> [release id] [--ack-schema]` roll back to the previous (or a named) "
    "release; `--ack-schema` goes back past releases that ran migrations",
    "`lock <service> <reason>` block deploys; `unlock <service>` lift the lock",
    "`continue <service>` end the bake of the running release's rollout step now "
    "(`rollback <service>` or cancelling it rolls the step back)",
    "`help` this text",
])


@dataclass
class Command:
    verb: str
    args: list[str] = field(default_factory=list)
    rest: str = ""  # free text after the positional arguments (reason)
    error: str = ""


def parse(command: str, text: str) -> Command:
    """`/deploy license-api abc123 fix`, `/chatops deploy license-api abc123`, `/deploy help`."""
    words = text.split()
    name = command.lstrip("/").lower()
    if words and words[0].lower() in VERBS:
        verb, words = words[0].lower(), words[1:]
    elif name in VERBS:
        verb = name
    else:
        return Command("help", error=f"Unknown command: {text or command}")
    if verb == "help":
        return Command("help")
    arity = {"deploy": 2, "status": 1, "rollback": 1, "lock": 1, "unlock": 1,
             "continue": 1}[verb]
    if len(words) < arity:
        usage = {"deploy": "deploy <service> <sha|ref> [reason]", "status": "status <service>",
                 "rollback": "rollback <service> [release id]",
                 "lock": "lock <service> <reason>", "unlock": "unlock <service>",
                 "continue": "continue <service>"}[verb]
        return Command(verb, error=f"Usage: `{usage}`")
    if verb == "rollback":
        args = words[:2] if len(words) > 1 and words[1].lstrip("#").isdigit() else words[:1]
        return Command(verb, args=[a.lstrip("#") for a in args],
                       rest=" ".join(words[len(args):]))
    if verb == "lock" and len(words) < 2:
        return Command(verb, error="Usage: `lock <service> <reason>` (a reason is required)")
    return Command(verb, args=words[:arity], rest=" ".join(words[arity:]))


def ephemeral(text: str) -> JsonResponse:
    return JsonResponse({"response_type": "ephemeral", "text": text})


def dedupe_key(form: Any) -> str:
    parts = [form.get(k, "") for k in ("team_id", "user_id", "command", "text", "trigger_id")]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _first_delivery(form: Any) -> bool:
    """Record this command; False if Slack already delivered it (a retry or duplicate)."""
    key = dedupe_key(form)
    principal = f"slack:{form.get('team_id', '')}:{form.get('user_id', '')}"[:100]
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(principal=principal, key=key, fingerprint=key,
                                             status=200)
    except IntegrityError:
        return False
    return True


@csrf_exempt
@require_POST
def commands(request: HttpRequest) -> HttpResponse:
    secret = settings.SLACK_SIGNING_SECRET
    if not secret:
        return JsonResponse({"error": "Slack is not configured (SLACK_SIGNING_SECRET)"},
                            status=503)
    verifier = SignatureVerifier(secret)  # rejects timestamps outside a 5-minute window
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not timestamp.isdigit() or not verifier.is_valid(
        body=request.body, timestamp=timestamp,
        signature=request.headers.get("X-Slack-Signature", ""),
    ):
        return JsonResponse({"error": "invalid Slack signature"}, status=401)
    form = request.POST
    cmd = parse(form.get("command", ""), form.get("text", ""))
    if cmd.verb == "help":
        return ephemeral((cmd.error + "\n\n" if cmd.error else "") + HELP)
    if cmd.error:
        return ephemeral(cmd.error)
    if not _first_delivery(form):
        # Slack retried (X-Slack-Retry-Num) or delivered twice: the first one is being handled.
        return ephemeral(f"Already on it: `{cmd.verb} {' '.join(cmd.args)}`.")
    payload = {k: form.get(k, "") for k in (
        "team_id", "user_id", "user_name", "channel_id", "command", "text", "response_url",
        "trigger_id")}
    payload["key"] = dedupe_key(form)
    transaction.on_commit(lambda: run_command.delay(payload))
    acks = {"deploy": "Deploy of *{0}* at `{1}` requested; progress follows here.",
            "status": "Looking up *{0}*…", "rollback": "Rollback of *{0}* requested; "
            "progress follows here.", "lock": "Locking *{0}*…", "unlock": "Unlocking *{0}*…",
            "continue": "Continuing the rollout step of *{0}*…"}
    return ephemeral(acks[cmd.verb].format(*cmd.args, ""))


# --- the work, in Celery ------------------------------------------------------------------


def post(response_url: str, text: str) -> None:
    if not response_url:
        return
    try:
        outbound.post(response_url, "slack", json={"response_type": "ephemeral", "text": text,
                                                   "replace_original": False}, timeout=TIMEOUT)
    except outbound.OutboundRefused as exc:  # a forged payload must not aim the worker inside
        log.warning("Slack response_url not called: %s", exc)
    except requests.RequestException as exc:  # Slack being unreachable must not fail the task
        log.warning("posting to Slack response_url failed: %s", exc)


def slack_user(team_id: str, user_id: str) -> Any:
    """The dashboard user for a Slack user: an explicit mapping, else a verified email match
    (needs SLACK_BOT_TOKEN with users:read.email); None when neither applies."""
    from django.contrib.auth import get_user_model

    mapping = SlackUserMapping.objects.select_related("user").filter(
        team_id=team_id, slack_user_id=user_id).first()
    if mapping is not None:
        return mapping.user if mapping.user.is_active else None
    token = getattr(settings, "SLACK_BOT_TOKEN", "")
    if not token:
        return None
    try:
        from slack_sdk import WebClient

        base_url = getattr(settings, "SLACK_API_URL", "") or WebClient.BASE_URL
        info = WebClient(token=token, timeout=5, base_url=base_url).users_info(user=user_id)
        member = info["user"]
    except Exception as exc:
        log.warning("Slack users.info failed for %s: %s", user_id, exc)
        return None
    email = (member.get("profile") or {}).get("email") or ""
    if not email or member.get("is_email_confirmed") is not True or member.get("deleted"):
        return None  # only an address Slack has verified may stand for a dashboard user
    users = list(get_user_model().objects.filter(email__iexact=email, is_active=True)[:2])
    if len(users) != 1:
        return None
    # Learned from Slack's verified email: recorded like a mapping made in the admin. Another
    # command from this user may have learned it at the same moment (IntegrityError).
    with contextlib.suppress(IntegrityError):
        access.save_mapping(actor=access.SYSTEM, via="slack", mapping=SlackUserMapping(
            team_id=team_id, slack_user_id=user_id, user=users[0], verified_email=email))
    return users[0]


@shared_task(name="dashboard_api.slack_command", acks_late=True)
def run_command(payload: dict[str, str]) -> str:
    url = payload.get("response_url", "")
    cmd = parse(payload.get("command", ""), payload.get("text", ""))
    user = slack_user(payload.get("team_id", ""), payload.get("user_id", ""))
    if user is None:
        post(url, "Your Slack account is not linked to a dashboard user. Ask an admin to add a "
                  "Slack user mapping (or to match your verified email).")
        return "unmapped"
    outcome = chatops.execute(cmd, user, key=payload.get("key", ""))
    post(url, outcome.text)
    if outcome.release_id is not None:
        follow_release.apply_async(
            (outcome.release_id, url, outcome.state, 1, time.time()), countdown=FOLLOW_INTERVAL)
    return outcome.state or "done"


@shared_task(name="dashboard_api.slack_follow_release", acks_late=True)
def follow_release(release_id: int, response_url: str, last_state: str, posts: int,
                   started: float) -> str:
    """Post each new state of a release (at most MAX_POSTS messages, the last kept for the
    outcome) until it ends; re-schedules itself instead of holding a worker."""
    release = chatops.release_by_id(release_id)
    if release is None:
        return "gone"
    state = release.state
    if state in states.TERMINAL:
        post(response_url, chatops.outcome_text(release))
        return state
    if state != last_state and posts < MAX_POSTS - 1:
        post(response_url, chatops.progress_text(release))
        posts += 1
        last_state = state
    if time.time() - started > FOLLOW_FOR:
        return "timeout"
    follow_release.apply_async((release_id, response_url, last_state, posts, started),
                               countdown=FOLLOW_INTERVAL)
    return state
