"""Small-cell suppression: no published cell below K, no suppressed cell derivable.

The properties are checked on generated data with many small and some large areas, by
a checker written here from the rules, independently of the module's own bookkeeping
(every area is a member of its municipality's groups, small ones too).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataplatform import models, suppression
from dataplatform.suppression import (
    COMPLEMENTARY,
    HOUSEHOLDS,
    MUNICIPALITY,
    RULES_VERSION,
    SMALL,
    Cell,
    Table,
    suppress,
)

LABELS = ["label:A", "label:B", "label:C", "label:D", "label:G", "label:unknown"]
TYPES = ["dwelling_type:terraced", "dwelling_type:apartment", "dwelling_type:unknown"]
BANDS = ["build_year:<1945", "build_year:1945-1974", "build_year:2006+", "build_year:unknown"]
MEASURES = ["measure_done:cavity_wall_insulation", "measure_wanted:heat_pump"]


def split(draw, total: int, names: list[str]) -> dict[str, int]:
    """`total` divided over `names` (a partition), often lopsided as real areas are."""
    counts = dict.fromkeys(names, 0)
    for _ in range(total):
        counts[names[draw(st.integers(0, len(names) - 1))]] += 1
    return counts


@st.composite
def area_counts(draw, households: int) -> dict[str, int]:
    counts = {HOUSEHOLDS: households}
    for names in (LABELS, TYPES, BANDS):
        counts.update(split(draw, households, names))
    for measure in MEASURES:
        counts[measure] = draw(st.integers(0, households))
    return counts


@st.composite
def levels(draw) -> tuple[Table, Table, int]:
    """A pc6 table of many small and a few large areas over 1–3 municipalities, their totals."""
    k = draw(st.integers(5, 12))
    municipalities = ["GM0001", "GM0002", "GM0003"][: draw(st.integers(1, 3))]
    n_areas = draw(st.integers(1, 25))
    counts: dict[str, dict[str, int]] = {}
    municipality: dict[str, str] = {}
    for n in range(n_areas):
        size = draw(st.one_of(st.integers(0, 4), st.integers(5, 15), st.integers(16, 60)))
        area = f"{1000 + n}AA"
        counts[area] = draw(area_counts(size))
        municipality[area] = draw(st.sampled_from(municipalities))
    totals: dict[str, dict[str, int]] = {}
    for code in municipalities:
        # Households without a postcode-6 cell of their own (another initiative's, say).
        rest = draw(st.integers(0, 3))
        extra = draw(area_counts(rest))
        total = {
            measure: extra[measure]
            + sum(counts[a][measure] for a in counts if municipality[a] == code)
            for measure in extra
        }
        totals[code] = total
    return Table("pc6", counts, municipality), Table(MUNICIPALITY, totals), k


def groups(pc6: Table, totals: Table) -> Iterator[tuple[tuple, list[tuple], int]]:
    """(total, parts, hidden) of every additive group, every area a member."""
    for table in (pc6, totals):
        for area, counts in table.counts.items():
            total = (table.level, area, HOUSEHOLDS)
            for names in (LABELS, TYPES, BANDS):
                yield total, [(table.level, area, name) for name in names], 0
            for measure in MEASURES:
                yield total, [(table.level, area, measure)], counts[HOUSEHOLDS] - counts[measure]
    for code, total_counts in totals.counts.items():
        areas = [a for a in pc6.counts if pc6.municipality[a] == code]
        for measure, value in total_counts.items():
            parts = [("pc6", a, measure) for a in areas]
            hidden = value - sum(pc6.counts[a][measure] for a in areas)
            yield (MUNICIPALITY, code, measure), parts, hidden


def value_of(pc6: Table, totals: Table, key: tuple) -> int:
    level, area, measure = key
    return (pc6 if level == "pc6" else totals).counts[area][measure]


def outcome(cells: list[Cell]) -> dict[tuple, Cell]:
    return {(cell.level, cell.area, cell.measure): cell for cell in cells}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(levels())
def test_no_published_count_is_below_k(data):
    pc6, totals, k = data
    cells = suppress([pc6, totals], k=k)
    assert len(cells) == sum(len(c) for t in (pc6, totals) for c in t.counts.values())
    for cell in cells:
        if cell.count is not None:
            assert cell.count >= k
            assert cell.count == value_of(pc6, totals, (cell.level, cell.area, cell.measure))
            assert cell.reason == ""
        else:
            assert cell.reason in (SMALL, COMPLEMENTARY)
            if value_of(pc6, totals, (cell.level, cell.area, cell.measure)) < k:
                assert cell.reason == SMALL


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(levels())
def test_no_suppressed_count_can_be_derived_from_published_totals(data):
    pc6, totals, k = data
    cells = outcome(suppress([pc6, totals], k=k))
    for total, parts, hidden in groups(pc6, totals):
        suppressed = [p for p in parts if cells[p].count is None]
        nonzero = [p for p in suppressed if value_of(pc6, totals, p)]
        if cells[total].count is None:
            # Only when the total is the one unknown is it known exactly.
            if not suppressed and hidden == 0:
                assert value_of(pc6, totals, total) == 0
            continue
        derivable = cells[total].count - sum(cells[p].count for p in parts if p not in suppressed)
        assert derivable == 0 or abs(derivable) >= k, (total, parts, derivable)
        if hidden == 0:
            assert len(nonzero) != 1, (total, nonzero)


@settings(max_examples=100, deadline=None)
@given(levels())
def test_the_outcome_does_not_depend_on_the_order_of_the_input(data):
    pc6, totals, k = data
    reversed_pc6 = Table("pc6", dict(reversed(list(pc6.counts.items()))), pc6.municipality)
    assert suppress([pc6, totals], k=k) == suppress([reversed_pc6, totals], k=k)


def area(**counts: int) -> dict[str, int]:
    return counts


def test_a_single_suppressed_label_is_protected_by_a_second_one():
    counts = {
        "1234AB": {
            HOUSEHOLDS: 30,
            "label:C": 12,
            "label:D": 15,
            "label:E": 3,
        }
    }
    cells = outcome(suppress(Table("pc6", counts), k=10))
    # label:E alone would be 30 - 12 - 15 = 3: the smallest published label goes too.
    assert cells[("pc6", "1234AB", "label:E")].reason == SMALL
    assert cells[("pc6", "1234AB", "label:C")].count is None
    assert cells[("pc6", "1234AB", "label:C")].reason == COMPLEMENTARY
    assert cells[("pc6", "1234AB", "label:D")].count == 15
    assert cells[("pc6", "1234AB", HOUSEHOLDS)].count == 30


def test_a_measure_done_by_all_but_a_few_is_suppressed():
    counts = {"1234AB": {HOUSEHOLDS: 20, "measure_done:floor_insulation": 18}}
    cells = outcome(suppress(Table("pc6", counts), k=10))
    # Published, it would tell that 2 households have not done it.
    assert cells[("pc6", "1234AB", "measure_done:floor_insulation")].reason == COMPLEMENTARY
    assert cells[("pc6", "1234AB", HOUSEHOLDS)].count == 20


def test_a_measure_done_by_every_household_is_published():
    counts = {"1234AB": {HOUSEHOLDS: 20, "measure_done:floor_insulation": 20}}
    cells = outcome(suppress(Table("pc6", counts), k=10))
    assert cells[("pc6", "1234AB", "measure_done:floor_insulation")].count == 20


def test_an_area_cannot_be_derived_from_its_municipality_total():
    pc6 = Table(
        "pc6",
        {"1234AB": {HOUSEHOLDS: 40}, "1234AC": {HOUSEHOLDS: 12}, "1234AD": {HOUSEHOLDS: 3}},
        {"1234AB": "GM0001", "1234AC": "GM0001", "1234AD": "GM0001"},
    )
    totals = Table(MUNICIPALITY, {"GM0001": {HOUSEHOLDS: 55}})
    cells = outcome(suppress([pc6, totals], k=10))
    assert cells[("pc6", "1234AD", HOUSEHOLDS)].reason == SMALL
    # 55 - 40 - 12 would give the 3 of 1234AD: the smaller published area is suppressed.
    assert cells[("pc6", "1234AC", HOUSEHOLDS)].reason == COMPLEMENTARY
    assert cells[("pc6", "1234AB", HOUSEHOLDS)].count == 40
    assert cells[(MUNICIPALITY, "GM0001", HOUSEHOLDS)].count == 55


def test_an_area_below_k_is_one_suppressed_cell_when_compact():
    counts = {"1234AB": {HOUSEHOLDS: 4, "label:C": 4}, "1234AC": {HOUSEHOLDS: 10, "label:C": 10}}
    cells = suppress(Table("pc6", counts), k=10, compact=True)
    assert [(c.area, c.measure, c.count) for c in cells] == [
        ("1234AB", HOUSEHOLDS, None),
        ("1234AC", HOUSEHOLDS, 10),
        ("1234AC", "label:C", 10),
    ]


def test_a_zero_count_is_suppressed():
    cells = outcome(suppress(Table("pc6", {"1234AB": {HOUSEHOLDS: 10, "label:G": 0}}), k=10))
    assert cells[("pc6", "1234AB", "label:G")].count is None
    assert cells[("pc6", "1234AB", "label:G")].reason == SMALL


@pytest.mark.parametrize("k", [4, 0, -1])
def test_it_refuses_k_below_5(k):
    with pytest.raises(ValueError, match="at least 5"):
        suppress(Table("pc6", {"1234AB": {HOUSEHOLDS: 10}}), k=k)


def test_the_rules_version_and_minimum_match_the_models():
    assert RULES_VERSION == "2026-2"
    assert suppression.K_MINIMUM == models.K_MINIMUM == 5


def test_a_postcode_cannot_be_derived_from_the_neighbourhood_it_lies_in():
    # Three postcodes wholly inside one neighbourhood, no municipality level published:
    # 30 - 14 - 12 would give the 4 of 1234AD.
    parents = {"1234AB": "BU00010001", "1234AC": "BU00010001", "1234AD": "BU00010001"}
    pc6 = Table(
        "pc6",
        {"1234AB": {HOUSEHOLDS: 14}, "1234AC": {HOUSEHOLDS: 12}, "1234AD": {HOUSEHOLDS: 4}},
        dict.fromkeys(parents, "GM0001"),
        parent_level="neighbourhood",
        parent=parents,
    )
    neighbourhoods = Table(
        "neighbourhood", {"BU00010001": {HOUSEHOLDS: 30}}, {"BU00010001": "GM0001"}
    )

    cells = outcome(suppress([pc6, neighbourhoods], k=10))

    assert cells[("pc6", "1234AD", HOUSEHOLDS)].reason == SMALL
    assert cells[("pc6", "1234AC", HOUSEHOLDS)].reason == COMPLEMENTARY
    assert cells[("neighbourhood", "BU00010001", HOUSEHOLDS)].count == 30
    # What can be worked out is 30 - 14 = 16 households together: not one postcode.
    assert cells[("pc6", "1234AB", HOUSEHOLDS)].count == 14


def test_a_postcode_across_a_neighbourhood_border_is_no_part_of_either():
    pc6 = Table(
        "pc6",
        {"1234AB": {HOUSEHOLDS: 14}, "1234AC": {HOUSEHOLDS: 12}, "1234AD": {HOUSEHOLDS: 4}},
        {"1234AB": "GM0001", "1234AC": "GM0001", "1234AD": "GM0001"},
        parent_level="neighbourhood",
        # 1234AC crosses the border: the neighbourhood holds only part of its households.
        parent={"1234AB": "BU00010001", "1234AD": "BU00010001"},
    )
    neighbourhoods = Table(
        "neighbourhood", {"BU00010001": {HOUSEHOLDS: 24}}, {"BU00010001": "GM0001"}
    )

    cells = outcome(suppress([pc6, neighbourhoods], k=10))

    # 24 - 14 = 10 covers 1234AD and the part of 1234AC: nothing to hide further.
    assert cells[("pc6", "1234AC", HOUSEHOLDS)].count == 12
    assert cells[("pc6", "1234AB", HOUSEHOLDS)].count == 14


@st.composite
def nested_levels(draw) -> tuple[Table, Table, int]:
    """Postcodes inside 1–3 neighbourhoods (some across a border), and the neighbourhoods."""
    k = draw(st.integers(5, 12))
    neighbourhoods = ["BU00010001", "BU00010002", "BU00010003"][: draw(st.integers(1, 3))]
    counts: dict[str, dict[str, int]] = {}
    parent: dict[str, str] = {}
    totals = {
        code: dict.fromkeys([HOUSEHOLDS, *LABELS, *TYPES, *BANDS, *MEASURES], 0)
        for code in neighbourhoods
    }
    for n in range(draw(st.integers(1, 20))):
        size = draw(st.one_of(st.integers(0, 4), st.integers(5, 15), st.integers(16, 60)))
        area = f"{2000 + n}AA"
        counts[area] = draw(area_counts(size))
        home = draw(st.sampled_from(neighbourhoods))
        if draw(st.integers(0, 4)):
            # Wholly inside its neighbourhood: all of it counts there.
            parent[area] = home
            share = counts[area]
        else:
            # Across a border: only some of its households lie in this neighbourhood.
            share = draw(area_counts(draw(st.integers(0, size))))
        for measure, value in share.items():
            totals[home][measure] += value
    municipality = dict.fromkeys(counts, "GM0001")
    pc6 = Table("pc6", counts, municipality, parent_level="neighbourhood", parent=parent)
    return pc6, Table("neighbourhood", totals, dict.fromkeys(totals, "GM0001")), k


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested_levels())
def test_no_suppressed_postcode_can_be_derived_from_its_neighbourhood(data):
    pc6, neighbourhoods, k = data
    cells = outcome(suppress([pc6, neighbourhoods], k=k))
    for code, total_counts in neighbourhoods.counts.items():
        inside = [area for area, parent in pc6.parent.items() if parent == code]
        for measure in total_counts:
            total = cells[("neighbourhood", code, measure)]
            assert total.count is None or total.count >= k
            if total.count is None:
                continue
            parts = [
                cells[("pc6", area, measure)] for area in inside if ("pc6", area, measure) in cells
            ]
            # A postcode below K is stored as its households cell only: its other figures
            # are hidden as well, so they count as suppressed here.
            published = sum(p.count for p in parts if p.count is not None)
            hidden_inside = [
                area
                for area in inside
                if ("pc6", area, measure) not in cells
                or cells[("pc6", area, measure)].count is None
            ]
            derivable = total.count - published
            assert derivable == 0 or derivable >= k, (code, measure, derivable)
            if hidden_inside and derivable == sum(pc6.counts[a][measure] for a in hidden_inside):
                # Nothing else is in the difference: one non-zero hidden postcode would be exact.
                nonzero = [a for a in hidden_inside if pc6.counts[a][measure]]
                assert len(nonzero) != 1 or derivable >= k, (code, measure, nonzero)
