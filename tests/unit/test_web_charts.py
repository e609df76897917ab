"""The SVG charts: well-formed, accessible (title and description), values as text, and a waterfall whose end is
the start plus its steps."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from integraal.domain.money import format_euros
from integraal.web.charts import Series, grouped_bars, waterfall

NS = "{http://www.w3.org/2000/svg}"


def test_grouped_bars_are_valid_svg_with_a_bar_and_a_value_per_member_and_plan():
    svg = grouped_bars(
        ["Verloskundigen De Linde", "Ziekenhuis Rivierenland"],
        [Series("huidig", [120_000, 80_000]), Series("nieuw", [110_000, 90_050])],
        title="Per lid",
        description="Bedrag per lid per plan",
        fmt=format_euros,
    )
    root = ET.fromstring(str(svg))
    assert root.get("role") == "img" and root.find(f"{NS}title").text == "Per lid"
    bars = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(bars) == 4
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "€ 900,50" in texts and "€ 1.200,00" in texts
    widths = [float(r.get("width")) for r in bars]
    assert max(widths) == widths[0]  # the largest amount has the longest bar


def test_text_in_a_chart_is_escaped():
    svg = grouped_bars(["<script>"], [Series("a & b", [1])], title="t", description="d", fmt=str)
    assert "<script>" not in str(svg) and "&lt;script&gt;" in str(svg)
    ET.fromstring(str(svg))


@given(start=st.integers(0, 10**9), steps=st.lists(st.integers(-(10**8), 10**8), max_size=12))
def test_waterfall_ends_at_the_start_plus_every_step(start, steps):
    svg = waterfall(
        "oud",
        start,
        [(f"lid {n}", d) for n, d in enumerate(steps)],
        "nieuw",
        title="t",
        description="d",
        fmt=str,
    )
    root = ET.fromstring(str(svg))
    values = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "value"]
    assert values[0] == str(start) and values[-1] == str(start + sum(steps))
    assert len(values) == len(steps) + 2
