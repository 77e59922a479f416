"""The metrics page's charts. The figures (the four DORA measures) are computed in
dashboard.services.dora, which the REST export (GET /api/v1/metrics/dora/) uses too."""

from __future__ import annotations

from typing import Any

from dashboard.services.dora import ServiceMetrics
from dashboard.ui import svg


def weekly_chart(m: ServiceMetrics) -> str:
    bars = [svg.Bar(label, (ok, bad)) for label, ok, bad in m.weeks]
    return svg.stacked_bars(bars, title=f"{m.service}: deploys per week")


def duration_chart(m: ServiceMetrics) -> str:
    values = [d.total_seconds() for d in m.durations[-30:]]
    return svg.line_points(values, title=f"{m.service}: deploy durations (seconds)")


def charts(computed: list[ServiceMetrics]) -> list[dict[str, Any]]:
    """One panel per line of figures: its title and its two charts."""
    return [{"m": m, "weekly": weekly_chart(m), "durations": duration_chart(m)}
            for m in computed]
