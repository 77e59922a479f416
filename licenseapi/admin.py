"""Django admin for the license API (shared admin site; the dashboard role shows it too).
Every change goes through services.py so the change log stays complete; the key appears once,
in the message after creating a license or rotating its key."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from licenseapi import conf, services
from licenseapi.models import (
    Activation,
    License,
    LicenseChange,
    ProcessedStripeEvent,
    Product,
    StaffToken,
)


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "default_seats", "default_duration_days", "created_at"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}


class ActivationInline(admin.TabularInline):
    model = Activation
    extra = 0
    fields = readonly_fields = ("fingerprint", "hostname", "created_at", "last_seen")
    # Freeing a seat is done from the Activations list, which goes through services (logged).
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LicenseChangeInline(admin.TabularInline):
    model = LicenseChange
    extra = 0
    fields = readonly_fields = ("at", "actor", "action", "changes", "reason")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(License)
class LicenseAdmin(admin.ModelAdmin):
    list_display = [
        "masked_key",
        "product",
        "customer_email",
        "seats",
        "status",
        "expires_at",
        "created_at",
    ]
    list_filter = ["status", "product"]
    search_fields = ["key_prefix", "customer_email", "customer_name", "stripe_checkout_session_id"]
    list_select_related = ["product"]
    readonly_fields = [
        "id",
        "masked_key",
        "status",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
        "stripe_subscription_id",
        "stripe_customer_id",
        "created_at",
        "updated_at",
    ]
    fields = [
        "product",
        "customer_name",
        "customer_email",
        "seats",
        "expires_at",
        "metadata",
        *readonly_fields,
    ]
    inlines = [ActivationInline, LicenseChangeInline]
    actions = ["suspend_licenses", "reinstate_licenses", "revoke_licenses", "rotate_keys"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (
            self.fields
            if obj
            else ["product", "customer_name", "customer_email", "seats", "expires_at", "metadata"]
        )

    def save_model(self, request: HttpRequest, obj: License, form: Any, change: bool) -> None:
        if change:
            updates = {
                f: form.cleaned_data[f] for f in form.changed_data if f in services.EDITABLE_FIELDS
            }
            saved = services.update_license(obj.pk, updates, _actor(request))
            obj.updated_at = saved.updated_at
            return
        issued = services.issue_license(
            product=obj.product,
            actor=_actor(request),
            customer_name=obj.customer_name,
            customer_email=obj.customer_email,
            seats=obj.seats,
            expires_at=obj.expires_at,
            metadata=obj.metadata or {},
        )
        # The admin continues with `obj` (redirects, log entry): make it the saved row.
        for field in License._meta.concrete_fields:
            setattr(obj, field.attname, getattr(issued.license, field.attname))
        obj._state.adding = False
        obj._state.db = issued.license._state.db
        messages.warning(request, f"License key (shown only now, copy it): {issued.key}")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # licenses are revoked, not deleted: their history must stay

    def _transition(self, request: HttpRequest, queryset: QuerySet[License], action: str) -> None:
        done, failed = 0, 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                services.change_status(pk, action, _actor(request), reason="admin action")
                done += 1
            except services.InvalidTransition:
                failed += 1
        self.message_user(
            request, f"{action}: {done} license(s) done, {failed} not allowed from their status."
        )

    @admin.action(description="Suspend selected licenses")
    def suspend_licenses(self, request: HttpRequest, queryset: QuerySet[License]) -> None:
        self._transition(request, queryset, "suspend")

    @admin.action(description="Reinstate selected licenses")
    def reinstate_licenses(self, request: HttpRequest, queryset: QuerySet[License]) -> None:
        self._transition(request, queryset, "reinstate")

    @admin.action(description="Revoke selected licenses (final)")
    def revoke_licenses(self, request: HttpRequest, queryset: QuerySet[License]) -> None:
        self._transition(request, queryset, "revoke")

    @admin.action(description="Rotate key (new key shown once; the old one stops working)")
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[License]) -> None:
        for pk in queryset.values_list("pk", flat=True):
            lic, key = services.rotate_key(pk, _actor(request))
            messages.warning(request, f"New key for {lic.masked_key} (shown only now): {key}")


@admin.register(Activation)
class ActivationAdmin(admin.ModelAdmin):
    list_display = ["fingerprint", "hostname", "license", "created_at", "last_seen", "live"]
    search_fields = ["fingerprint", "hostname", "license__key_prefix"]
    list_select_related = ["license", "license__product"]
    readonly_fields = ["license", "fingerprint", "hostname", "created_at", "last_seen"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # activations come from machines, via the API

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # read-only; deleting one frees its seat

    def delete_model(self, request: HttpRequest, obj: Activation) -> None:
        services.remove_activations([obj.pk], _actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Activation]) -> None:
        services.remove_activations(list(queryset.values_list("pk", flat=True)), _actor(request))

    @admin.display(boolean=True)
    def live(self, obj: Activation) -> bool:
        return obj.is_live(timezone.now(), conf.activation_ttl())


@admin.register(StaffToken)
class StaffTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "scopes", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["name", "prefix", "scopes", "expires_at", "created_at", "last_used_at"]
    fields = ["name", "prefix", "scopes", "expires_at", "created_at", "last_used_at",
              "revoked_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are created by `manage.py create_license_staff_token NAME`


@admin.register(ProcessedStripeEvent)
class ProcessedStripeEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "event_type", "license", "processed_at"]
    readonly_fields = ["event_id", "event_type", "license", "processed_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
