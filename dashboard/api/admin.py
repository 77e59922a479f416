"""Admin for API tokens (the secret is shown once, on creation), Slack user mappings and
notification targets. Idempotency records are visible read-only for support."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from dashboard.adapters import outbound
from dashboard.api.models import (
    SCOPES,
    ApiToken,
    IdempotencyRecord,
    NotificationTarget,
    SlackUserMapping,
    new_secret,
)


class ApiTokenForm(forms.ModelForm):  # type: ignore[type-arg]
    scopes = forms.MultipleChoiceField(choices=[(s, s) for s in SCOPES],
                                       widget=forms.CheckboxSelectMultiple)
    services = forms.CharField(required=False, help_text="comma-separated names; empty = all")

    class Meta:
        model = ApiToken
        fields = ["name", "user", "scopes", "services", "via", "expires_at", "rate_limit"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["services"] = ", ".join(self.instance.services)

    def clean_services(self) -> list[str]:
        raw = self.cleaned_data.get("services") or ""
        return [n.strip() for n in raw.split(",") if n.strip()]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ApiTokenForm
    list_display = ["name", "prefix", "user", "scope_list", "service_list", "expires_at",
                    "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="services")
    def service_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.services) or "all"

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if not change:
            raw = new_secret()
            obj.set_secret(raw)
            obj.created_by = request.user  # type: ignore[assignment]
            super().save_model(request, obj, form, change)
            messages.warning(request, f"Token for '{obj.name}' (copy it now; it is not stored "
                                      f"and will not be shown again): {raw}")
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        n = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {n} token(s).")


@admin.register(SlackUserMapping)
class SlackUserMappingAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["team_id", "slack_user_id", "user", "verified_email", "created_at"]
    search_fields = ["slack_user_id", "user__username", "verified_email"]


class NotificationTargetForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = NotificationTarget
        fields = ["name", "kind", "url", "secret", "services", "events", "active"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        url, kind = cleaned.get("url"), cleaned.get("kind", "webhook")
        if url:
            try:
                outbound.check_syntax(url, kind)
            except outbound.OutboundRefused as exc:
                self.add_error("url", str(exc))
        return cleaned


@admin.register(NotificationTarget)
class NotificationTargetAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = NotificationTargetForm
    list_display = ["name", "kind", "url", "active"]
    list_filter = ["kind", "active"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["principal", "key", "status", "created_at"]
    search_fields = ["principal", "key"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
