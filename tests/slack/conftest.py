"""Slack fixtures: a signing secret, signed form posts, the response_url receiver, and a
Celery worker that reaches the sandbox's Cloud Build."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from tests.api.receiver import receiver  # noqa: F401  (fixture)
from tests.api.workers import sandbox_worker  # noqa: F401  (fixture)

SECRET = "test-slack-signing-secret"


@pytest.fixture(autouse=True)
def slack_secret() -> Iterator[str]:
    with override_settings(SLACK_SIGNING_SECRET=SECRET):
        yield SECRET


def sign(body: str, ts: str, secret: str = SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(),
                            hashlib.sha256).hexdigest()


@pytest.fixture
def slack_post() -> Callable[..., Any]:
    def post(text: str, *, command: str = "/deploy", user_id: str = "U1", team_id: str = "T1",
             trigger_id: str = "trig-1", response_url: str = "http://127.0.0.1:9/x",
             secret: str = SECRET, age: int = 0, signature: str | None = None,
             retry: int | None = None) -> Any:
        form = urllib.parse.urlencode({
            "command": command, "text": text, "user_id": user_id, "user_name": "someone",
            "team_id": team_id, "channel_id": "C1", "response_url": response_url,
            "trigger_id": trigger_id})
        ts = str(int(time.time()) - age)
        headers = {"X-Slack-Request-Timestamp": ts,
                   "X-Slack-Signature": signature or sign(form, ts, secret)}
        if retry is not None:
            headers["X-Slack-Retry-Num"] = str(retry)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return Client().post("/chatops/slack/commands", form,
                             content_type="application/x-www-form-urlencoded", headers=headers)

    return post


