"""Turning on the optional TOTP second factor for your own account.

The page makes an unconfirmed authenticator device, shows its key (as an otpauth:// link and
as text, for the app), and confirms it once a code from the app verifies; from then on the
admin asks for a code at sign-in (dashboard.ui.login). Removing a device is an administrator's
job (admin, TOTP devices), so a stolen session cannot switch the factor off.
"""

from __future__ import annotations

import base64

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from dashboard import audit

DEVICE_NAME = "authenticator"


class CodeForm(forms.Form):
    code = forms.RegexField(regex=r"^\s*\d{6}\s*$", label="Code from your authenticator app",
                            error_messages={"invalid": "Enter the 6-digit code."},
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                          "inputmode": "numeric"}))


@staff_member_required
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    user = request.user
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return _page(request, enabled=True)
    device = TOTPDevice.objects.filter(user=user, confirmed=False, name=DEVICE_NAME).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"].strip()):
            with transaction.atomic():
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                audit.append(actor=user.get_username(), via="admin", action="two_factor.enrol",
                             payload={"device": device.name})
            otp_login(request, device)
            messages.success(request, "Two-factor sign-in is on for your account.")
            return redirect("deployments:two-factor")
        form.add_error("code", "That code is not valid: check the time on your device.")
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return _page(request, enabled=False, form=form, config_url=device.config_url, secret=secret)


def _page(request: HttpRequest, **context: object) -> TemplateResponse:
    ctx = {**admin.site.each_context(request), "title": "Two-factor sign-in", "crumbs": [],
           **context}
    return TemplateResponse(request, "dashboard/two_factor.html", ctx)
