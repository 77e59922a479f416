"""Delivery metrics per Service (the four DORA-style numbers), computed from finished releases.

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

Figures are per Service and environment (`environment` is "" until releases carry one).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dashboard.ui import svg

FAILED_STATES = frozenset({"failed", "rolled_back", "rolling_back"})
FINISHED_DEPLOY_STATES = frozenset({"succeeded", "failed", "rolled_back"})


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
    environment: str = ""


@dataclass
class ServiceMetrics:
    service: str
    window_days: int
    deploys: int = 0
    succeeded: int = 0
    failures: int = 0
    per_week: float = 0.0
    change_failure_rate: float | None = None
    time_to_restore: timedelta | None = None
    median_duration: timedelta | None = None
    lead_time: timedelta | None = None
    environment: str = ""
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

    def weekly_chart(self) -> str:
        bars = [svg.Bar(label, (ok, bad)) for label, ok, bad in self.weeks]
        return svg.stacked_bars(bars, title=f"{self.service}: deploys per week")

    def duration_chart(self) -> str:
        values = [d.total_seconds() for d in self.durations[-30:]]
        return svg.line_points(values, title=f"{self.service}: deploy durations (seconds)")


def compute(rows: Iterable[Row], *, now: datetime, window_days: int = 28) -> list[ServiceMetrics]:
    """Metrics per service over [now - window_days, now], services sorted by name."""
    start = now - timedelta(days=window_days)
    by_service: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        by_service.setdefault((row.service, row.environment), []).append(row)
    result = []
    for name, env in sorted(by_service):
        one = _one(name, by_service[(name, env)], start=start, now=now, days=window_days)
        one.environment = env
        result.append(one)
    return result


def _when(row: Row) -> datetime | None:
    return row.finished_at or row.failed_at or row.started_at


def _one(
    name: str, rows: Sequence[Row], *, start: datetime, now: datetime, days: int
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


def _weeks(deploys: Sequence[Row], *, now: datetime, days: int) -> list[tuple[str, int, int]]:
    count = max(days // 7, 1)
    buckets = []
    for i in range(count - 1, -1, -1):
        end = now - timedelta(days=7 * i)
        begin = end - timedelta(days=7)
        rows = [r for r in deploys if (w := _when(r)) is not None and begin < w <= end]
        ok = sum(1 for r in rows if r.state == "succeeded")
        buckets.append((begin.strftime("%m-%d"), ok, len(rows) - ok))
    return buckets


EXPORT_FIELDS = ("service", "environment", "window_days", "deploys", "succeeded", "failures",
                 "deploys_per_week", "change_failure_rate", "time_to_restore_seconds",
                 "lead_time_seconds", "median_deploy_seconds")


def export_row(m: ServiceMetrics) -> dict[str, object]:
    """One Service's figures as plain values (seconds, ratios) for JSON/CSV."""
    def secs(value: timedelta | None) -> float | None:
        return round(value.total_seconds(), 3) if value is not None else None

    return {
        "service": m.service, "environment": m.environment, "window_days": m.window_days,
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
