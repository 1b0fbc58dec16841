"""The geometry of the programme dashboard's charts: horizontal bars, each with its number.

The house approach of crm/dashboard_chart.py: SVG drawn on the server (the template
writes it, so Django escapes every text), every bar carries its own number so nothing
has to be hovered or tapped, no JavaScript, and a table with the same figures under
each chart for screen readers (the chart is one image with a summary).

Bars lie down here rather than stand: the things compared (funding sources, measure
types) have long Dutch names that fit on a line of their own above a bar, not under a
narrow column. A group is one thing with one or more bars (a source's budget, committed
and paid out); a bar drawn as an outline is the frame the others fill (a budget, a
target), so the difference does not rest on colour alone.

Only numbers and the labels passed in come out of here: no ORM, no translation, no
number formatting (that is the template's, in Dutch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

# User units of the viewBox; at its natural size a unit is a CSS px (see dashboard.css,
# which lets the chart fill its column and scale).
WIDTH = 560
FONT_SIZE = 16
# A group's label sits on its own line above its bars.
LABEL_HEIGHT = FONT_SIZE + 8
BAR_HEIGHT = 22
BAR_GAP = 6
GROUP_GAP = 16
# Room on the left for the bars' own labels ("Budget", "Paid out") when a group has
# several bars, and on the right for the longest number ("€ 1.234.567,50").
SERIES_WIDTH = 110
VALUE_ROOM = 135
VALUE_GAP = 6
OUTLINE_INSET = 1.0
# A value of 1 among thousands still shows as a sliver, so it does not read as zero.
MIN_BAR = 2.0
# Where the text sits on a bar's line: a little under the middle, as text has no descent.
TEXT_DROP = FONT_SIZE * 0.35

type Number = int | Decimal


@dataclass(frozen=True)
class BarInput:
    label: str
    value: Number
    outline: bool = False


@dataclass(frozen=True)
class GroupInput:
    label: str
    bars: Sequence[BarInput]


@dataclass(frozen=True)
class Bar:
    label: str
    value: Number
    outline: bool
    x: float
    y: float
    width: float
    height: float
    # Baseline of the bar's own label and of its number; the number starts at value_x.
    text_y: float
    value_x: float


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
    # Where the bars start.
    zero_x: float
    groups: tuple[Group, ...]

    @property
    def largest(self) -> Number:
        return max((bar.value for group in self.groups for bar in group.bars), default=0)

    @property
    def is_empty(self) -> bool:
        return not self.groups


def bar_chart(groups: Sequence[GroupInput]) -> BarChart:
    """Bars for the groups, each scaled to the largest value of the whole chart."""
    series = any(len(group.bars) > 1 for group in groups)
    zero_x = float(SERIES_WIDTH if series else 0)
    plot = WIDTH - zero_x - VALUE_ROOM
    largest = max((float(bar.value) for group in groups for bar in group.bars), default=0.0)
    scale = plot / largest if largest > 0 else 0.0
    y = 0.0
    laid_out = []
    for group in groups:
        label_y = y + FONT_SIZE
        y += LABEL_HEIGHT
        bars = []
        for item in group.bars:
            value = float(item.value)
            width = max(value * scale, MIN_BAR) if value > 0 else 0.0
            # An outline's stroke is centred on its edge: inset it by half the stroke
            # (2 units in dashboard.css), so it ends where a filled bar would.
            inset = OUTLINE_INSET if item.outline and width > 2 * OUTLINE_INSET else 0.0
            bars.append(
                Bar(
                    label=item.label,
                    value=item.value,
                    outline=item.outline,
                    x=zero_x + inset,
                    y=round(y + inset, 1),
                    width=round(width - 2 * inset, 1),
                    height=BAR_HEIGHT - 2 * inset,
                    text_y=round(y + BAR_HEIGHT / 2 + TEXT_DROP, 1),
                    value_x=round(zero_x + width + VALUE_GAP, 1),
                )
            )
            y += BAR_HEIGHT + BAR_GAP
        laid_out.append(Group(label=group.label, label_y=round(label_y, 1), bars=tuple(bars)))
        y += GROUP_GAP - BAR_GAP
    height = round(y - GROUP_GAP + BAR_GAP + 4) if laid_out else 0
    return BarChart(
        width=WIDTH,
        height=height,
        font_size=FONT_SIZE,
        zero_x=zero_x,
        groups=tuple(laid_out),
    )
