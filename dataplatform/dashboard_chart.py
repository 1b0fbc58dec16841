"""The geometry of the neighbourhood-figures charts: horizontal bars, each with its number.

The house approach of nip/dashboard_chart.py (which dataplatform may not import): SVG
drawn on the server (the template writes it, so Django escapes every text), every bar
carries its own number so nothing has to be hovered or tapped, no JavaScript, and a table
with the same figures next to each chart for screen readers.

A suppressed figure is not a zero: it gets no bar and no number, but a dashed empty box
and the word the template puts there ("afgeschermd"), so a reader never takes it for
"none". Suppressed bars do not count towards the scale either, since their size is not
known.

Only numbers and the labels passed in come out of here: no ORM, no translation, no
number formatting (that is the template's, in Dutch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# User units of the viewBox; at its natural size a unit is a CSS px (dashboard.css lets
# the chart fill its column and scale).
WIDTH = 560
FONT_SIZE = 16
LABEL_HEIGHT = FONT_SIZE + 8
BAR_HEIGHT = 22
BAR_GAP = 6
GROUP_GAP = 16
# Room on the left for the bars' own labels ("done", "wanted") when a group has several
# bars, and on the right for the number or the word for a suppressed figure.
SERIES_WIDTH = 110
VALUE_ROOM = 135
VALUE_GAP = 6
# A value of 1 among thousands still shows as a sliver, so it does not read as zero.
MIN_BAR = 2.0
# The dashed box that stands where a suppressed bar would be.
SUPPRESSED_BOX = BAR_HEIGHT - 4
TEXT_DROP = FONT_SIZE * 0.35


@dataclass(frozen=True)
class BarInput:
    label: str
    # None: the figure is suppressed (not published), which is not the same as 0.
    value: int | None


@dataclass(frozen=True)
class GroupInput:
    label: str
    bars: Sequence[BarInput]


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None
    x: float
    y: float
    width: float
    height: float
    text_y: float
    # Where the number (or the word for a suppressed figure) starts.
    value_x: float

    @property
    def suppressed(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Group:
    label: str
    label_y: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    font_size: int
    zero_x: float
    groups: tuple[Group, ...]

    @property
    def is_empty(self) -> bool:
        return not self.groups

    @property
    def has_suppressed(self) -> bool:
        return any(bar.suppressed for group in self.groups for bar in group.bars)


def bar_chart(groups: Sequence[GroupInput]) -> BarChart:
    """Bars for the groups, scaled to the largest published value of the whole chart."""
    series = any(len(group.bars) > 1 or not group.label for group in groups)
    zero_x = float(SERIES_WIDTH if series else 0)
    plot = WIDTH - zero_x - VALUE_ROOM
    largest = max(
        (bar.value for group in groups for bar in group.bars if bar.value is not None),
        default=0,
    )
    scale = plot / largest if largest > 0 else 0.0
    y = 0.0
    laid_out = []
    for group in groups:
        # A group without a label (one series of bars, each with its own) has no line above.
        label_y = y + FONT_SIZE
        if group.label:
            y += LABEL_HEIGHT
        bars = []
        for item in group.bars:
            if item.value is None:
                inset = (BAR_HEIGHT - SUPPRESSED_BOX) / 2
                bar_y, width, height = y + inset, float(SUPPRESSED_BOX), float(SUPPRESSED_BOX)
            else:
                bar_y, height = y, float(BAR_HEIGHT)
                width = max(item.value * scale, MIN_BAR) if item.value > 0 else 0.0
            bars.append(
                Bar(
                    label=item.label,
                    value=item.value,
                    x=zero_x,
                    y=round(bar_y, 1),
                    width=round(width, 1),
                    height=height,
                    text_y=round(y + BAR_HEIGHT / 2 + TEXT_DROP, 1),
                    value_x=round(zero_x + width + VALUE_GAP, 1),
                )
            )
            y += BAR_HEIGHT + BAR_GAP
        laid_out.append(Group(label=group.label, label_y=round(label_y, 1), bars=tuple(bars)))
        y += GROUP_GAP - BAR_GAP
    height = round(y - GROUP_GAP + BAR_GAP + 4) if laid_out else 0
    return BarChart(
        width=WIDTH, height=height, font_size=FONT_SIZE, zero_x=zero_x, groups=tuple(laid_out)
    )
