"""Charts as inline SVG, drawn on the server: no JavaScript, readable without colour, printable.

Each chart has a ``<title>`` and ``<desc>`` for screen readers and every bar carries its value as text, so the
figure says what it shows even in black and white; the numbers are also in a table next to every chart (the
page's job). Amounts are integer cents; labels are formatted by the caller (``fmt``) in the page's language.
"""

from __future__ import annotations

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
