"""Server-side SVG charts (no JavaScript, no CDN). Every chart has a <title> and <desc> so
screen readers get the numbers, and every value is also shown as text next to the chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

OK = "#2e7d32"
BAD = "#c62828"
NEUTRAL = "#1565c0"


@dataclass(frozen=True)
class Bar:
    label: str
    values: tuple[float, ...]  # stacked segments, bottom first


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def stacked_bars(
    bars: Sequence[Bar],
    *,
    title: str,
    colors: Sequence[str] = (OK, BAD),
    series: Sequence[str] = ("succeeded", "failed"),
    width: int = 480,
    height: int = 160,
) -> SafeString:
    """A stacked bar chart, one bar per label (e.g. a week), segments per series."""
    pad_left, pad_bottom, pad_top = 28, 22, 8
    plot_h = height - pad_bottom - pad_top
    plot_w = width - pad_left - 4
    top = max([sum(b.values) for b in bars] + [1.0])
    slot = plot_w / max(len(bars), 1)
    bar_w = max(slot * 0.7, 1.0)
    parts: list[str] = []
    desc = []
    for i, bar in enumerate(bars):
        x = pad_left + i * slot + (slot - bar_w) / 2
        y = float(pad_top + plot_h)
        for j, value in enumerate(bar.values):
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" height="{_num(h)}" '
                f'fill="{colors[j % len(colors)]}"><title>{escape(bar.label)}: '
                f"{_num(value)} {escape(series[j % len(series)])}</title></rect>"
            )
        if len(bars) <= 12 or i % max(len(bars) // 6, 1) == 0:
            parts.append(
                f'<text x="{_num(x + bar_w / 2)}" y="{height - 6}" font-size="9" '
                f'text-anchor="middle">{escape(bar.label)}</text>'
            )
        desc.append(
            f"{bar.label}: "
            + ", ".join(f"{_num(v)} {s}" for v, s in zip(bar.values, series, strict=False))
        )
    axis = (
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 4}" y2="{pad_top + plot_h}" '
        f'stroke="currentColor" stroke-width="1"/>'
        f'<text x="{pad_left - 4}" y="{pad_top + 8}" font-size="9" text-anchor="end">'
        f"{_num(top)}</text>"
        f'<text x="{pad_left - 4}" y="{pad_top + plot_h}" font-size="9" text-anchor="end">0</text>'
    )
    return _svg(width, height, title, "; ".join(desc), axis + "".join(parts))


def line_points(
    values: Sequence[float], *, title: str, unit: str = "s", width: int = 480, height: int = 140,
    color: str = NEUTRAL,
) -> SafeString:
    """A small line chart with dots (e.g. deploy durations, oldest first)."""
    pad_left, pad_bottom, pad_top = 36, 14, 8
    plot_h = height - pad_bottom - pad_top
    plot_w = width - pad_left - 8
    top = max([*values, 1.0])
    step = plot_w / max(len(values) - 1, 1)
    points = [
        (pad_left + i * step, pad_top + plot_h - plot_h * v / top) for i, v in enumerate(values)
    ]
    body = [
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 8}" y2="{pad_top + plot_h}" '
        f'stroke="currentColor" stroke-width="1"/>',
        f'<text x="{pad_left - 4}" y="{pad_top + 8}" font-size="9" text-anchor="end">'
        f"{_num(top)}{escape(unit)}</text>",
    ]
    if len(points) > 1:
        path = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
        body.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
    for (x, y), v in zip(points, values, strict=True):
        body.append(
            f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3" fill="{color}">'
            f"<title>{_num(v)}{escape(unit)}</title></circle>"
        )
    desc = ", ".join(f"{_num(v)}{unit}" for v in values) or "no data"
    return _svg(width, height, title, desc, "".join(body))


def meter(
    value: float, total: float, *, label: str, width: int = 160, height: int = 12
) -> SafeString:
    """A horizontal progress bar (e.g. replicas ready/desired)."""
    frac = 0.0 if total <= 0 else max(0.0, min(1.0, value / total))
    color = OK if frac >= 1 else NEUTRAL
    inner = (
        f'<rect x="0" y="0" width="{width}" height="{height}" rx="3" fill="#ddd"/>'
        f'<rect x="0" y="0" width="{_num(width * frac)}" height="{height}" rx="3" fill="{color}"/>'
    )
    return _svg(width, height, label, f"{_num(value)} of {_num(total)}", inner)


def _svg(width: int, height: int, title: str, desc: str, body: str) -> SafeString:
    head = format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="dash-chart" role="img" width="{}" '
        'height="{}" viewBox="0 0 {} {}"><title>{}</title><desc>{}</desc>',
        width, height, width, height, title, desc,
    )
    return mark_safe(head + body + "</svg>")  # noqa: S308 - body built from escaped parts
