"""Plain admin registrations (the admin-UI engineer adds the custom views in views.py).

State fields are read-only: releases change only through dashboard.services.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from dashboard import services
from dashboard.adapters import reach
from dashboard.models import AuditEntry, Cluster, Lock, Release, ReleaseEvent, Service


class ServiceForm(forms.ModelForm):  # type: ignore[type-arg]
    """The model's own checks, plus one that needs the cluster: a rollout step must be
    smaller than the replicas the Deployment runs."""

    class Meta:
        model = Service
        exclude: list[str] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and data.get("rollout_steps") and data.get("cluster"):
            try:
                services.check_rollout_steps(
                    cluster=data["cluster"], namespace=data.get("namespace", "default"),
                    deployment=data.get("deployment", ""), steps=data["rollout_steps"])
            except services.InvalidRequest as exc:
                self.add_error(exc.field, exc.message)
        return data


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ("name", "gke_name", "context", "in_cluster", "reachable", "identity")

    @admin.display(description="reachable")
    def reachable(self, obj: Cluster) -> str:
        found = reach.probe(obj)
        return "yes" if found.ok else f"no: {found.detail}"

    @admin.display(description="as")
    def identity(self, obj: Cluster) -> str:
        return reach.probe(obj).identity


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceForm
    list_display = ("name", "cluster", "namespace", "deployment", "auto_rollback", "paused")
    list_select_related = ("cluster",)
    readonly_fields = ("paused", "paused_at")
    filter_horizontal = ("allowed_groups",)


class ReleaseEventInline(admin.TabularInline):
    model = ReleaseEvent
    extra = 0
    can_delete = False
    readonly_fields = ("seq", "at", "kind", "state", "message", "data")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ("id", "service", "kind", "short_sha", "state", "requested_by", "via",
                    "created_at")
    list_filter = ("state", "kind", "via", "service")
    list_select_related = ("service", "requested_by")
    search_fields = ("commit_sha", "reason")
    inlines = [ReleaseEventInline]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [f.name for f in Release._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("id", "at", "actor", "via", "action", "service", "release_id")
    list_filter = ("action", "via", "service")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Lock)
class LockAdmin(admin.ModelAdmin):
    list_display = ("service", "owner_name", "reason", "created_at", "expires_at")
    readonly_fields = ("service", "owner", "owner_name", "reason", "created_at", "expires_at")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
