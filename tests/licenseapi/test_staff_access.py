"""Staff endpoints check what the caller may do: a token's scopes and expiry, a session
user's model permissions (view/add/change license)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from licenseapi import services
from licenseapi.models import StaffToken
from tests.licenseapi.conftest import JsonClient

pytestmark = [pytest.mark.urls("licenseapi.urls"), pytest.mark.django_db]
BASE = "/api/v1/licenses"


def test_it_lets_a_token_do_only_what_its_scopes_say(product):
    reader = JsonClient(services.create_staff_token("reader", ["read"]))
    issuer = JsonClient(services.create_staff_token("issuer", ["read", "issue"]))
    assert reader.get(f"{BASE}/")[0] == 200
    status, body, _ = reader.post(f"{BASE}/", {"product": "acme-ide"})
    assert status == 403 and "'issue' scope" in body["detail"]
    status, created, _ = issuer.post(f"{BASE}/", {"product": "acme-ide"})
    assert status == 201
    status, body, _ = issuer.post(f"{BASE}/{created['id']}/suspend/", {"reason": "x"})
    assert status == 403 and "'manage' scope" in body["detail"]


def test_it_refuses_an_expired_token(product):
    token = services.create_staff_token("short", ["read"], expires_in=timedelta(days=1))
    api = JsonClient(token)
    assert api.get(f"{BASE}/")[0] == 200
    StaffToken.objects.filter(name="short").update(expires_at=timezone.now() - timedelta(seconds=1))
    status, body, _ = api.get(f"{BASE}/")
    assert status == 401 and "expired" in body["detail"]


def test_it_checks_a_staff_sessions_model_permissions(product):
    user = User.objects.create_user("sam", password="x-long-password-1", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(f"{BASE}/").status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_license"))
    assert client.get(f"{BASE}/").status_code == 200
    created = client.post(f"{BASE}/", {"product": "acme-ide"}, content_type="application/json")
    assert created.status_code == 403 and "add_license" in created.json()["detail"]


def test_the_command_takes_scopes_and_expiry(capsys):
    call_command("create_license_staff_token", "bot", "--scopes", "read,issue", "--expires", "7")
    stored = StaffToken.objects.get(name="bot")
    assert stored.scopes == ["read", "issue"]
    assert timedelta(days=6) < stored.expires_at - timezone.now() <= timedelta(days=7)
    call_command("create_license_staff_token", "plain")
    assert StaffToken.objects.get(name="plain").scopes == ["read"]
    with pytest.raises(CommandError, match="--scopes"):
        call_command("create_license_staff_token", "bad", "--scopes", "root")
