"""The admin's sign-in: password, then a TOTP code for accounts that have a device (optional)
or that must have one (dashboard.permissions.needs_second_factor).

Failed passwords count toward django-axes' lockout (authenticate() reports them); wrong codes
are throttled by the TOTP device itself (django-otp slows down repeated failures).
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import SESSION_KEY, logout
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
    """A session may use the admin when it verified a code, or when none is needed. Kept on
    the request's user object: the middleware and the admin site both ask (one query)."""
    if user.is_verified():
        return True
    cached: bool | None = getattr(user, "_second_factor_ok", None)
    if cached is None:
        cached = not (user_has_device(user, confirmed=True)
                      or permissions.needs_second_factor(user))
        user._second_factor_ok = cached
    return cached


class SecondFactorMiddleware:
    """Ends a signed-in session that lacks a code it now needs (a device was enrolled, or
    OTP_REQUIRED_FOR_DEPLOYERS turned on, after it signed in), on every admin and REST path:
    the dashboard pages and session-authenticated REST do not all pass through the admin
    site's has_permission. Requests without a session (REST tokens) cost nothing here."""

    sync_capable = True
    async_capable = True
    PREFIXES = ("/admin/", "/api/")
    EXEMPT = ("/admin/login/", "/admin/logout/")

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def _applies(self, request: HttpRequest) -> bool:
        path = request.path_info
        return (path.startswith(self.PREFIXES) and not path.startswith(self.EXEMPT)
                and settings.SESSION_COOKIE_NAME in request.COOKIES)

    @staticmethod
    def _enforce(request: HttpRequest) -> None:
        user = request.user
        if user.is_authenticated and not second_factor_ok(user):
            logout(request)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        if self._applies(request):
            self._enforce(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        if self._applies(request) and await request.session.aget(SESSION_KEY):
            await sync_to_async(self._enforce)(request)
        return await self.get_response(request)


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
