"""The geometry of the advice report's chart: net cost and yearly savings per measure.

Only numbers and the figure records come out of here; the template draws the SVG, so Django
escapes every piece of text in it (measure names come from an editable catalogue).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import Any

# User units of the SVG's viewBox. The width is about the A4 text column in CSS px
# (170 mm), so a unit prints as one CSS px and FONT_SIZE is about 10.5 pt on paper.
WIDTH = 640
FONT_SIZE = 14
LINE_HEIGHT = 17
HEADING_HEIGHT = 30
ROW_HEIGHT = 2 * LINE_HEIGHT + 6
BAR_HEIGHT = 20
NAME_WIDTH = 170
PANEL_GAP = 20
# Room beside a bar's end for its value ("€ 12.345", "niet bekend").
LABEL_ROOM = 78
LABEL_GAP = 5
# DejaVu Sans averages a little under 0.6 em per character; a guess on the wide side keeps
# a wrapped name inside its column.
CHAR_WIDTH = 0.6 * FONT_SIZE
NAME_LINES = 2
# A tiny but non-zero amount still shows as a sliver, so it does not read as zero.
MIN_BAR = 1.5


@dataclass(frozen=True)
class Line:
    text: str
    y: float


@dataclass(frozen=True)
class Bar:
    record: dict[str, Any]
    x: float
    width: float
    label_x: float
    label_anchor: str  # "start" or "end", as SVG text-anchor


@dataclass(frozen=True)
class Panel:
    x: float
    width: float
    zero_x: float


@dataclass(frozen=True)
class Row:
    name: str
    lines: tuple[Line, ...]
    bar_y: float
    label_y: float
    cost: Bar
    saving: Bar


@dataclass(frozen=True)
class SavingsChart:
    width: float
    height: float
    font_size: float
    bar_height: float
    heading_y: float
    top: float
    bottom: float
    cost_panel: Panel
    saving_panel: Panel
    rows: tuple[Row, ...]


def _number(record: dict[str, Any]) -> float:
    value = record.get("value")
    # An unknown value (payback of a measure that saves nothing, a missing price) has no bar.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0.0
    return float(value)


def _panel(x: float, width: float, values: list[float]) -> tuple[Panel, float]:
    """A panel with its zero line placed so both the largest loss and gain fit, and its scale."""
    largest = max([0.0, *values])
    smallest = min([0.0, *values])
    left_room = LABEL_ROOM if smallest < 0 else 0.0
    # Even with no positive values, a None or zero is labelled to the right of the zero line.
    span = width - left_room - LABEL_ROOM
    total = largest - smallest
    scale = span / total if total > 0 else 0.0
    return Panel(x=x, width=width, zero_x=round(x + left_room - smallest * scale, 1)), scale


def _bar(record: dict[str, Any], panel: Panel, scale: float) -> Bar:
    value = _number(record)
    length = abs(value) * scale
    if value != 0:
        length = max(length, MIN_BAR)
    if value < 0:
        x = panel.zero_x - length
        return Bar(record, round(x, 1), round(length, 1), round(x - LABEL_GAP, 1), "end")
    return Bar(
        record, panel.zero_x, round(length, 1), round(panel.zero_x + length + LABEL_GAP, 1), "start"
    )


def _name_lines(name: str) -> list[str]:
    """The name in at most NAME_LINES lines that fit the name column, cut with "…" if longer."""
    per_line = max(4, int(NAME_WIDTH / CHAR_WIDTH))
    lines = textwrap.wrap(name, per_line, break_on_hyphens=True) or [""]
    if len(lines) <= NAME_LINES:
        return lines
    last = textwrap.shorten(" ".join(lines[NAME_LINES - 1 :]), per_line, placeholder="…")
    if last == "…":
        # One word longer than the column: cut it, as no word boundary is left to cut at.
        last = lines[NAME_LINES - 1][: per_line - 1] + "…"
    return [*lines[: NAME_LINES - 1], last]


def savings_chart(advised: list[dict[str, Any]]) -> SavingsChart | None:
    """Bars of net cost and of savings per year, one row per advised measure; None if none."""
    if not advised:
        return None
    panel_width = (WIDTH - NAME_WIDTH - 2 * PANEL_GAP) / 2
    cost_records = [m["figures"]["net_cost_eur"] for m in advised]
    saving_records = [m["figures"]["savings_eur_per_year"] for m in advised]
    cost_panel, cost_scale = _panel(
        NAME_WIDTH + PANEL_GAP, panel_width, [_number(r) for r in cost_records]
    )
    saving_panel, saving_scale = _panel(
        WIDTH - panel_width, panel_width, [_number(r) for r in saving_records]
    )

    rows = []
    for index, (measure, cost, saving) in enumerate(
        zip(advised, cost_records, saving_records, strict=True)
    ):
        top = HEADING_HEIGHT + index * ROW_HEIGHT
        middle = top + ROW_HEIGHT / 2
        names = _name_lines(measure["name"])
        # Baselines sit about a third of the font size below each line's centre.
        first = middle - (len(names) - 1) * LINE_HEIGHT / 2 + FONT_SIZE / 3
        rows.append(
            Row(
                name=measure["name"],
                lines=tuple(
                    Line(text, round(first + i * LINE_HEIGHT, 1)) for i, text in enumerate(names)
                ),
                bar_y=round(middle - BAR_HEIGHT / 2, 1),
                label_y=round(middle + FONT_SIZE / 3, 1),
                cost=_bar(cost, cost_panel, cost_scale),
                saving=_bar(saving, saving_panel, saving_scale),
            )
        )
    bottom = HEADING_HEIGHT + len(advised) * ROW_HEIGHT
    return SavingsChart(
        width=WIDTH,
        height=bottom + 4,
        font_size=FONT_SIZE,
        bar_height=BAR_HEIGHT,
        heading_y=FONT_SIZE + 2,
        top=HEADING_HEIGHT - 4,
        bottom=bottom,
        cost_panel=cost_panel,
        saving_panel=saving_panel,
        rows=tuple(rows),
    )
