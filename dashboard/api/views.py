"""/api/v1/ endpoints. Each one checks scopes and permissions, then calls dashboard.services:
no deploy logic lives here."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from dashboard import permissions, services, states
from dashboard.api import serializers as s
from dashboard.api.base import MAX_ID, ApiView, GenericApiView
from dashboard.api.errors import Unprocessable
from dashboard.api.idempotency import idempotent, principal_of
from dashboard.api.params import (
    AUDIT_FILTERS,
    DEPLOY_EXAMPLE,
    EXPORT,
    IDEMPOTENCY,
    LIST_FILTERS,
    LOCATION,
    LOCK_EXAMPLE,
    REASON_EXAMPLE,
    RELEASE_ID,
    SERVICE,
    Cursor,
    enum,
    query,
    since,
)
from dashboard.api.permissions import check_service, has_scope, token_of
from dashboard.api.queries import service_summaries, visible_services
from dashboard.api.renderers import CSVRenderer
from dashboard.models import AuditEntry, Release, ReleaseEvent, Service

EXPORT_LIMIT = 10_000

def _via(request: Request) -> str:
    token = token_of(request)
    return token.via if token is not None else "api"


def _service(request: Request, name: str, field: str | None = None) -> Service:
    """The named service if this request may see it; 400 (for a body field) or 404 otherwise."""
    token = token_of(request)
    service = Service.objects.select_related("cluster").filter(name=name).first()
    if service is not None and token is not None and not token.allows_service(name):
        service = None
    if service is not None and not permissions.can_view(request.user, service):
        service = None
    if service is None:
        if field:
            raise Unprocessable({field: [f"Unknown service '{name}'."]})
        raise exceptions.NotFound(f"No service '{name}'.")
    return service


def _visible_releases(request: Request) -> QuerySet[Release]:
    return Release.objects.for_list().filter(service__in=visible_services(request))


def _accepted(release: Release, status: int = 202, user: Any = None) -> Response:
    if user is not None and release.requested_by_id == user.pk:
        release.requested_by = user  # spare the serializer a query
    location = reverse("dashboard_api:release-detail", args=[release.pk])
    body = {**s.ReleaseSerializer(release).data, "status_url": location}  # ReleaseAccepted
    return Response(body, status=status, headers={"Location": location})


class ReleaseList(GenericApiView):
    scope_map = {"GET": "read", "POST": "deploy"}
    pagination_class = Cursor
    serializer_class = s.ReleaseSerializer

    def get_queryset(self) -> QuerySet[Release]:
        qs = _visible_releases(self.request)
        request = self.request
        if (service := query(request, "service")) is not None:
            qs = qs.filter(service__name=service)
        if (state := query(request, "state")) is not None:
            wanted = state.split(",")
            unknown = sorted(set(wanted) - set(states.ALL))
            if unknown:
                raise exceptions.ValidationError({"state": [f"Unknown state(s): {unknown}."]})
            qs = qs.filter(state__in=wanted)
        if (via := enum(request, "via", states.VIAS)) is not None:
            qs = qs.filter(via=via)
        if (user := query(request, "user")) is not None:
            qs = qs.filter(requested_by__username=user)
        if (after := since(request)) is not None:
            qs = qs.filter(created_at__gte=after)
        return qs

    @extend_schema(parameters=LIST_FILTERS, responses={200: s.ReleaseSerializer(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.ReleaseSerializer(page, many=True).data)

    @extend_schema(request=s.ReleaseCreateSerializer, parameters=[IDEMPOTENCY, LOCATION],
                   responses={202: s.ReleaseAcceptedSerializer}, examples=[DEPLOY_EXAMPLE])
    @idempotent
    def post(self, request: Request) -> Response:
        data = _validated(s.ReleaseCreateSerializer, request)
        service = _service(request, data["service"], field="service")
        check_service(request, service, "deploy")
        if data["force_reason"] and not has_scope(request, "force"):
            raise exceptions.PermissionDenied(
                "force_reason breaks a lock: this token lacks the 'force' scope.")
        key = request.headers.get("Idempotency-Key", "").strip()
        try:
            release = services.request_release(
                service=service, commit=data["commit"], ref=data["ref"], actor=request.user,
                via=_via(request), reason=data["reason"],
                idempotency_key=f"{principal_of(request)}:{key}"[:200] if key else None,
                force_reason=data["force_reason"] or None,
            )
        except services.InvalidRequest as exc:
            if exc.field not in ("commit", "ref"):
                raise
            # The request's shape was checked above: a ref that does not exist, or no git
            # repository to look one up in.
            raise Unprocessable({exc.field: [exc.message]}) from None
        return _accepted(release, user=request.user)


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> Any:  # type: ignore[type-arg]
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ReleaseDetail(ApiView):
    @extend_schema(parameters=[RELEASE_ID], responses={200: s.ReleaseDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        events = Prefetch("events", queryset=ReleaseEvent.objects.order_by("seq"))
        release = get_object_or_404(_visible_releases(request).prefetch_related(events), pk=pk)
        return Response(s.ReleaseDetailSerializer(release).data)


class ReleaseCancel(ApiView):
    required_scope = "deploy"

    @extend_schema(request=s.ReasonSerializer, parameters=[RELEASE_ID, IDEMPOTENCY],
                   responses={200: s.ReleaseSerializer}, examples=[REASON_EXAMPLE])
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        data = _validated(s.ReasonSerializer, request)
        release = get_object_or_404(_visible_releases(request), pk=pk)
        check_service(request, release.service, "deploy")
        release = services.cancel_release(release=release, actor=request.user,
                                          via=_via(request), reason=data["reason"])
        return Response(s.ReleaseSerializer(release).data)


class ReleaseContinue(ApiView):
    """"Continue now": end the bake of the release's current rollout step early (409 when
    no step is baking). Rolling the step back instead is `cancel/`."""

    required_scope = "deploy"

    @extend_schema(request=s.ReasonSerializer, parameters=[RELEASE_ID, IDEMPOTENCY],
                   responses={200: s.ReleaseSerializer}, examples=[REASON_EXAMPLE])
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        data = _validated(s.ReasonSerializer, request)
        release = get_object_or_404(_visible_releases(request), pk=pk)
        check_service(request, release.service, "deploy")
        release = services.continue_step(release=release, actor=request.user,
                                         via=_via(request), reason=data["reason"])
        return Response(s.ReleaseSerializer(release).data)


class ReleaseRollback(ApiView):
    """Roll the release's service back: to `to_release` if given, else to the release before
    the current one (services.request_rollback decides)."""

    required_scope = "rollback"

    @extend_schema(request=s.RollbackSerializer, parameters=[RELEASE_ID, IDEMPOTENCY, LOCATION],
                   responses={202: s.ReleaseAcceptedSerializer}, examples=[REASON_EXAMPLE])
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        data = _validated(s.RollbackSerializer, request)
        release = get_object_or_404(_visible_releases(request), pk=pk)
        check_service(request, release.service, "rollback")
        target = None
        if data["to_release"] is not None:
            target = Release.objects.filter(pk=data["to_release"],
                                            service=release.service).first()
            if target is None:
                raise Unprocessable(
                    {"to_release": [f"No release {data['to_release']} of this service."]})
        try:
            rollback = services.request_rollback(service=release.service, actor=request.user,
                                                 via=_via(request), reason=data["reason"],
                                                 to_release=target,
                                                 acknowledge_schema_change=data[
                                                     "acknowledge_schema_change"])
        except services.InvalidRequest as exc:
            if exc.field != "to_release":
                raise
            # Nothing (else) succeeded to go back to: the request is fine, the history not.
            raise Unprocessable({exc.field: [exc.message]}) from None
        return _accepted(rollback, user=request.user)


class ServiceList(ApiView):
    @extend_schema(responses={200: s.ServiceSummarySerializer(many=True)})
    def get(self, request: Request) -> Response:
        rows = service_summaries(visible_services(request))
        return Response(s.ServiceSummarySerializer(rows, many=True).data)


class ServiceDetail(ApiView):
    @extend_schema(parameters=[SERVICE], responses={200: s.ServiceSummarySerializer})
    def get(self, request: Request, name: str) -> Response:
        rows = service_summaries(visible_services(request).filter(name=name))
        if not rows:
            raise exceptions.NotFound(f"No service '{name}'.")
        return Response(s.ServiceSummarySerializer(rows[0]).data)


class ServiceRevisions(ApiView):
    """GET: the Deployment's revisions (`kubectl rollout history` / `get rs`), newest first.
    POST: roll back to one of them (`rollout undo --to-revision`): a rollback release of the
    succeeded release that ran that revision's image (scope: rollback)."""

    scope_map = {"GET": "read", "POST": "rollback"}

    @extend_schema(parameters=[SERVICE], responses={200: s.RevisionSerializer(many=True)})
    def get(self, request: Request, name: str) -> Response:
        service = _service(request, name)
        rows = [r.to_dict() for r in services.revisions(service)]
        return Response(s.RevisionSerializer(rows, many=True).data)

    @extend_schema(request=s.RevisionRollbackSerializer,
                   parameters=[SERVICE, IDEMPOTENCY, LOCATION],
                   responses={202: s.ReleaseAcceptedSerializer})
    @idempotent
    def post(self, request: Request, name: str) -> Response:
        data = _validated(s.RevisionRollbackSerializer, request)
        service = _service(request, name)
        check_service(request, service, "rollback")
        try:
            rollback = services.request_rollback_to_revision(
                service=service, revision=data["revision"], actor=request.user,
                via=_via(request), reason=data["reason"],
                acknowledge_schema_change=data["acknowledge_schema_change"])
        except services.InvalidRequest as exc:
            if exc.field != "revision":
                raise
            # A well-formed number the Deployment's history cannot go back to.
            raise Unprocessable({exc.field: [exc.message]}) from None
        return _accepted(rollback, user=request.user)


def _service_summary(request: Request, service: Service, status: int = 200) -> Response:
    rows = service_summaries(Service.objects.filter(pk=service.pk))
    return Response(s.ServiceSummarySerializer(rows[0]).data, status=status)


class ServiceAction(ApiView):
    action = ""
    serializer: type[serializers.Serializer] = s.ReasonSerializer  # type: ignore[type-arg]

    @idempotent
    def post(self, request: Request, name: str) -> Response:
        data = _validated(self.serializer, request)
        service = _service(request, name)
        check_service(request, service, "pause" if self.action in ("pause", "resume") else "lock")
        common: dict[str, Any] = {"service": service, "actor": request.user,
                                  "via": _via(request)}
        if self.action == "pause":
            services.pause_service(**common, reason=data["reason"])
        elif self.action == "resume":
            services.resume_service(**common, reason=data["reason"])
        elif self.action == "lock":
            expires_at = data["expires_at"]
            if expires_at is not None and expires_at <= timezone.now():
                raise Unprocessable({"expires_at": ["must be in the future"]})
            services.lock_service(**common, reason=data["reason"], expires_at=expires_at)
        else:
            services.unlock_service(**common, reason=data["reason"])
        return _service_summary(request, service)


def _action_view(action: str, scope: str, serializer: Any) -> type[ServiceAction]:
    def post(self: ServiceAction, request: Request, name: str) -> Response:
        return ServiceAction.post(self, request, name)

    decorated = extend_schema(
        request=serializer, parameters=[SERVICE, IDEMPOTENCY],
        examples=[LOCK_EXAMPLE if action == "lock" else REASON_EXAMPLE],
        responses={200: s.ServiceSummarySerializer}, operation_id=f"services_{action}",
        description=f"{action.title()} the service (scope: {scope}).",
    )(post)
    return type(f"Service{action.title()}", (ServiceAction,), {
        "action": action, "required_scope": scope, "serializer": serializer, "post": decorated,
        "__doc__": f"{action.title()} the service (scope: {scope}).",
    })


ServicePause = _action_view("pause", "pause", s.ReasonSerializer)
ServiceResume = _action_view("resume", "pause", s.ReasonSerializer)
ServiceLock = _action_view("lock", "lock", s.LockSerializer)
ServiceUnlock = _action_view("unlock", "lock", s.ReasonSerializer)


def _audit(request: Request) -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.all()
    token = token_of(request)
    sees_all = request.user.is_superuser and (token is None or (
        token.has_scope("admin") and not token.services))
    if not sees_all:
        names = list(visible_services(request).values_list("name", flat=True))
        qs = qs.filter(service__in=names)
    for param in ("service", "action", "actor", "via"):
        if (value := query(request, param)) is not None:
            qs = qs.filter(**{param: value})
    if (release := query(request, "release")) is not None:
        if not release.isascii() or not release.isdigit() or int(release) > MAX_ID:
            raise exceptions.ValidationError({"release": ["A release id."]})
        qs = qs.filter(release_id=int(release))
    if (after := since(request)) is not None:
        qs = qs.filter(at__gte=after)
    return qs


class AuditList(GenericApiView):
    pagination_class = Cursor
    serializer_class = s.AuditEntrySerializer

    @extend_schema(parameters=AUDIT_FILTERS, responses={200: s.AuditEntrySerializer(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(_audit(request))
        return self.get_paginated_response(s.AuditEntrySerializer(page, many=True).data)


class AuditExport(ApiView):
    """The filtered audit trail as one JSON array or CSV (?format=csv or Accept: text/csv),
    oldest first, at most 10 000 entries."""

    renderer_classes = [JSONRenderer, CSVRenderer]
    csv_fields = s.AuditEntrySerializer.Meta.fields

    @extend_schema(
        parameters=EXPORT,
        responses={
            (200, "application/json"): s.AuditEntrySerializer(many=True),
            (200, "text/csv"): OpenApiResponse(
                {"type": "string"},
                description="a header row, then one row per entry (payload as JSON)"),
        },
    )
    def get(self, request: Request) -> Response:
        rows = s.AuditEntrySerializer(_audit(request).order_by("id")[:EXPORT_LIMIT],
                                      many=True).data
        ext = "csv" if isinstance(request.accepted_renderer, CSVRenderer) else "json"
        return Response(rows, headers={
            "Content-Disposition": f'attachment; filename="audit.{ext}"'})

