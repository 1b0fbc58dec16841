"""The advice report's chart: bar geometry from the figures a report keeps."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from dossier import report_chart
from dossier.report_chart import LABEL_ROOM, SavingsChart, savings_chart


def record(value: Any, unit: str = "€") -> dict[str, Any]:
    return {"value": value, "unit": unit, "formula": ""}


def measure(name: str, net_cost: Any, saving: Any) -> dict[str, Any]:
    return {
        "name": name,
        "figures": {
            "net_cost_eur": record(net_cost),
            "savings_eur_per_year": record(saving),
            "payback_years": record(None, "years"),
        },
    }


def chart_of(*measures: dict[str, Any]) -> SavingsChart:
    chart = savings_chart(list(measures))
    assert chart is not None
    return chart


def test_it_draws_no_chart_without_measures():
    assert savings_chart([]) is None


def test_it_draws_one_bar_per_measure_scaled_to_the_largest():
    chart = chart_of(
        measure("Dakisolatie", 4000, 500),
        measure("Vloerisolatie", 1000, 250),
        measure("Zonnepanelen", 2000, 1000),
    )

    assert [row.name for row in chart.rows] == ["Dakisolatie", "Vloerisolatie", "Zonnepanelen"]
    span = chart.cost_panel.width - LABEL_ROOM
    # Coordinates are rounded to a tenth of a unit.
    assert [row.cost.width for row in chart.rows] == pytest.approx(
        [span, span / 4, span / 2], abs=0.05
    )
    assert [row.saving.width for row in chart.rows] == pytest.approx(
        [span / 2, span / 4, span], abs=0.05
    )
    assert all(row.cost.x == chart.cost_panel.zero_x for row in chart.rows)
    assert all(row.saving.label_anchor == "start" for row in chart.rows)


def test_it_keeps_each_figure_record_so_the_template_can_format_it():
    dak = measure("Dakisolatie", 4000, 500)

    row = chart_of(dak).rows[0]

    assert row.cost.record is dak["figures"]["net_cost_eur"]
    assert row.saving.record is dak["figures"]["savings_eur_per_year"]


def test_it_puts_the_rows_below_each_other_inside_the_chart():
    chart = chart_of(*(measure(f"Maatregel {i}", 100 * i, 10 * i) for i in range(1, 8)))

    bar_tops = [row.bar_y for row in chart.rows]
    assert bar_tops == sorted(bar_tops)
    assert all(b - a >= chart.bar_height for a, b in itertools.pairwise(bar_tops))
    assert chart.rows[-1].bar_y + chart.bar_height <= chart.bottom <= chart.height
    assert chart.cost_panel.x + chart.cost_panel.width <= chart.saving_panel.x
    assert chart.saving_panel.x + chart.saving_panel.width <= chart.width


@pytest.mark.parametrize("value", [None, 0, 0.0, float("nan"), "onbekend"])
def test_it_draws_no_bar_for_a_zero_or_unknown_value_but_still_labels_it(value):
    chart = chart_of(measure("Dakisolatie", 4000, 500), measure("Kierdichting", value, value))

    cost = chart.rows[1].cost
    assert cost.width == 0
    assert cost.x == chart.cost_panel.zero_x
    assert cost.label_x > chart.cost_panel.zero_x
    assert cost.label_anchor == "start"


def test_it_draws_nothing_to_scale_when_every_value_is_zero():
    chart = chart_of(measure("Zonneboiler", 0, None))

    assert chart.rows[0].cost.width == 0
    assert chart.rows[0].saving.width == 0
    assert chart.cost_panel.zero_x == chart.cost_panel.x


def test_it_draws_a_negative_value_left_of_the_zero_line_with_room_for_its_label():
    chart = chart_of(measure("Warmtepomp", 3000, -100), measure("Dakisolatie", 4000, 300))
    panel = chart.saving_panel
    loss, gain = chart.rows[0].saving, chart.rows[1].saving

    assert loss.x + loss.width == pytest.approx(panel.zero_x)
    assert gain.x == panel.zero_x
    assert loss.width == pytest.approx(gain.width / 3, abs=0.1)
    assert loss.label_anchor == "end"
    assert loss.label_x < loss.x
    # The label of the largest loss still has its room inside the panel.
    assert loss.x - LABEL_ROOM >= panel.x - 0.1
    # Without losses, the cost panel keeps its zero line at its left edge.
    assert chart.cost_panel.zero_x == chart.cost_panel.x


def test_it_keeps_a_tiny_amount_visible():
    chart = chart_of(measure("Zonnepanelen", 100_000, 1000), measure("Kierdichting", 1, 1))

    assert 0 < chart.rows[1].cost.width < 2


def test_it_writes_a_short_name_on_one_line():
    row = chart_of(measure("Vloerisolatie", 1000, 100)).rows[0]

    assert [line.text for line in row.lines] == ["Vloerisolatie"]


def test_it_wraps_a_long_name_on_two_lines_and_shortens_the_rest():
    name = "Een heel erg lange naam van een maatregel die nergens past en nog langer doorgaat"

    row = chart_of(measure(name, 1000, 100)).rows[0]

    texts = [line.text for line in row.lines]
    assert len(texts) == 2
    assert texts[1].endswith("…")
    per_line = int(report_chart.NAME_WIDTH / report_chart.CHAR_WIDTH)
    assert all(len(text) <= per_line for text in texts)
    assert row.lines[1].y - row.lines[0].y == report_chart.LINE_HEIGHT
    # The full name stays with the row, for the table under the chart.
    assert row.name == name


def test_it_cuts_a_single_word_longer_than_the_name_column():
    word = "Zoldervloer" * 6

    row = chart_of(measure(word, 1000, 100)).rows[0]

    per_line = int(report_chart.NAME_WIDTH / report_chart.CHAR_WIDTH)
    assert all(len(line.text) <= per_line for line in row.lines)
    assert row.lines[-1].text.endswith("…")
