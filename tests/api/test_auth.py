"""Tokens: bearer auth, hashing, expiry, revocation, last use, staff sessions, throttling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from dashboard.api.models import ApiToken, hash_token
from dashboard.models import Release
from tests.api.conftest import SHA, Api, make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/releases/"


def test_it_answers_401_without_a_token(service):
    r = Api(None).post(URL, {"service": "license-api", "commit": SHA})
    assert r.status_code == 401
    assert r["WWW-Authenticate"].startswith("Bearer")
    assert r["Content-Type"] == "application/problem+json"
    assert r.json()["status"] == 401


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer", "Bearer a b", "Bearer \xff"])
def test_it_answers_401_for_bad_tokens(service, header):
    r = Client().get(URL, headers={"Authorization": header})
    assert r.status_code == 401


def test_it_stores_only_the_hash_and_records_last_use(service, token_for):
    raw = token_for("read")
    token = ApiToken.objects.get()
    assert token.token_hash == hash_token(raw) and raw not in str(token.__dict__)
    assert raw.startswith(token.prefix)
    assert token.last_used_at is None
    assert Api(raw).get(URL).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_it_refuses_expired_and_revoked_tokens(service, token_for):
    expired = token_for("read", expires_at=timezone.now() - timedelta(seconds=1))
    assert Api(expired).get(URL).status_code == 401
    raw = token_for("read")
    ApiToken.objects.filter(token_hash=hash_token(raw)).update(revoked_at=timezone.now())
    assert Api(raw).get(URL).status_code == 401
    assert ApiToken.objects.usable().count() == 0


def test_it_accepts_staff_sessions_and_enforces_csrf(service, db):
    staff = make_user("staffer", ["view_service", "deploy_service"], is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.get(URL).status_code == 200
    r = client.post(URL, {"service": "license-api", "commit": SHA},
                    content_type="application/json")
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    plain = make_user("plain", ["view_service"])
    other = Client()
    other.force_login(plain)
    assert other.get(URL).status_code == 401  # sessions are for staff only


def test_it_throttles_per_token_with_retry_after(service, token_for):
    limited = Api(token_for("read", rate_limit=3))
    assert [limited.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    r = limited.get(URL)
    assert r.status_code == 429
    assert int(r["Retry-After"]) >= 1 and r.json()["retry_after"] >= 1
    assert Api(token_for("read", rate_limit=3)).get(URL).status_code == 200  # others unaffected


def test_it_creates_tokens_from_the_command_and_prints_them_once(service, capsys):
    call_command("create_api_token", "ci-bot", "--scopes", "read,deploy", "--via", "ci",
                 "--service", "license-api", "--expires", "30")
    out = capsys.readouterr().out.strip().splitlines()
    raw = out[-1].split()[-1]
    token = ApiToken.objects.get(name="ci-bot")
    assert token.token_hash == hash_token(raw) and token.services == ["license-api"]
    assert token.user.username == "api:ci-bot" and token.expires_at is not None
    r = Api(raw).post(URL, {"service": "license-api", "commit": SHA})
    assert r.status_code == 202, r.content
    assert Release.objects.get().requested_by.username == "api:ci-bot"
    # re-running rotates: the old token stops working, the new one works
    call_command("create_api_token", "ci-bot", "--scopes", "read")
    new_raw = capsys.readouterr().out.strip().splitlines()[-1].split()[-1]
    assert Api(raw).get(URL).status_code == 401
    assert Api(new_raw).get(URL).status_code == 200
    assert Api(new_raw).post(URL, {"service": "license-api", "commit": SHA}).status_code == 403


def test_it_rejects_unknown_scopes_in_the_command(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_api_token", "x", "--scopes", "read,root")


def test_it_shows_a_new_token_once_in_the_admin(db):
    admin = make_user("boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    r = client.post("/admin/dashboard_api/apitoken/add/", {
        "name": "bot", "user": admin.pk, "scopes": ["read", "deploy"], "services": "",
        "via": "api", "expires_at_0": "", "expires_at_1": "", "rate_limit": "",
    }, follow=True)
    assert r.status_code == 200
    shown = [str(m) for m in r.context["messages"] if "copy it now" in str(m)]
    assert len(shown) == 1
    raw = shown[0].split()[-1]
    token = ApiToken.objects.get(name="bot")
    assert token.token_hash == hash_token(raw) and token.created_by == admin
    page = client.get(f"/admin/dashboard_api/apitoken/{token.pk}/change/")
    assert raw not in page.content.decode()
