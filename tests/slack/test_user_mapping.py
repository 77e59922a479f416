"""Slack users become dashboard users by an explicit mapping, or by a verified email that
Slack's users.info reports (a local HTTP server stands in for the Slack Web API)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import override_settings

from dashboard.api.models import SlackUserMapping
from dashboard.api.slack import slack_user
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db

MEMBERS = {
    "UVERIFIED": {"id": "UVERIFIED", "is_email_confirmed": True,
                  "profile": {"email": "Ada@Example.com"}},
    "UUNVERIFIED": {"id": "UUNVERIFIED", "is_email_confirmed": False,
                    "profile": {"email": "ada@example.com"}},
    "USTRANGER": {"id": "USTRANGER", "is_email_confirmed": True,
                  "profile": {"email": "nobody@example.com"}},
}


@pytest.fixture
def slack_api() -> Iterator[dict[str, Any]]:
    seen: dict[str, Any] = {"calls": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode()) if length else {}
            user = (parse_qs(url.query).get("user") or form.get("user") or [""])[0]
            seen["calls"].append((url.path, user, self.headers.get("Authorization")))
            member = MEMBERS.get(user)
            body = {"ok": True, "user": member} if member else {"ok": False,
                                                                "error": "user_not_found"}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with override_settings(SLACK_BOT_TOKEN="xoxb-test",
                           SLACK_API_URL=f"http://127.0.0.1:{server.server_address[1]}/api/"):
        yield seen
    server.shutdown()
    server.server_close()


def test_it_uses_an_explicit_mapping_first():
    ada = make_user("ada")
    SlackUserMapping.objects.create(team_id="T1", slack_user_id="U1", user=ada)
    assert slack_user("T1", "U1") == ada
    assert slack_user("T2", "U1") is None  # another workspace
    ada.is_active = False
    ada.save()
    assert slack_user("T1", "U1") is None


def test_it_maps_a_verified_email_once_and_remembers_it(slack_api):
    ada = make_user("ada")  # ada@example.com
    assert slack_user("T1", "UVERIFIED") == ada
    assert slack_api["calls"] == [("/api/users.info", "UVERIFIED", "Bearer xoxb-test")]
    mapping = SlackUserMapping.objects.get(slack_user_id="UVERIFIED")
    assert mapping.user == ada and mapping.verified_email == "Ada@Example.com"
    assert slack_user("T1", "UVERIFIED") == ada
    assert len(slack_api["calls"]) == 1  # the mapping answers from now on


def test_it_audits_a_mapping_learned_from_a_verified_email(slack_api):
    from dashboard.models import AuditEntry

    make_user("ada")
    slack_user("T1", "UVERIFIED")
    entry = AuditEntry.objects.get(action="slack_mapping.create")
    assert (entry.actor, entry.via, entry.payload["acting_as"]) == ("slack", "slack", "ada")


def test_it_refuses_unverified_unknown_and_ambiguous_emails(slack_api):
    make_user("ada")
    assert slack_user("T1", "UUNVERIFIED") is None
    assert slack_user("T1", "USTRANGER") is None
    assert slack_user("T1", "UMISSING") is None
    make_user("ada2").__class__.objects.filter(username="ada2").update(email="ADA@example.com")
    assert slack_user("T1", "UVERIFIED") is None  # two users share the address
    assert not SlackUserMapping.objects.exists()
