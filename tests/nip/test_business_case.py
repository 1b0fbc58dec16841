"""The business case reproduces the seed's tables from their inputs (pure, no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from demo.nip_plan import BUDGET, BUSINESS_CASES
from nip.business_case import (
    Balance,
    Counted,
    Line,
    compare_with_budget,
    compute_case,
    totals_by_source,
)

D = Decimal


def seed_lines(index: int) -> list[Line]:
    _title, lines = BUSINESS_CASES[index]
    return [
        Line(
            label=label,
            homes=homes,
            amount_per_home=D(amount),
            source=source,
            option_group=group,
            option_label=option,
        )
        for label, homes, amount, source, group, option in lines
    ]


def seed_budget() -> dict[str, Decimal]:
    budget: dict[str, Decimal] = {}
    for source, _text, amount in BUDGET:
        budget[source] = budget.get(source, D(0)) + D(amount)
    return budget


def test_it_reproduces_the_seeds_first_table():
    case = compute_case(seed_lines(0))
    assert [row.total for row in case.rows] == [
        D("80300"),
        D("48950"),
        D("128700"),
        D("61100"),
        D("98800"),
        D("24907.50"),
    ]
    # Of each pair of alternatives the costlier (glass) counts.
    assert [row.counted for row in case.rows] == [
        Counted.YES,
        Counted.CHEAPER_ALTERNATIVE,
        Counted.YES,
        Counted.CHEAPER_ALTERNATIVE,
        Counted.YES,
        Counted.YES,
    ]
    assert case.total == D("332707.50")
    assert case.by_source == {
        "nip": D("80300"),
        "energy_poverty": D("227500"),
        "cdoke": D("24907.50"),
    }
    assert case.state_total == 0


def test_it_reproduces_the_seeds_second_table_without_the_state_money():
    case = compute_case(seed_lines(1))
    assert [row.total for row in case.rows] == [D("154760"), D("37100"), D("53000"), D("32595")]
    assert [row.counted for row in case.rows] == [
        Counted.YES,
        Counted.STATE,
        Counted.STATE,
        Counted.YES,
    ]
    # The plan: € 187.355 = NIP € 154.760 + CDOKE € 32.595; ISDE is the state's.
    assert case.total == D("187355.00")
    assert case.by_source == {"nip": D("154760"), "cdoke": D("32595")}
    assert case.state_total == D("90100")


def test_the_totals_per_source_add_up_all_cases():
    cases = [compute_case(seed_lines(0)), compute_case(seed_lines(1))]
    assert totals_by_source(cases) == {
        "nip": D("235060"),
        "energy_poverty": D("227500"),
        "cdoke": D("57502.50"),
    }
    assert sum(totals_by_source(cases).values()) == D("332707.50") + D("187355")


def test_it_compares_the_need_with_the_budget_per_source():
    cases = [compute_case(seed_lines(0)), compute_case(seed_lines(1))]
    comparison = compare_with_budget(
        totals_by_source(cases),
        seed_budget(),
        order=["nip", "energy_poverty", "municipal_sustainability", "tvw", "cdoke", "other"],
    )
    rows = {row.source: row for row in comparison.rows}
    assert list(rows) == ["nip", "energy_poverty", "municipal_sustainability", "tvw", "cdoke"]
    # 187 homes × € 1.460 = € 273.020 budgeted against € 235.060 needed.
    assert (rows["nip"].budget, rows["nip"].needed) == (D("273020"), D("235060"))
    assert (rows["nip"].balance, rows["nip"].left_over) == (Balance.OVER, D("37960"))
    assert (rows["energy_poverty"].balance, rows["energy_poverty"].shortfall) == (
        Balance.SHORT,
        D("147500"),
    )
    assert rows["tvw"].needed == 0 and rows["tvw"].left_over == D("65000")
    assert rows["cdoke"].difference == D("7997.50")
    assert comparison.total.budget == D("556520")
    assert comparison.total.needed == D("520062.50")
    assert comparison.total.difference == D("36457.50")


@pytest.mark.parametrize(
    ("amounts", "counted"),
    [
        # The first of two equal alternatives counts, once.
        (("100", "100"), [Counted.YES, Counted.CHEAPER_ALTERNATIVE]),
        (("100", "250"), [Counted.CHEAPER_ALTERNATIVE, Counted.YES]),
        (("300", "250"), [Counted.YES, Counted.CHEAPER_ALTERNATIVE]),
    ],
)
def test_only_the_costliest_alternative_counts(amounts, counted):
    lines = [Line("x", 2, D(amount), "nip", "g", f"o{n}") for n, amount in enumerate(amounts)]
    case = compute_case(lines)
    assert [row.counted for row in case.rows] == counted
    assert case.total == 2 * max(D(a) for a in amounts)


def test_alternatives_compare_totals_not_amounts_per_home():
    # 10 homes × € 100 costs more than 2 homes × € 400.
    case = compute_case(
        [Line("a", 10, D("100"), "nip", "g"), Line("b", 2, D("400"), "energy_poverty", "g")]
    )
    assert case.total == D("1000")
    assert case.by_source == {"nip": D("1000")}


def test_an_isde_line_in_an_alternatives_group_never_wins_it():
    case = compute_case(
        [Line("state", 10, D("500"), "isde", "g"), Line("ours", 10, D("100"), "nip", "g")]
    )
    assert [row.counted for row in case.rows] == [Counted.STATE, Counted.YES]
    assert (case.total, case.state_total) == (D("1000"), D("5000"))


def test_an_empty_case_totals_zero_and_lines_without_group_all_count():
    assert compute_case([]).total == 0
    case = compute_case([Line("a", 3, D("0.10"), "other"), Line("b", 0, D("999"), "tvw")])
    assert case.total == D("0.30")
    assert all(row.counts for row in case.rows)


def test_a_source_with_only_a_need_or_only_a_budget_is_compared_too():
    comparison = compare_with_budget({"other": D("5")}, {"tvw": D("7")}, order=["tvw"])
    rows = {row.source: row for row in comparison.rows}
    assert rows["other"].balance == Balance.SHORT and rows["other"].shortfall == D("5")
    assert rows["tvw"].balance == Balance.OVER
    assert list(rows) == ["tvw", "other"]
    assert compare_with_budget({"x": D("1")}, {"x": D("1")}).rows[0].balance == Balance.EVEN
