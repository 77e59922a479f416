"""Signing in: repeated failures lock the username out from that address (django-axes), real
password rules, and a TOTP second factor that is optional, or required for deployers when
OTP_REQUIRED_FOR_DEPLOYERS is on (dashboard.permissions.needs_second_factor)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from dashboard import permissions

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/"
PASSWORD = "a-long-enough-Passphrase-7"


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("casey", password=PASSWORD, is_staff=True)


def _login(client, username: str, password: str, otp: str = "", addr: str = "192.0.2.10"):
    return client.post(f"{LOGIN}?next=/admin/", {"username": username, "password": password,
                                                 "otp_token": otp, "next": "/admin/"},
                       REMOTE_ADDR=addr)


def _signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_it_locks_out_after_repeated_failures_even_with_the_right_password(client, staff,
                                                                           settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        assert _login(client, "casey", "wrong").status_code == 200
    assert _login(client, "casey", "wrong").status_code == 429  # the fifth locks
    locked = _login(client, "casey", PASSWORD)
    assert not _signed_in(locked) and locked.status_code == 429
    # The same user from elsewhere is not locked out (no denial of service by username).
    assert _signed_in(_login(client, "casey", PASSWORD, addr="192.0.2.99"))


def test_it_locks_out_by_the_real_client_behind_proxies_whatever_the_client_writes(
        client, staff, settings):
    settings.TRUSTED_PROXIES = 2
    for n in range(5):  # a different forged leftmost entry each time, one real client
        client.post(LOGIN, {"username": "casey", "password": "wrong"}, REMOTE_ADDR="10.0.0.1",
                    HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.7, 10.0.0.1")
    locked = client.post(LOGIN, {"username": "casey", "password": PASSWORD},
                         REMOTE_ADDR="10.0.0.1",
                         HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.7, 10.0.0.1")
    assert locked.status_code == 429


def test_it_forgets_failures_after_a_success(client, staff):
    for _ in range(4):
        _login(client, "casey", "wrong")
    assert _signed_in(_login(client, "casey", PASSWORD))
    client.logout()
    for _ in range(4):
        _login(client, "casey", "wrong")
    assert _signed_in(_login(client, "casey", PASSWORD))


@pytest.mark.parametrize("weak", ["short-Pw1", "password12345", "839201746512"])
def test_it_refuses_weak_passwords(staff, weak):
    with pytest.raises(ValidationError):
        validate_password(weak, user=staff)
    validate_password(PASSWORD, user=staff)


def _device(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_it_asks_enrolled_users_for_a_valid_code(client, staff):
    device = _device(staff)
    assert not _signed_in(_login(client, "casey", PASSWORD))
    page = _login(client, "casey", PASSWORD).content.decode()
    assert "Enter the one-time code" in page and 'name="otp_token"' in page
    assert not _signed_in(_login(client, "casey", PASSWORD, otp="000000"))
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # django-otp slows down guessing
    device.throttle_reset()
    assert _signed_in(_login(client, "casey", PASSWORD, otp=_code(device)))
    assert client.get("/admin/").status_code == 200


def test_it_keeps_a_session_without_a_verified_code_out_of_the_admin(client, staff):
    _device(staff)
    client.force_login(staff)  # a password-only session (e.g. from before enrolment)
    assert client.get("/admin/").status_code == 302


def test_it_ends_such_a_session_on_the_dashboard_pages_and_rest_too(client, staff, settings):
    staff.user_permissions.add(Permission.objects.get(codename="view_service"))
    client.force_login(staff)
    assert client.get("/admin/deployments/releases/").status_code == 200
    assert client.get("/api/v1/services/").status_code == 200
    settings.OTP_REQUIRED_FOR_DEPLOYERS = True
    staff.user_permissions.add(Permission.objects.get(codename="deploy_service"))
    assert client.get("/api/v1/services/").status_code in (401, 403)
    assert client.get("/admin/deployments/releases/").status_code == 302  # to the login page


@pytest.mark.django_db(transaction=True)
async def test_it_ends_such_a_session_under_asgi_too(async_client, settings):
    staff = await User.objects.acreate(username="casey", is_staff=True)
    from asgiref.sync import sync_to_async

    await sync_to_async(_device)(staff)
    await async_client.aforce_login(staff)
    assert (await async_client.get("/admin/login/")).status_code == 200  # exempt
    response = await async_client.get("/api/v1/services/")
    assert response.status_code in (401, 403)


def test_it_lets_users_without_a_device_in_when_nothing_requires_one(client, staff):
    assert _signed_in(_login(client, "casey", PASSWORD))


def test_it_requires_a_second_factor_of_deployers_when_configured(client, staff, settings):
    staff.user_permissions.add(Permission.objects.get(codename="deploy_service"))
    staff = User.objects.get(pk=staff.pk)
    viewer = User.objects.create_user("vera", password=PASSWORD, is_staff=True)
    settings.OTP_REQUIRED_FOR_DEPLOYERS = False
    assert not permissions.needs_second_factor(staff)
    settings.OTP_REQUIRED_FOR_DEPLOYERS = True
    assert permissions.needs_second_factor(staff) and not permissions.needs_second_factor(viewer)
    refused = _login(client, "casey", PASSWORD)
    assert not _signed_in(refused) and "second factor" in refused.content.decode()
    assert _signed_in(_login(client, "vera", PASSWORD))
    client.logout()
    device = _device(staff)
    assert _signed_in(_login(client, "casey", PASSWORD, otp=_code(device)))


def test_a_user_turns_on_two_factor_for_themselves(client, staff):
    from dashboard.models import AuditEntry

    client.force_login(staff)
    page = client.get("/admin/deployments/two-factor/")
    assert page.status_code == 200 and 'id="totp-secret"' in page.content.decode()
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    wrong = client.post("/admin/deployments/two-factor/", {"code": "000000"})
    assert "not valid" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()
    done = client.post("/admin/deployments/two-factor/", {"code": _code(device)})
    assert done.status_code == 302
    assert TOTPDevice.objects.get(user=staff).confirmed
    assert AuditEntry.objects.filter(action="two_factor.enrol", actor="casey").exists()
    assert client.get("/admin/").status_code == 200  # this session verified its code
    client.logout()
    assert not _signed_in(_login(client, "casey", PASSWORD))  # a code is needed from now on
