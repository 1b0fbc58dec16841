"""The geometry of the dashboard's charts: one column per month, its number above it.

Drawn on the server as SVG (the template writes it, so Django escapes every text) rather
than with a script library in a canvas. Every column carries its own number, so nothing
has to be hovered or tapped to be read, which a coordinator of seventy on a tablet may not
think of doing; the text is real text that zooms with the page; nothing depends on
JavaScript or a nonce; and the page prints as it looks. The same figures are in a table
under the charts, which is what a screen reader reads (the chart is one image with a
summary).

Only numbers come out of here: no ORM, no translation (month names are the template's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

# User units of the viewBox. At its natural size a unit is a CSS px, so the labels are
# as large as the page's small text; on a narrower screen the whole chart scales down.
WIDTH = 560
FONT_SIZE = 16
# Room above the tallest column for its number.
TOP = FONT_SIZE + 10
PLOT_HEIGHT = 150
# The month below each column, and the year below the first month and each January.
MONTH_GAP = FONT_SIZE + 6
YEAR_GAP = 2 * FONT_SIZE + 10
HEIGHT = TOP + PLOT_HEIGHT + YEAR_GAP + 6
# The share of its slot a column fills; the rest is space between columns.
COLUMN_SHARE = 0.6
VALUE_GAP = 6
# A count of 1 among hundreds still shows as a sliver, so it does not read as zero.
MIN_COLUMN = 2.0


@dataclass(frozen=True)
class Column:
    month: dt.date
    value: int
    x: float
    y: float
    width: float
    height: float
    # Where the number and the month are centred, and the number's baseline.
    centre: float
    value_y: float
    show_year: bool


@dataclass(frozen=True)
class MonthChart:
    width: int
    height: int
    font_size: int
    baseline_y: float
    month_y: float
    year_y: float
    columns: tuple[Column, ...]

    @property
    def total(self) -> int:
        return sum(column.value for column in self.columns)

    @property
    def peak(self) -> Column | None:
        """The first month with the highest number, or None when every month is 0."""
        best = max(self.columns, key=lambda column: column.value, default=None)
        return best if best is not None and best.value > 0 else None


def month_chart(series: Sequence[tuple[dt.date, int]]) -> MonthChart:
    """Columns for (first day of month, count) pairs, scaled to the largest count."""
    baseline = TOP + PLOT_HEIGHT
    largest = max((value for _, value in series), default=0)
    scale = PLOT_HEIGHT / largest if largest > 0 else 0.0
    slot = WIDTH / max(len(series), 1)
    width = round(slot * COLUMN_SHARE, 1)
    columns = []
    for index, (month, value) in enumerate(series):
        height = max(value * scale, MIN_COLUMN) if value > 0 else 0.0
        centre = slot * index + slot / 2
        columns.append(
            Column(
                month=month,
                value=value,
                x=round(centre - width / 2, 1),
                y=round(baseline - height, 1),
                width=width,
                height=round(height, 1),
                centre=round(centre, 1),
                value_y=round(baseline - height - VALUE_GAP, 1),
                show_year=index == 0 or month.month == 1,
            )
        )
    return MonthChart(
        width=WIDTH,
        height=HEIGHT,
        font_size=FONT_SIZE,
        baseline_y=baseline,
        month_y=baseline + MONTH_GAP,
        year_y=baseline + YEAR_GAP,
        columns=tuple(columns),
    )
