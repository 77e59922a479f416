"""Staff endpoints: a staff token or a staff session; keys appear once, at creation."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command

from licenseapi.models import License, StaffToken

pytestmark = [pytest.mark.urls("licenseapi.urls"), pytest.mark.django_db]
BASE = "/api/v1/licenses"


def test_it_refuses_anonymous_and_bad_tokens(api, product):
    assert api.post(f"{BASE}/", {"product": "acme-ide"})[0] == 401
    assert api.get(f"{BASE}/", HTTP_AUTHORIZATION="Bearer lst_aaaaaaaa_" + "x" * 43)[0] == 401
    assert api.get(f"{BASE}/", HTTP_AUTHORIZATION="Bearer nonsense")[0] == 401
    assert not License.objects.exists()


def test_it_creates_a_license_and_shows_the_key_once(staff_api, api, product):
    status, body, _ = staff_api.post(f"{BASE}/", {"product": "acme-ide", "seats": 4, "customer_email": "c@example.com", "metadata": {"po": "42"}})
    assert status == 201 and body["key"].startswith("LIC-") and body["seats"] == 4
    key = body["key"]
    assert api.post(f"{BASE}/validate/", {"key": key})[1]["valid"] is True
    status, listing, _ = staff_api.get(f"{BASE}/")
    assert status == 200 and listing["count"] == 1
    assert listing["results"][0]["key"].endswith("…") and key not in str(listing)
    status, detail, _ = staff_api.get(f"{BASE}/{body['id']}/")
    assert detail["changes"][0]["action"] == "created" and detail["changes"][0]["actor"] == "staff-token:ci"
    assert key not in str(detail)


def test_it_applies_the_product_defaults(staff_api, product):
    status, body, _ = staff_api.post(f"{BASE}/", {"product": "acme-ide"})
    assert status == 201 and body["seats"] == 2 and body["expires_at"] is None


def test_it_suspends_reinstates_and_revokes(staff_api, api, issued):
    lid = issued.license.id
    status, body, _ = staff_api.post(f"{BASE}/{lid}/suspend/", {"reason": "unpaid invoice"})
    assert status == 200 and body["status"] == "suspended"
    assert api.post(f"{BASE}/validate/", {"key": issued.key})[1]["valid"] is False
    assert staff_api.post(f"{BASE}/{lid}/reinstate/")[1]["status"] == "active"
    assert staff_api.post(f"{BASE}/{lid}/revoke/")[1]["status"] == "revoked"
    status, body, _ = staff_api.post(f"{BASE}/{lid}/reinstate/")
    assert status == 409 and body["error"] == "invalid_transition"
    actions = [c["action"] for c in staff_api.get(f"{BASE}/{lid}/")[1]["changes"]]
    assert actions == ["revoked", "reinstated", "suspended", "created"]


def test_it_filters_the_list(staff_api, issued, product):
    staff_api.post(f"{BASE}/{issued.license.id}/suspend/")
    staff_api.post(f"{BASE}/", {"product": "acme-ide"})
    assert staff_api.get(f"{BASE}/?status=suspended")[1]["count"] == 1
    assert staff_api.get(f"{BASE}/?product=acme-ide")[1]["count"] == 2


def test_it_lists_in_a_fixed_number_of_queries(staff_api, product, django_assert_max_num_queries):
    for _ in range(5):
        staff_api.post(f"{BASE}/", {"product": "acme-ide"})
    with django_assert_max_num_queries(4):  # token, token last-used, count, page
        status, body, _ = staff_api.get(f"{BASE}/")
    assert status == 200 and body["count"] == 5


def test_it_accepts_a_staff_session_but_not_a_plain_user(api, product):
    from django.test import Client

    staff = User.objects.create_user("alice", password="pw-alice-123", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_license"))
    plain = User.objects.create_user("bob", password="pw-bob-1234")
    client = Client()
    client.force_login(plain)
    assert client.get(f"{BASE}/").status_code == 403
    client.force_login(staff)
    assert client.get(f"{BASE}/").status_code == 200



def test_the_command_prints_a_working_token_once(capsys, api):
    call_command("create_license_staff_token", "release-bot")
    token = capsys.readouterr().out.strip()
    assert token.startswith("lst_")
    stored = StaffToken.objects.get(name="release-bot")
    assert token not in stored.token_hash and stored.prefix in token
    assert api.get(f"{BASE}/", HTTP_AUTHORIZATION=f"Bearer {token}")[0] == 200
    StaffToken.objects.filter(pk=stored.pk).update(revoked_at="2020-01-01T00:00:00Z")
    assert api.get(f"{BASE}/", HTTP_AUTHORIZATION=f"Bearer {token}")[0] == 401


def test_it_does_not_serve_the_admin_in_the_licenseapi_role(api):
    assert api.get("/admin/")[0] == 404


def test_it_publishes_an_openapi_schema(api):
    status, _, response = api.get(f"{BASE}/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert status == 200
    text = response.content.decode()
    for path in ("/api/v1/licenses/validate/", "/api/v1/licenses/activate/", "/api/v1/licenses/{license_id}/revoke/"):
        assert path in text


def test_it_refuses_an_expiry_in_the_past(staff_api, product):
    status, body, _ = staff_api.post(f"{BASE}/", {"product": "acme-ide", "expires_at": "2001-01-01T00:00:00Z"})
    assert status == 422 and "expires_at" in body["fields"]
    assert not License.objects.exists()


def test_rotating_a_key_retires_the_old_one_and_keeps_activations(api, issued):
    from licenseapi import services

    api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": "m0"})
    lic, new_key = services.rotate_key(issued.license.pk, "admin:alice")
    assert api.post(f"{BASE}/validate/", {"key": issued.key})[0] == 404
    status, body, _ = api.post(f"{BASE}/validate/", {"key": new_key})
    assert status == 200 and body["valid"] is True and body["seats_used"] == 1
    change = lic.changes.first()
    assert change.reason == "key rotated" and new_key.split("-", 2)[2] not in str(change.changes)
