"""Plain admin registrations (the custom pages are in ui/).

Every list and object is scoped to the Services the user may see (view_service and the
Service's allowed groups), filters included. Changes go through the service layer, which
checks permissions and writes the audit trail: Service/Cluster edits through
services.save_service and friends (dashboard/services/config.py), lock removal through
services.unlock_service. Release state fields are read-only: releases change only through
dashboard.services. Credentials in a git URL are never shown.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from dashboard import permissions, refs, services
from dashboard.adapters import reach
from dashboard.models import AuditEntry, Cluster, Lock, Release, ReleaseEvent, Service


def _visible(request: HttpRequest) -> QuerySet[Service]:
    return Service.objects.visible_to(request.user)


class NoBulkDelete:
    """Bulk delete would bypass the service layer (no checks, no audit): one at a time."""

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)  # type: ignore[misc]
        actions.pop("delete_selected", None)
        return actions


@admin.register(Cluster)
class ClusterAdmin(NoBulkDelete, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "gke_name", "context", "in_cluster", "reachable", "identity")

    @admin.display(description="reachable")
    def reachable(self, obj: Cluster) -> str:
        found = reach.probe(obj)
        return "yes" if found.ok else f"no: {found.detail}"

    @admin.display(description="as")
    def identity(self, obj: Cluster) -> str:
        return reach.probe(obj).identity

    def save_model(self, request: HttpRequest, obj: Cluster, form: Any, change: bool) -> None:
        services.save_cluster(actor=request.user, via="admin", cluster=obj,
                              changed=list(form.changed_data))

    def delete_model(self, request: HttpRequest, obj: Cluster) -> None:
        services.delete_cluster(actor=request.user, via="admin", cluster=obj)


class GitRepoInput(forms.TextInput):
    """Shows the URL with its credentials masked; an unchanged masked value keeps them."""

    def format_value(self, value: Any) -> str | None:
        return refs.redact(str(value)) if value else value


class ServiceForm(forms.ModelForm):  # type: ignore[type-arg]
    """The model's own checks, credentials in the git URL masked, and one check that needs
    the cluster: a rollout step must be smaller than the replicas the Deployment runs."""

    class Meta:
        model = Service
        fields = "__all__"  # noqa: DJ007 - the admin's own field set, as before
        widgets = {"git_repo": GitRepoInput(attrs={"size": 60})}

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

    def clean_git_repo(self) -> str:
        value = self.cleaned_data.get("git_repo") or ""
        original = self.instance.git_repo if self.instance.pk else ""
        if original and value == refs.redact(original):
            return original  # the masked form came back untouched
        return str(value)


@admin.register(Service)
class ServiceAdmin(NoBulkDelete, admin.ModelAdmin):  # type: ignore[type-arg]
    form = ServiceForm
    list_display = ("name", "cluster", "namespace", "deployment", "auto_rollback", "paused")
    list_select_related = ("cluster",)
    readonly_fields = ("paused", "paused_at")
    filter_horizontal = ("allowed_groups",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Service]:
        return super().get_queryset(request).filter(pk__in=_visible(request).values("pk"))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            # Read-only display shows raw values: show the redacted URL instead.
            fields = ["git_repo_redacted" if f == "git_repo" else f for f in fields]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*super().get_readonly_fields(request, obj), "git_repo_redacted")

    @admin.display(description="git repo")
    def git_repo_redacted(self, obj: Service) -> str:
        return refs.redact(obj.git_repo or "")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and (
            obj is None or permissions.may(request.user, "change_service", obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and (
            obj is None or permissions.may(request.user, "delete_service", obj))

    def save_model(self, request: HttpRequest, obj: Service, form: Any, change: bool) -> None:
        self._pending = (obj, list(form.changed_data))  # audited with its relations, below

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        obj, changed = self._pending

        def save() -> None:
            obj.save()
            super(ServiceAdmin, self).save_related(request, form, formsets, change)

        services.save_service(actor=request.user, via="admin", service=obj,
                              changed=changed, save=save)

    def delete_model(self, request: HttpRequest, obj: Service) -> None:
        services.delete_service(actor=request.user, via="admin", service=obj)


class ReleaseEventInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ReleaseEvent
    extra = 0
    can_delete = False
    readonly_fields = ("seq", "at", "kind", "state", "message", "data")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "service", "kind", "short_sha", "state", "requested_by", "via",
                    "created_at")
    # RelatedOnly: the filter lists only Services of releases the user may see.
    list_filter = ("state", "kind", "via", ("service", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("service", "requested_by")
    search_fields = ("commit_sha", "reason")
    inlines = [ReleaseEventInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Release]:
        return super().get_queryset(request).filter(service__in=_visible(request))

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [f.name for f in Release._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "at", "actor", "via", "action", "service", "release_id")
    list_filter = ("action", "via", "service")  # values come from the scoped queryset

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        names = _visible(request).values("name")
        return super().get_queryset(request).filter(Q(service__in=names) | Q(service=""))

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Lock)
class LockAdmin(NoBulkDelete, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("service", "owner_name", "reason", "created_at", "expires_at")
    readonly_fields = ("service", "owner", "owner_name", "reason", "created_at", "expires_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Lock]:
        return super().get_queryset(request).filter(service__in=_visible(request))

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Removing a lock is unlocking: the lock permission on that Service, not delete_lock.
        if obj is None:
            return super().has_delete_permission(request, obj) or bool(
                request.user.has_perm("dashboard.lock_service"))
        return permissions.can_lock(request.user, obj.service)

    def delete_model(self, request: HttpRequest, obj: Lock) -> None:
        services.unlock_service(service=obj.service, actor=request.user, via="admin",
                                reason="removed in the admin")
