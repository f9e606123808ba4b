"""Two small SVG charts, written by hand (no plotting dependency): log-scale lines and bars.

Both use logarithmic value axes, because the contenders differ by orders of magnitude: on a
linear axis LiveTemplate's line would sit on the floor.
"""

from __future__ import annotations

import math
from html import escape

COLORS = {"LiveTemplate": "#2563eb", "pyview": "#dc2626", "Jinja2 re-render": "#6b7280",
          "htmx fragments": "#16a34a"}
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _decades(lo: float, hi: float) -> list[float]:
    return [10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]


def _label(v: float, unit: str) -> str:
    if unit == "µs" and v >= 1000:
        return f"{v / 1000:.3g} ms" if v < 1e6 else f"{v / 1e6:.3g} s"
    if unit == "B" and v >= 1000:
        return f"{v / 1000:.3g} KB" if v < 1e6 else f"{v / 1e6:.3g} MB"
    return f"{v:.0f} B" if unit == "B" else f"{v:.3g} {unit}"


def _frame(width: int, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" {FONT}>',
            f'<rect width="{width}" height="{height}" fill="#fff"/>',
            f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14" '
            f'font-weight="600">{escape(title)}</text>']


def _legend(out: list[str], names: list[str], x: float, y: float) -> None:
    for i, name in enumerate(names):
        yy = y + 18 * i
        out.append(f'<rect x="{x}" y="{yy - 9}" width="12" height="12" fill="{COLORS[name]}"/>')
        out.append(f'<text x="{x + 18}" y="{yy + 1}">{escape(name)}</text>')


def line_chart(title: str, xs: list[int], series: dict[str, list[float]], x_label: str,
               unit: str) -> str:
    """Lines over log-log axes: x (page rows) and y (``unit`` per action)."""
    width, height, left, right, top, bottom = 720, 420, 70, 170, 40, 50
    values = [v for ys in series.values() for v in ys if v > 0]
    y_ticks = _decades(min(values), max(values))
    x_lo, x_hi = math.log10(xs[0]), math.log10(xs[-1])
    y_lo, y_hi = math.log10(y_ticks[0]), math.log10(y_ticks[-1])
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (math.log10(x) - x_lo) / (x_hi - x_lo) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (math.log10(y) - y_lo) / (y_hi - y_lo) * plot_h

    out = _frame(width, height, title)
    for t in y_ticks:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(t):.1f}" y2="{py(t):.1f}" '
                   'stroke="#e5e7eb"/>')
        out.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">'
                   f'{escape(_label(t, unit))}</text>')
    for x in xs:
        out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top}" y2="{top + plot_h}" '
                   'stroke="#f3f4f6"/>')
        out.append(f'<text x="{px(x):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                   f'{x:,}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle">'
               f'{escape(x_label)}</text>')
    for name, ys in series.items():
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys, strict=True))
        color = COLORS[name]
        out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        for x, y in zip(xs, ys, strict=True):
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}"/>')
    _legend(out, list(series), left + plot_w + 20, top + 20)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def bar_chart(title: str, groups: list[str], series: dict[str, list[float]], unit: str) -> str:
    """Horizontal bars, one group per workload, one bar per contender, log-scale value axis."""
    bar, gap = 12, 12
    left, right, top, legend_h = 250, 70, 40, 30
    names = list(series)
    group_h = bar * len(names) + gap
    width = 820
    height = top + legend_h + group_h * len(groups) + 40
    values = [v for ys in series.values() for v in ys if v > 0]
    ticks = _decades(min(values), max(values))
    lo, hi = math.log10(ticks[0]), math.log10(ticks[-1])
    plot_w = width - left - right
    base = top + legend_h

    def px(v: float) -> float:
        return left + (math.log10(v) - lo) / (hi - lo) * plot_w

    out = _frame(width, height, title)
    for i, name in enumerate(names):  # the legend, in one row
        x = left + i * 125
        out.append(f'<rect x="{x}" y="{top - 2}" width="12" height="12" fill="{COLORS[name]}"/>')
        out.append(f'<text x="{x + 18}" y="{top + 8}">{escape(name)}</text>')
    bottom = base + group_h * len(groups)
    for t in ticks:
        out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{base}" y2="{bottom}" '
                   'stroke="#e5e7eb"/>')
        out.append(f'<text x="{px(t):.1f}" y="{bottom + 16}" text-anchor="middle">'
                   f'{escape(_label(t, unit))}</text>')
    for g, group in enumerate(groups):
        y0 = base + g * group_h
        out.append(f'<text x="{left - 8}" y="{y0 + group_h / 2:.1f}" text-anchor="end">'
                   f'{escape(group)}</text>')
        for i, name in enumerate(names):
            v = series[name][g]
            if v <= 0:
                continue
            y = y0 + i * bar
            out.append(f'<rect x="{left}" y="{y}" width="{px(v) - left:.1f}" height="{bar - 2}" '
                       f'fill="{COLORS[name]}"><title>{escape(name)}: '
                       f'{escape(_label(v, unit))}</title></rect>')
            out.append(f'<text x="{px(v) + 4:.1f}" y="{y + bar - 3}" font-size="10" '
                       f'fill="#374151">{escape(_label(v, unit))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
