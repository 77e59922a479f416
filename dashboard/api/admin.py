"""Admin for API tokens (the secret is shown once, on creation), Slack user mappings and
notification targets. Idempotency records are visible read-only for support."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest

from dashboard.adapters import outbound
from dashboard.api import access
from dashboard.api.models import (
    SCOPES,
    ApiToken,
    IdempotencyRecord,
    NotificationTarget,
    SlackUserMapping,
)
from dashboard.errors import NotAllowed
from dashboard.models import Service


class ApiTokenForm(forms.ModelForm):  # type: ignore[type-arg]
    scopes = forms.MultipleChoiceField(choices=[(s, s) for s in SCOPES],
                                       widget=forms.CheckboxSelectMultiple)
    services = forms.CharField(required=False, help_text="comma-separated names; empty = all")
    actor: Any = None  # set by ApiTokenAdmin.get_form: the signed-in user

    class Meta:
        model = ApiToken
        fields = ["name", "user", "scopes", "services", "via", "expires_at", "rate_limit"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["services"] = ", ".join(self.instance.services)
        if "user" in self.fields and self.actor is not None and not self.actor.is_superuser:
            # Only superusers make tokens that act as someone else.
            self.fields["user"].queryset = (  # type: ignore[attr-defined]
                get_user_model().objects.filter(pk=self.actor.pk))
            self.fields["user"].initial = self.actor.pk

    def clean_services(self) -> list[str]:
        raw = self.cleaned_data.get("services") or ""
        return [n.strip() for n in raw.split(",") if n.strip()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.actor is not None:
            problems = access.check_token_grant(self.actor, cleaned.get("user"),
                                                list(cleaned.get("scopes") or []))
            for field, problem in problems.items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, problem)
        return cleaned


def _refused(request: HttpRequest, exc: NotAllowed) -> None:
    messages.error(request, str(exc))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Every change goes through dashboard.api.access (permission checks, audit trail)."""

    form = ApiTokenForm
    list_display = ["name", "prefix", "user", "scope_list", "service_list", "expires_at",
                    "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(user=request.user)

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deletes one by one, through access
        return actions

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="services")
    def service_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.services) or "all"

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            token, raw = access.issue_token(
                actor=request.user, via="admin", name=data["name"], user=data["user"],
                scopes=list(data["scopes"]), services=data["services"],
                token_via=data["via"], expires_at=data.get("expires_at"),
                rate_limit=data.get("rate_limit"))
            obj.pk = token.pk
            messages.warning(request, f"Token for '{token.name}' (copy it now; it is not stored "
                                      f"and will not be shown again): {raw}")
            return
        fields = {"via": "token_via"}
        changes = {fields.get(f, f): data[f] for f in form.changed_data if f in data}
        access.change_token(actor=request.user, via="admin",
                            token=ApiToken.objects.get(pk=obj.pk), **changes)

    def delete_model(self, request: HttpRequest, obj: ApiToken) -> None:
        access.delete_token(actor=request.user, via="admin", token=obj)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        try:
            n = access.revoke_tokens(actor=request.user, via="admin", tokens=queryset)
        except NotAllowed as exc:
            return _refused(request, exc)
        self.message_user(request, f"Revoked {n} token(s).")


class SlackUserMappingForm(forms.ModelForm):  # type: ignore[type-arg]
    actor: Any = None

    class Meta:
        model = SlackUserMapping
        fields = ["team_id", "slack_user_id", "user", "verified_email"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        problem = access.check_mapping(self.actor, cleaned.get("user"))
        if problem:
            self.add_error("user", problem)
        return cleaned


@admin.register(SlackUserMapping)
class SlackUserMappingAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Needs the dedicated map_slack_user permission on top of the model permissions."""

    form = SlackUserMappingForm
    list_display = ["team_id", "slack_user_id", "user", "verified_email", "created_at"]
    search_fields = ["slack_user_id", "user__username", "verified_email"]

    def _may_map(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("dashboard_api.map_slack_user"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_map(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_map(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_map(request) and super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request: HttpRequest, obj: SlackUserMapping, form: Any,
                   change: bool) -> None:
        access.save_mapping(actor=request.user, via="admin", mapping=obj)

    def delete_model(self, request: HttpRequest, obj: SlackUserMapping) -> None:
        access.delete_mapping(actor=request.user, via="admin", mapping=obj)


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
    list_display = ["name", "kind", "active"]  # the URL can itself be a secret (Slack)
    list_filter = ["kind", "active"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[NotificationTarget]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        # Targets of Services the user may not see stay hidden (a small table: filtered here).
        visible = set(Service.objects.visible_to(request.user).values_list("name", flat=True))
        return qs.filter(pk__in=[t.pk for t in qs if set(t.services) <= visible])

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request: HttpRequest, obj: NotificationTarget, form: Any,
                   change: bool) -> None:
        access.save_target(actor=request.user, via="admin", target=obj)

    def delete_model(self, request: HttpRequest, obj: NotificationTarget) -> None:
        access.delete_target(actor=request.user, via="admin", target=obj)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["principal", "key", "status", "created_at"]
    search_fields = ["principal", "key"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
