"""Delivery metrics (the four DORA measures), computed from finished releases: the figures the
admin's metrics page shows and exports, and that GET /api/v1/metrics/dora/ returns. Reads only.

Definitions (also shown on the page):
- deployment frequency: successful deploy releases per week in the window;
- change failure rate: failed or rolled-back deploys / all finished deploys (cancelled and
  superseded releases never reached production, so they are not counted);
- time to restore: from the start of a deploy that failed until the service ran a good
  release again (its own automatic rollback finishing, or the next release that succeeded);
  median;
- lead time for changes: from the commit (its committer time, from git) to the successful
  deploy that put it in production; median;
- median deploy duration: started -> finished of successful deploys.

One line of figures per `group_key(row)`: (service, environment).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet

from dashboard import refs, states
from dashboard.metrics import environment_of
from dashboard.models import Release, ReleaseEvent, Service

FAILED_STATES = frozenset({"failed", "rolled_back", "rolling_back"})
FINISHED_DEPLOY_STATES = frozenset({"succeeded", "failed", "rolled_back"})

# Releases carry no environment yet: all of them ran in this one (the name /metrics labels them
# with, dashboard.metrics.environment_of).
IMPLICIT_ENVIRONMENT = environment_of(None)
# A release's environment, read in the same query as the release: the only line to change for
# figures per environment once releases carry one (Release.environment, a ForeignKey to
# Environment with a `name`; a release without one stays in the implicit environment):
#   RELEASE_ENVIRONMENT: Any = models.F("environment__name")
RELEASE_ENVIRONMENT: Any = models.Value(IMPLICIT_ENVIRONMENT)


@dataclass(frozen=True)
class Row:
    """The few fields of a Release the metrics need (one query builds these)."""

    service: str
    kind: str
    state: str
    started_at: datetime | None
    finished_at: datetime | None
    failed_at: datetime | None = None  # first time it entered failed/rolling_back
    commit_at: datetime | None = None  # when its commit was made (git), if known
    environment: str = IMPLICIT_ENVIRONMENT


def group_key(row: Row) -> tuple[str, str]:
    """The line of figures a release counts in: its service and environment. Every release is in
    the implicit environment today, so this is per service; with RELEASE_ENVIRONMENT reading
    Release.environment it is per service and environment, with no other change."""
    return (row.service, row.environment)


@dataclass
class ServiceMetrics:
    service: str
    window_days: float
    deploys: int = 0
    succeeded: int = 0
    failures: int = 0
    per_week: float = 0.0
    change_failure_rate: float | None = None
    time_to_restore: timedelta | None = None
    median_duration: timedelta | None = None
    lead_time: timedelta | None = None
    environment: str = IMPLICIT_ENVIRONMENT
    lead_times: list[timedelta] = field(default_factory=list)
    restores: list[timedelta] = field(default_factory=list)
    durations: list[timedelta] = field(default_factory=list)
    weeks: list[tuple[str, int, int]] = field(default_factory=list)  # (label, ok, failed)

    @property
    def time_to_restore_text(self) -> str:
        return humanize(self.time_to_restore)

    @property
    def lead_time_text(self) -> str:
        return humanize(self.lead_time)

    @property
    def change_failure_percent(self) -> str:
        if self.change_failure_rate is None:
            return "n/a"
        return f"{self.change_failure_rate * 100:.0f}%"


def compute(rows: Iterable[Row], *, now: datetime, window_days: float = 28,
            key: Callable[[Row], tuple[str, str]] = group_key) -> list[ServiceMetrics]:
    """Figures per key (service, environment) over [now - window_days, now], sorted."""
    start = now - timedelta(days=window_days)
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    result = []
    for name, env in sorted(groups):
        one = _one(name, groups[(name, env)], start=start, now=now, days=window_days)
        one.environment = env
        result.append(one)
    return result


def _when(row: Row) -> datetime | None:
    return row.finished_at or row.failed_at or row.started_at


def _one(
    name: str, rows: Sequence[Row], *, start: datetime, now: datetime, days: float
) -> ServiceMetrics:
    m = ServiceMetrics(service=name, window_days=days)
    dated = sorted(((w, r) for r in rows if (w := _when(r)) is not None), key=lambda p: p[0])
    ordered = [r for _, r in dated]
    in_window = [r for w, r in dated if start <= w <= now]
    deploys = [r for r in in_window if r.kind == "deploy" and r.state in FINISHED_DEPLOY_STATES]
    m.deploys = len(deploys)
    m.succeeded = sum(1 for r in deploys if r.state == "succeeded")
    m.failures = m.deploys - m.succeeded
    m.per_week = m.succeeded / (days / 7) if days else 0.0
    m.change_failure_rate = (m.failures / m.deploys) if m.deploys else None
    m.durations = [
        r.finished_at - r.started_at
        for r in deploys
        if r.state == "succeeded" and r.started_at and r.finished_at
    ]
    m.median_duration = _median(m.durations)
    m.lead_times = [
        r.finished_at - r.commit_at for r in deploys
        if r.state == "succeeded" and r.finished_at and r.commit_at and r.finished_at >= r.commit_at
    ]
    m.lead_time = _median(m.lead_times)
    for r in deploys:
        if r.state == "succeeded":
            continue
        restored = _restored_at(r, ordered)
        # From the start of the failed release: the service was not in the state its team
        # wanted from then on (a failure noticed fast still broke production that long).
        began = r.started_at or r.failed_at or r.finished_at
        if restored and began and restored >= began:
            m.restores.append(restored - began)
    m.time_to_restore = _median(m.restores)
    m.weeks = _weeks(deploys, now=now, days=days)
    return m


def _restored_at(failure: Row, ordered: Sequence[Row]) -> datetime | None:
    if failure.state == "rolled_back" and failure.finished_at:
        return failure.finished_at
    failed = failure.failed_at or failure.finished_at
    if failed is None:
        return None
    for r in ordered:
        if r.state == "succeeded" and r.finished_at and r.finished_at >= failed:
            return r.finished_at
    return None


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def _weeks(deploys: Sequence[Row], *, now: datetime, days: float) -> list[tuple[str, int, int]]:
    count = max(int(days // 7), 1)
    buckets = []
    for i in range(count - 1, -1, -1):
        end = now - timedelta(days=7 * i)
        begin = end - timedelta(days=7)
        rows = [r for r in deploys if (w := _when(r)) is not None and begin < w <= end]
        ok = sum(1 for r in rows if r.state == "succeeded")
        buckets.append((begin.strftime("%m-%d"), ok, len(rows) - ok))
    return buckets


# --- reading the releases ---------------------------------------------------------------------

def release_rows(services: QuerySet[Service] | Iterable[Service], *,
                 since: datetime) -> list[Row]:
    """Two queries: the releases, and the first failure event of each failed one (plus one
    git call per repository for commit times)."""
    releases = list(
        Release.objects.filter(service__in=services, state__in=states.TERMINAL)
        .filter(Q(finished_at__gte=since) | Q(finished_at__isnull=True, created_at__gte=since))
        .annotate(environment_name=RELEASE_ENVIRONMENT)
        .values("id", "service__name", "service__git_repo", "kind", "state", "started_at",
                "finished_at", "commit_sha", "environment_name")
    )
    commits = commit_times(releases)
    failed_ids = [r["id"] for r in releases if r["state"] in FAILED_STATES]
    failed_at: dict[int, datetime] = {}
    if failed_ids:
        for rid, at in (ReleaseEvent.objects.filter(
                release_id__in=failed_ids, state__in=(states.FAILED, states.ROLLING_BACK))
                .order_by("at").values_list("release_id", "at")):
            failed_at.setdefault(rid, at)
    return [
        Row(service=r["service__name"], kind=r["kind"], state=r["state"],
            started_at=r["started_at"], finished_at=r["finished_at"],
            failed_at=failed_at.get(r["id"]),
            commit_at=commits.get((r["service__git_repo"], r["commit_sha"])),
            environment=r["environment_name"] or IMPLICIT_ENVIRONMENT)
        for r in releases
    ]


def commit_times(releases: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], datetime]:
    """(git_repo, sha) -> commit time, one git call per repository; a repository git cannot
    read leaves its lead times unknown (n/a), it never breaks the page."""
    by_repo: dict[str, set[str]] = {}
    for r in releases:
        if r["service__git_repo"] and r["commit_sha"] and r["state"] == states.SUCCEEDED:
            by_repo.setdefault(r["service__git_repo"], set()).add(r["commit_sha"])
    out: dict[tuple[str, str], datetime] = {}
    for repo, shas in by_repo.items():
        try:
            for sha, at in refs.commit_times(repo, sorted(shas)).items():
                out[(repo, sha)] = at
        except refs.RepositoryUnavailable:
            continue
    return out


def environment_names(services: QuerySet[Service] | Iterable[Service]) -> set[str]:
    """The environments figures can be asked for: the implicit one, and any that a release of
    `services` ran in (none other until releases carry an environment). One query."""
    seen = (Release.objects.filter(service__in=services)
            .annotate(environment_name=RELEASE_ENVIRONMENT)
            .values_list("environment_name", flat=True).distinct())
    return {IMPLICIT_ENVIRONMENT, *(name for name in seen if name)}


def figures(services: Sequence[Service], *, now: datetime, window_days: float,
            environment: str | None = None) -> list[ServiceMetrics]:
    """The figures of `services` over the window ending at `now`, one line per (service,
    environment), every service listed (a service without releases shows n/a figures); only
    `environment`'s lines when given."""
    rows = release_rows(services, since=now - timedelta(days=window_days * 2))
    computed = compute(rows, now=now, window_days=window_days)
    if environment is not None:
        computed = [m for m in computed if m.environment == environment]
    listed = {m.service for m in computed}
    for s in services:
        if s.name not in listed:
            computed.append(ServiceMetrics(service=s.name, window_days=window_days,
                                           environment=environment or IMPLICIT_ENVIRONMENT))
    computed.sort(key=lambda m: (m.service, m.environment))
    return computed


# --- export -----------------------------------------------------------------------------------

EXPORT_FIELDS = ("service", "environment", "window_days", "deploys", "succeeded", "failures",
                 "deploys_per_week", "change_failure_rate", "time_to_restore_seconds",
                 "lead_time_seconds", "median_deploy_seconds")


def export_row(m: ServiceMetrics) -> dict[str, object]:
    """One line of figures as plain values (seconds, ratios) for JSON/CSV."""
    def secs(value: timedelta | None) -> float | None:
        return round(value.total_seconds(), 3) if value is not None else None

    days = m.window_days
    return {
        "service": m.service, "environment": m.environment,
        "window_days": int(days) if float(days).is_integer() else round(days, 3),
        "deploys": m.deploys, "succeeded": m.succeeded, "failures": m.failures,
        "deploys_per_week": round(m.per_week, 3),
        "change_failure_rate": (round(m.change_failure_rate, 4)
                                if m.change_failure_rate is not None else None),
        "time_to_restore_seconds": secs(m.time_to_restore),
        "lead_time_seconds": secs(m.lead_time), "median_deploy_seconds": secs(m.median_duration),
    }


def humanize(value: timedelta | None) -> str:
    if value is None:
        return "n/a"
    seconds = int(value.total_seconds())
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 90 * 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
