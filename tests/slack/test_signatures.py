"""Slack request verification: valid, forged, stale, missing and replayed deliveries."""

from __future__ import annotations

import time

import pytest
from django.test import Client, override_settings

from dashboard.api.models import IdempotencyRecord
from dashboard.api.slack import HELP

pytestmark = pytest.mark.django_db


def test_it_answers_help_ephemerally_for_a_valid_signature(slack_post):
    r = slack_post("help")
    assert r.status_code == 200
    assert r.json() == {"response_type": "ephemeral", "text": HELP}


def test_it_rejects_a_forged_signature(slack_post):
    assert slack_post("help", secret="wrong-secret").status_code == 401
    assert slack_post("help", signature="v0=" + "0" * 64).status_code == 401


def test_it_rejects_a_stale_timestamp_even_when_correctly_signed(slack_post):
    assert slack_post("help", age=6 * 60).status_code == 401
    assert slack_post("help", age=4 * 60).status_code == 200


def test_it_rejects_missing_headers_and_other_methods():
    assert Client().post("/chatops/slack/commands", "command=/deploy&text=help",
                         content_type="application/x-www-form-urlencoded").status_code == 401
    assert Client().get("/chatops/slack/commands").status_code == 405


def test_it_refuses_everything_when_no_signing_secret_is_set(slack_post):
    with override_settings(SLACK_SIGNING_SECRET=""):
        assert slack_post("help").status_code == 503


def test_it_acknowledges_a_replayed_command_without_queuing_it_again(slack_post):
    started = time.monotonic()
    first = slack_post("deploy license-api abc1234", trigger_id="t-42")
    assert time.monotonic() - started < 3  # Slack gives up after 3 s
    retry = slack_post("deploy license-api abc1234", trigger_id="t-42", retry=1)
    assert first.status_code == retry.status_code == 200
    assert "progress follows" in first.json()["text"]
    assert "Already on it" in retry.json()["text"]
    assert IdempotencyRecord.objects.filter(principal="slack:T1:U1").count() == 1
    # a new invocation (new trigger_id) of the same text is a new command
    assert "progress follows" in slack_post("deploy license-api abc1234",
                                            trigger_id="t-43").json()["text"]
