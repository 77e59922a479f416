"""Request and response shapes of /api/v1/ (also what the OpenAPI schema describes)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dashboard import states
from dashboard.models import AuditEntry, Lock, Release, ReleaseEvent


class ReleaseCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    service = serializers.CharField(max_length=63)
    commit = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                   help_text="full or abbreviated commit SHA; omit it to "
                                   "deploy the commit `ref` points at now")
    ref = serializers.CharField(max_length=255, required=False, allow_blank=True, default="",
                                help_text="branch or tag; looked up in the service's git "
                                "repository when no commit is given")
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    force_reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="",
        help_text="deploy through a lock (needs the force permission and admin scope)")


class ReasonSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RollbackSerializer(ReasonSerializer):
    to_release = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**53,
        help_text="the earlier succeeded release to go back to; default: the previous one")


class LockSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField(max_length=2000)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class EventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ReleaseEvent
        fields = ["seq", "at", "kind", "state", "message", "data"]


class ReleaseSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    service = serializers.CharField(source="service.name", read_only=True)
    commit = serializers.CharField(source="commit_sha", read_only=True)
    requested_by = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    terminal = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = ["id", "url", "service", "kind", "commit", "ref", "image", "state", "terminal",
                  "via", "requested_by", "reason", "rollback_of", "created_at", "started_at",
                  "finished_at"]
        read_only_fields = fields

    def get_requested_by(self, obj: Release) -> str | None:
        return obj.requested_by.get_username() if obj.requested_by else None

    def get_url(self, obj: Release) -> str:
        return reverse("dashboard_api:release-detail", args=[obj.pk])

    def get_terminal(self, obj: Release) -> bool:
        return obj.state in states.TERMINAL


class ReleaseDetailSerializer(ReleaseSerializer):
    timeline = EventSerializer(source="events", many=True, read_only=True)

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "image_digest", "build_id", "image_before",
                  "revision_before", "revision_after", "timings", "failure_summary",
                  "force_reason", "superseded_by", "timeline"]
        read_only_fields = fields


class LockInfoSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    owner = serializers.CharField(source="owner_name")

    class Meta:
        model = Lock
        fields = ["owner", "reason", "created_at", "expires_at"]


class ReleaseBriefSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    state = serializers.CharField()
    kind = serializers.CharField()
    commit = serializers.CharField()
    image = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ServiceSummarySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The live summary: what is deployed, what is running now, queue, pause and lock."""

    name = serializers.CharField()
    url = serializers.CharField()
    cluster = serializers.CharField()
    namespace = serializers.CharField()
    deployment = serializers.CharField()
    paused = serializers.BooleanField()
    lock = serializers.SerializerMethodField()
    current = ReleaseBriefSerializer(allow_null=True)
    active = ReleaseBriefSerializer(allow_null=True)
    queued = serializers.IntegerField()

    @extend_schema_field(LockInfoSerializer(allow_null=True))
    def get_lock(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        lock = obj["lock"]
        return LockInfoSerializer(lock).data if lock is not None else None


class AuditEntrySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "via", "action", "service", "release_id", "reason",
                  "payload", "prev_hash", "hash"]
        read_only_fields = fields
