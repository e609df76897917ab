"""Charts as inline SVG, drawn on the server: no JavaScript, readable without colour, printable.

Each chart has a ``<title>`` and ``<desc>`` for screen readers and every bar carries its value as text, so the
figure says what it shows even in black and white; the numbers are also in a table next to every chart (the
page's job). Amounts are integer cents; labels are formatted by the caller (``fmt``) in the page's language.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PALETTE = ("#1f6f8b", "#e07b00", "#2e8b57", "#7a4fb5", "#b5364f", "#5b84c4")
"""Series colours (AA contrast on white for the bars' outlines and text)."""


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[int]  # one per category, in cents


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    fmt: Callable[[int], str],
    width: int = 880,
) -> Markup:
    """Horizontal grouped bars: a row per category (member), a bar per series (plan)."""
    label_width, value_width, bar_height, gap = 210, 120, 16, 10
    plot = width - label_width - value_width
    top = 28 + 18 * ((len(series) + 2) // 3)
    row_height = bar_height * len(series) + gap
    height = top + row_height * len(categories) + 10
    biggest = max((abs(v) for s in series for v in s.values), default=0) or 1
    parts = [_svg_open(width, height, title, description)]
    for n, s in enumerate(series):  # legend
        x, y = 10 + (n % 3) * 280, 14 + 18 * (n // 3)
        colour = PALETTE[n % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y - 9}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="{y + 1}" class="legend">{escape(s.name)}</text>')
    for row, category in enumerate(categories):
        y0 = top + row * row_height
        parts.append(
            f'<text x="{label_width - 8}" y="{y0 + row_height / 2 - gap / 2 + 4}" text-anchor="end" '
            f'class="label">{escape(_short(category, 30))}</text>'
        )
        for n, s in enumerate(series):
            value = s.values[row]
            length = plot * abs(value) / biggest
            y = y0 + n * bar_height
            colour = PALETTE[n % len(PALETTE)]
            parts.append(
                f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height - 3}" fill="{colour}">'
                f"<title>{escape(category)} · {escape(s.name)}: {escape(fmt(value))}</title></rect>"
            )
            parts.append(
                f'<text x="{label_width + length + 4:.1f}" y="{y + bar_height - 5}" class="value">'
                f"{escape(fmt(value))}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def waterfall(
    start_label: str,
    start: int,
    steps: Sequence[tuple[str, int]],
    end_label: str,
    *,
    title: str,
    description: str,
    fmt: Callable[[int], str],
    width: int = 880,
) -> Markup:
    """From one total to another through signed steps (e.g. old plan → each member's change → new plan).

    The end bar is ``start`` plus every step, so the chart cannot show a total its steps do not add up to.
    """
    label_width, bar_height, gap, value_width = 210, 18, 8, 120
    plot = width - label_width - value_width
    rows = [(start_label, 0, start, "total")]
    running = start
    for label, delta in steps:
        rows.append((label, running, running + delta, "up" if delta >= 0 else "down"))
        running += delta
    rows.append((end_label, 0, running, "total"))
    low = min(0, *(min(a, b) for _, a, b, _ in rows))
    high = max(1, *(max(a, b) for _, a, b, _ in rows))
    scale = plot / (high - low)
    height = 12 + len(rows) * (bar_height + gap)
    colours = {"total": "#1f6f8b", "up": "#2e8b57", "down": "#b5364f"}
    parts = [_svg_open(width, height, title, description)]
    for n, (label, a, b, kind) in enumerate(rows):
        y = 6 + n * (bar_height + gap)
        x0, x1 = label_width + (min(a, b) - low) * scale, label_width + (max(a, b) - low) * scale
        amount = b - a if kind != "total" else b
        text = fmt(amount) if kind == "total" else ("+" if amount >= 0 else "") + fmt(amount)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + bar_height - 5}" text-anchor="end" class="label">'
            f"{escape(_short(label, 30))}</text>"
        )
        parts.append(
            f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{bar_height}" fill="{colours[kind]}">'
            f"<title>{escape(label)}: {escape(text)}</title></rect>"
        )
        parts.append(f'<text x="{x1 + 4:.1f}" y="{y + bar_height - 5}" class="value">{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _svg_open(width: int, height: int, title: str, description: str) -> str:
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" aria-labelledby="t d">'
        f'<title id="t">{escape(title)}</title><desc id="d">{escape(description)}</desc>'
        "<style>.label{font:12px sans-serif;fill:#1c2430}.value{font:11px sans-serif;fill:#343d49}"
        ".legend{font:12px sans-serif;fill:#1c2430}</style>"
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class FunnelDot:
    label: str
    n: int
    rate: float
    own: bool = False
    outside: bool = False  # outside the 95 % limits


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def funnel_chart(
    dots: Sequence[FunnelDot],
    target: float,
    curves: Sequence[tuple[float, Sequence[tuple[int, float, float]]]],
    *,
    title: str,
    description: str,
    x_label: str,
    y_label: str,
    target_label: str,
    level_labels: Sequence[str],
    scale: int = 100,
    decimals: int = 1,
    comma: bool = False,
    width: int = 880,
    height: int = 420,
) -> Markup:
    """A funnel plot: each unit's rate (y) against its size (x), the target line and the control limits per
    level (``curves``: (level, [(n, lower, upper)…]) with rates 0–1). Rates show ×``scale`` (100: %, 1000: ‰).

    Units are dots with their label; the reader's own unit is filled and bold. No ranking: the plot orders
    nothing, it shows where each unit lies against what chance alone would give.
    """
    left, right, top, bottom = 64, 24, 34, 52
    plot_w, plot_h = width - left - right, height - top - bottom
    largest = max([d.n for d in dots] + [n for _, c in curves for n, _, _ in c] + [1])
    x_max = largest * 1.05
    values = [d.rate for d in dots] + [target]
    for _, c in curves:
        values += [hi for n, _, hi in c if n >= largest * 0.08] + [lo for n, lo, _ in c if n >= largest * 0.08]
    y_min, y_max = max(0.0, min(values) * 0.85), min(1.0, max(values) * 1.12 + 1e-9)
    if y_max - y_min < 1e-6:
        y_max = y_min + 0.01

    def x(n: float) -> float:
        return left + plot_w * n / x_max

    def y(rate: float) -> float:
        clipped = min(max(rate, y_min), y_max)
        return top + plot_h * (1 - (clipped - y_min) / (y_max - y_min))

    def pct(rate: float) -> str:
        text = f"{rate * scale:.{decimals}f}"
        return text.replace(".", ",") if comma else text

    parts = [_svg_open(width, height, title, description)]
    parts.append(
        "<style>.axis{stroke:#343d49;stroke-width:1}.grid{stroke:#d9dee5;stroke-width:1}"
        ".dot{fill:#ffffff;stroke:#1f6f8b;stroke-width:2}.dot.own{fill:#b5364f;stroke:#7a1f33}"
        ".dot.out{stroke:#e07b00}.own-label{font:bold 12px sans-serif;fill:#7a1f33}</style>"
    )
    step = _nice_step(x_max)
    tick = 0.0
    while tick <= x_max:
        parts.append(f'<line class="grid" x1="{x(tick):.1f}" y1="{top}" x2="{x(tick):.1f}" y2="{top + plot_h}"/>')
        parts.append(
            f'<text class="value" x="{x(tick):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
            f"{_thousands(int(tick), comma)}</text>"
        )
        tick += step
    parts += _y_grid(y, y_min, y_max, left, plot_w, pct)
    parts.append(f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>')
    parts.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>')
    parts.append(
        f'<text class="label" x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text class="label" transform="translate(14 {top + plot_h / 2}) rotate(-90)" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    styles = ('stroke="#5b84c4" stroke-dasharray="6 4"', 'stroke="#343d49"')
    for k, (_, curve) in enumerate(curves):
        style = styles[min(k, len(styles) - 1)]
        for index in (1, 2):
            points = " ".join(f"{x(n):.1f},{y(c[index]):.1f}" for c in curve if (n := c[0]) > 0)
            parts.append(f'<polyline fill="none" stroke-width="1.5" {style} points="{points}"/>')
    parts.append(
        f'<line x1="{left}" y1="{y(target):.1f}" x2="{left + plot_w}" y2="{y(target):.1f}" stroke="#2e8b57" '
        f'stroke-width="2"/>'
    )
    legend = [('stroke="#2e8b57" stroke-width="2"', f"{target_label} ({pct(target)})")]
    legend += [(f'stroke-width="1.5" {styles[min(k, len(styles) - 1)]}', text) for k, text in enumerate(level_labels)]
    for k, (style, text) in enumerate(legend):
        lx = left + k * 260
        parts.append(f'<line x1="{lx}" y1="14" x2="{lx + 26}" y2="14" {style}/>')
        parts.append(f'<text class="legend" x="{lx + 32}" y="18">{escape(text)}</text>')
    for dot in sorted(dots, key=lambda d: d.own):
        classes = "dot" + (" own" if dot.own else "") + (" out" if dot.outside and not dot.own else "")
        cx, cy = x(dot.n), y(dot.rate)
        parts.append(
            f'<circle class="{classes}" cx="{cx:.1f}" cy="{cy:.1f}" r="{7 if dot.own else 5}">'
            f"<title>{escape(dot.label)}: {pct(dot.rate)} (n = {_thousands(dot.n, comma)})</title></circle>"
        )
        parts.append(
            f'<text class="{"own-label" if dot.own else "value"}" x="{cx + 9:.1f}" y="{cy + 4:.1f}">'
            f"{escape(_short(dot.label, 18))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True, slots=True)
class TrendBar:
    label: str  # the quarter
    rate: float | None  # None: suppressed or no data
    lower: float | None = None
    upper: float | None = None
    note: str = ""  # shown instead of a value (e.g. "< 10")


def trend_chart(
    points: Sequence[TrendBar],
    *,
    title: str,
    description: str,
    y_label: str,
    reference: float | None = None,
    reference_label: str = "",
    scale: int = 100,
    decimals: int = 1,
    comma: bool = False,
    width: int = 880,
    height: int = 300,
) -> Markup:
    """Rate per quarter as dots joined by a line, with the 95 % interval as a vertical bar; a suppressed quarter
    is a gap with its note, so the line never bridges what it does not know."""
    left, right, top, bottom = 64, 24, 30, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for p in points for v in (p.rate, p.lower, p.upper) if v is not None]
    if reference is not None:
        values.append(reference)
    y_min = max(0.0, min(values, default=0.0) * 0.85)
    y_max = min(1.0, max(values, default=0.01) * 1.1 + 1e-9)
    if y_max - y_min < 1e-6:
        y_max = y_min + 0.01
    slot = plot_w / max(1, len(points))

    def y(rate: float) -> float:
        return top + plot_h * (1 - (min(max(rate, y_min), y_max) - y_min) / (y_max - y_min))

    def pct(rate: float) -> str:
        text = f"{rate * scale:.{decimals}f}"
        return text.replace(".", ",") if comma else text

    parts = [_svg_open(width, height, title, description)]
    parts += _y_grid(y, y_min, y_max, left, plot_w, pct)
    parts.append(
        f'<text class="label" transform="translate(14 {top + plot_h / 2}) rotate(-90)" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    if reference is not None:
        parts.append(
            f'<line x1="{left}" y1="{y(reference):.1f}" x2="{left + plot_w}" y2="{y(reference):.1f}" '
            f'stroke="#2e8b57" stroke-width="2" stroke-dasharray="6 4"/>'
        )
        parts.append(
            f'<text class="legend" x="{left + 6}" y="{top - 10}">— — {escape(reference_label)} '
            f"({pct(reference)})</text>"
        )
    path: list[str] = []
    segments: list[list[str]] = [path]
    for k, p in enumerate(points):
        cx = left + slot * (k + 0.5)
        parts.append(
            f'<text class="value" x="{cx:.1f}" y="{top + plot_h + 18}" text-anchor="middle">{escape(p.label)}</text>'
        )
        if p.rate is None:
            parts.append(
                f'<text class="value" x="{cx:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle">'
                f"{escape(p.note)}</text>"
            )
            path = []
            segments.append(path)
            continue
        if p.lower is not None and p.upper is not None:
            parts.append(
                f'<line x1="{cx:.1f}" y1="{y(p.lower):.1f}" x2="{cx:.1f}" y2="{y(p.upper):.1f}" stroke="#5b84c4" '
                f'stroke-width="3"><title>95 %: {pct(p.lower)}–{pct(p.upper)}</title></line>'
            )
        path.append(f"{cx:.1f},{y(p.rate):.1f}")
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{y(p.rate):.1f}" r="5" fill="#1f6f8b"><title>{escape(p.label)}: '
            f"{pct(p.rate)}</title></circle>"
        )
        parts.append(f'<text class="value" x="{cx + 8:.1f}" y="{y(p.rate) - 6:.1f}">{pct(p.rate)}</text>')
    for segment in segments:
        if len(segment) > 1:
            parts.append(f'<polyline fill="none" stroke="#1f6f8b" stroke-width="2" points="{" ".join(segment)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _y_grid(
    y: Callable[[float], float], y_min: float, y_max: float, left: float, width: float, label: Callable[[float], str]
) -> list[str]:
    """Horizontal grid lines with their labels at round steps between ``y_min`` and ``y_max`` (rates)."""
    parts = []
    step = _nice_step(y_max - y_min)
    level = math.floor(y_min / step) * step
    while level <= y_max + 1e-12:
        if level >= y_min - 1e-12:
            parts.append(
                f'<line x1="{left}" y1="{y(level):.1f}" x2="{left + width}" y2="{y(level):.1f}" stroke="#d9dee5"/>'
            )
            parts.append(
                f'<text class="value" x="{left - 6}" y="{y(level) + 4:.1f}" text-anchor="end">{label(level)}</text>'
            )
        level += step
    return parts


def _thousands(n: int, comma: bool) -> str:
    """1,234 in English; 1.234 in Dutch (``comma`` = the decimal sign is a comma)."""
    text = f"{n:,}"
    return text.replace(",", ".") if comma else text
