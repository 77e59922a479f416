"""GET /api/v1/metrics/dora/: the four DORA measures (deployment frequency, lead time for
changes, change failure rate, time to restore) per service and environment, as JSON or CSV.
The same figures as the admin's metrics page (dashboard.services.dora computes both), for
scripts and reports; only of the services the token (and its user) may view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from dashboard.api.base import ApiView
from dashboard.api.errors import Unprocessable
from dashboard.api.fields import SERVICE_NAME, parse_rfc3339
from dashboard.api.params import ecma, query
from dashboard.api.queries import visible_services
from dashboard.api.renderers import CSVRenderer
from dashboard.services import dora

DEFAULT_DAYS, MAX_DAYS = 28, 366
# The reads reach back twice the window (dora.figures): dates this early would not fit.
EARLIEST = datetime(3, 1, 1, tzinfo=UTC)
NAME = {"type": "string", "pattern": ecma(SERVICE_NAME), "maxLength": 63}

PARAMETERS = [
    OpenApiParameter("service", NAME, description="only this service (default: every service "
                     "the token may view); 422 for one it may not or that does not exist"),
    OpenApiParameter("environment", NAME, description=(
        "only this environment; 422 for one that does not exist. Releases carry no "
        f"environment yet: all are in '{dora.IMPLICIT_ENVIRONMENT}'")),
    OpenApiParameter("window", {"type": "integer", "minimum": 1, "maximum": MAX_DAYS},
                     description=f"days ending at `until` (default {DEFAULT_DAYS}); not "
                                 "together with `since` (422)"),
    OpenApiParameter("since", OpenApiTypes.DATETIME,
                     description="start of the window (instead of `window`)"),
    OpenApiParameter("until", OpenApiTypes.DATETIME,
                     description="end of the window (default: now); after `since`, at most "
                                 f"{MAX_DAYS} days after it (else 422)"),
    OpenApiParameter("format", str, enum=["json", "csv"],
                     description="instead of an Accept header: json (default) or csv"),
]


class DoraFiguresSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One line of figures: a service in an environment over the window."""

    service = serializers.CharField()
    environment = serializers.CharField()
    window_days = serializers.FloatField()
    deploys = serializers.IntegerField(help_text="finished deploys (succeeded, failed, "
                                       "rolled back) in the window")
    succeeded = serializers.IntegerField()
    failures = serializers.IntegerField()
    deploys_per_week = serializers.FloatField(help_text="deployment frequency: successful "
                                              "deploys per week")
    change_failure_rate = serializers.FloatField(
        allow_null=True, help_text="failed or rolled-back deploys / finished deploys (0..1)")
    time_to_restore_seconds = serializers.FloatField(
        allow_null=True, help_text="median, from a failed deploy's start to a good release "
        "serving again")
    lead_time_seconds = serializers.FloatField(
        allow_null=True, help_text="median, from the commit (git) to the deploy that put it "
        "in production")
    median_deploy_seconds = serializers.FloatField(allow_null=True)


class DoraReportSerializer(serializers.Serializer):  # type: ignore[type-arg]
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    window_days = serializers.FloatField()
    environment = serializers.CharField(allow_null=True,
                                        help_text="the environment asked for, if any")
    metrics = DoraFiguresSerializer(many=True)


def _date(request: Request, name: str) -> datetime | None:
    raw = query(request, name)
    if raw is None:
        return None
    value = parse_rfc3339(raw)
    if value is None:
        raise exceptions.ValidationError(
            {name: ["Use an RFC 3339 date-time, e.g. 2030-01-31T12:00:00Z."]})
    return value


def _window(request: Request) -> tuple[datetime, datetime]:
    """[since, until] from window/since/until: malformed values are 400, combinations that
    cannot be used 422 (the schema cannot say them)."""
    raw = query(request, "window")
    days = None
    if raw is not None:
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
            raise exceptions.ValidationError(
                {"window": [f"A whole number of days from 1 to {MAX_DAYS}."]})
        days = int(raw)
    since, until = _date(request, "since"), _date(request, "until")
    if days is not None and since is not None:
        raise Unprocessable({"window": ["Give `window` or `since`, not both."]})
    until = until or timezone.now()
    if (since or until) < EARLIEST:
        raise Unprocessable({"until" if since is None else "since": [
            f"Too early: the figures start at {EARLIEST.date().isoformat()}."]})
    since = since or until - timedelta(days=days or DEFAULT_DAYS)
    if since >= until:
        raise Unprocessable({"since": ["Must be before `until`."]})
    if until - since > timedelta(days=MAX_DAYS):
        raise Unprocessable({"since": [f"The window is at most {MAX_DAYS} days."]})
    return since, until


class DoraMetrics(ApiView):
    """The four DORA measures per service and environment over a window (default: the last
    28 days), as JSON or as CSV (?format=csv or Accept: text/csv; one row per line of
    figures, with the window's since/until)."""

    renderer_classes = [JSONRenderer, CSVRenderer]
    csv_fields = (*dora.EXPORT_FIELDS, "since", "until")
    extra_problems = (422,)

    @extend_schema(
        parameters=PARAMETERS,
        responses={
            (200, "application/json"): DoraReportSerializer,
            (200, "text/csv"): OpenApiResponse(
                {"type": "string"},
                description="a header row, then one row per service and environment"),
        },
    )
    def get(self, request: Request) -> Response:
        since, until = _window(request)
        visible = visible_services(request).order_by("name")
        if (name := query(request, "service")) is not None:
            visible = visible.filter(name=name)
            if not visible.exists():
                raise Unprocessable({"service": [f"Unknown service '{name}'."]})
        services = list(visible)
        environment = query(request, "environment")
        if environment is not None and environment not in dora.environment_names(services):
            raise Unprocessable({"environment": [f"Unknown environment '{environment}'."]})
        days = (until - since).total_seconds() / 86400
        computed = dora.figures(services, now=until, window_days=days, environment=environment)
        rows = [dora.export_row(m) for m in computed]
        if isinstance(request.accepted_renderer, CSVRenderer):
            stamp = {"since": since.isoformat(), "until": until.isoformat()}
            return Response([{**row, **stamp} for row in rows])
        report = {"since": since, "until": until, "environment": environment, "metrics": rows,
                  "window_days": int(days) if days.is_integer() else round(days, 3)}
        return Response(DoraReportSerializer(report).data)
