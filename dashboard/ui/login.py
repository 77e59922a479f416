"""The admin's sign-in: password, then a TOTP code for accounts that have a device (optional)
or that must have one (dashboard.permissions.needs_second_factor).

Failed passwords count toward django-axes' lockout (authenticate() reports them); wrong codes
are throttled by the TOTP device itself (django-otp slows down repeated failures).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django_otp import devices_for_user, match_token, user_has_device

from dashboard import permissions


class SecondFactorLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        required=False, max_length=10, label="One-time code (if two-factor is set up)",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = self.user_cache
        if user is None:
            return cleaned
        if any(True for _ in devices_for_user(user, confirmed=True)):
            token = (self.cleaned_data.get("otp_token") or "").strip()
            if not token:
                raise ValidationError("Enter the one-time code from your authenticator app.",
                                      code="otp_required")
            device = match_token(user, token)
            if device is None:
                raise ValidationError("That one-time code is not valid.", code="otp_invalid")
            # django-otp records the verified device in the session when the login happens.
            user.otp_device = device  # type: ignore[attr-defined]
        elif permissions.needs_second_factor(user):
            raise ValidationError(
                "This account must sign in with a second factor: ask an administrator to set "
                "up a TOTP device for it.", code="otp_missing")
        return cleaned


def second_factor_ok(user: Any) -> bool:
    """A session may use the admin when it verified a code, or when none is needed."""
    if user.is_verified():
        return True
    return not (user_has_device(user, confirmed=True) or permissions.needs_second_factor(user))


def install(site: admin.AdminSite | None = None) -> None:
    """Idempotent: the admin site asks for the code at sign-in and checks it on every page."""
    site = site or admin.site
    if getattr(site, "_second_factor_installed", False):
        return
    site.login_form = SecondFactorLoginForm
    site.login_template = "dashboard/admin_login.html"
    original = site.has_permission

    def has_permission(request: HttpRequest) -> bool:
        return original(request) and second_factor_ok(request.user)

    site.has_permission = has_permission  # type: ignore[method-assign]
    site._second_factor_installed = True  # type: ignore[attr-defined]
