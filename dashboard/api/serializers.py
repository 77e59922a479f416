"""Request and response shapes of /api/v1/ (also what the OpenAPI schema describes)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dashboard import states
from dashboard.api.fields import (
    NOT_BLANK,
    OPTIONAL_COMMIT_SHA,
    OPTIONAL_REF_NAME,
    SERVICE_NAME,
    Rfc3339DateTimeField,
    StrictCharField,
    StrictIntegerField,
)
from dashboard.models import AuditEntry, Lock, Release, ReleaseEvent


class ReleaseCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    service = StrictCharField(max_length=63, pattern=SERVICE_NAME,
                              help_text="the service's name (an unknown one: 422)")
    commit = StrictCharField(max_length=40, required=False, allow_blank=True, default="",
                             pattern=OPTIONAL_COMMIT_SHA,
                             help_text="full or abbreviated commit SHA; omit it to deploy the "
                             "commit `ref` points at now")
    ref = StrictCharField(max_length=200, required=False, allow_blank=True, default="",
                          pattern=OPTIONAL_REF_NAME,
                          help_text="branch or tag; looked up in the service's git repository "
                          "when no commit is given (one that does not exist: 422)")
    reason = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")
    force_reason = StrictCharField(
        max_length=2000, required=False, allow_blank=True, default="",
        help_text="deploy through a lock (break-glass: needs the token's 'force' scope and the "
                  "force_lock permission)")

    # What the fields alone cannot say (ApiSchema._map_serializer adds it to the schema).
    json_schema_extra = {"anyOf": [
        {"required": ["commit"], "properties": {"commit": {"minLength": 7}}},
        {"required": ["ref"], "properties": {"ref": {"minLength": 1}}},
    ]}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["commit"] and not attrs["ref"]:
            raise serializers.ValidationError(
                {"commit": ["Give a commit SHA or a ref (branch or tag)."]})
        return attrs


class ReasonSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean: not "true", not 1."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class RollbackSerializer(ReasonSerializer):
    to_release = StrictIntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**53,
        help_text="the earlier succeeded release of this service to go back to (one that "
        "is not: 422); default: the previous one")
    acknowledge_schema_change = StrictBooleanField(
        required=False, default=False,
        help_text="roll back even past releases whose pre-deploy Job changed the schema "
        "(without it such a rollback answers 409 naming them)")


class RevisionRollbackSerializer(ReasonSerializer):
    revision = serializers.IntegerField(
        min_value=1, max_value=2**31, help_text="the Deployment revision to go back to")
    acknowledge_schema_change = StrictBooleanField(
        required=False, default=False,
        help_text="roll back even past releases whose pre-deploy Job changed the schema "
        "(without it such a rollback answers 409 naming them)")


class RevisionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    number = serializers.IntegerField()
    replicaset = serializers.CharField()
    image = serializers.CharField()
    change_cause = serializers.CharField()
    desired = serializers.IntegerField()
    current = serializers.IntegerField()
    ready = serializers.IntegerField()
    created = serializers.CharField()
    serving = serializers.BooleanField()
    release_id = serializers.IntegerField(allow_null=True)


class LockSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = StrictCharField(max_length=2000, pattern=NOT_BLANK,
                             message="say why the service is locked")
    expires_at = Rfc3339DateTimeField(required=False, allow_null=True, default=None,
                                      help_text="when the lock lapses (not in the future: 422)")


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


class ReleaseAcceptedSerializer(ReleaseSerializer):
    """What a 202 answers: the release, and where to follow it (also its Location)."""

    status_url = serializers.CharField(read_only=True, help_text="GET it for the progress")

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "status_url"]
        read_only_fields = fields


class ReleaseDetailSerializer(ReleaseSerializer):
    timeline = EventSerializer(source="events", many=True, read_only=True)

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "image_digest", "build_id", "image_before",
                  "revision_before", "revision_after", "timings", "failure_summary",
                  "force_reason", "superseded_by", "pre_deploy_job", "pre_deploy_exit_code",
                  "pre_deploy_log", "rollout_step", "timeline"]
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


class ProblemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """RFC 9457 problem details: the body of every error answer (application/problem+json)."""

    type = serializers.CharField(help_text="a URI naming the kind of problem, "
                                 "urn:deploy-dashboard:problem:<code>")
    title = serializers.CharField(help_text="the HTTP status phrase")
    status = serializers.IntegerField(min_value=400, max_value=599)
    detail = serializers.CharField(help_text="what went wrong, for people")
    code = serializers.CharField(help_text="a stable machine-readable code, e.g. invalid, "
                                 "not_found, locked, throttled")
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="field name -> messages, when the request had invalid fields")
    owner = serializers.CharField(required=False, help_text="a lock's owner (code locked)")
    reason = serializers.CharField(required=False, help_text="a lock's reason (code locked)")
    expires_at = serializers.DateTimeField(required=False, allow_null=True,
                                           help_text="when a lock lapses (code locked)")
    retry_after = serializers.IntegerField(required=False, min_value=1,
                                           help_text="seconds to wait (code throttled)")
