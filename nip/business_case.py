"""A programme's business cases as the plan writes them: homes × amount, with totals.

Pure: plain values in, plain values out, no ORM. Each line of a case is a number of homes
times an amount per home from one funding source. Two rules decide what a case's total
counts (seed 004, the municipality's plan):

- lines with the same non-empty `option_group` are alternatives (insulation or glass);
  the total counts only the costliest ("het totaalbedrag berekend van de duurste
  optie"), the first line of the group when two cost the same;
- ISDE lines are money the state pays the resident: shown, never in the municipality's
  total (the plan's second table: € 187.355 = NIP € 154.760 + CDOKE € 32.595).

The totals per source over all cases are compared with the programme's budget per
source, so the page can say which source falls short and which has money left.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

# The one source that never counts in the municipality's totals (nip.models.FundingSource).
STATE_SOURCE = "isde"
ZERO = Decimal("0")


class Counted(StrEnum):
    """Whether a line's total counts in its case's total, and if not, why."""

    YES = "yes"
    # A cheaper alternative in its option group: the costliest counts instead.
    CHEAPER_ALTERNATIVE = "cheaper_alternative"
    # Paid by the state to the resident (ISDE).
    STATE = "state"


@dataclass(frozen=True)
class Line:
    label: str
    homes: int
    amount_per_home: Decimal
    source: str
    option_group: str = ""
    option_label: str = ""


@dataclass(frozen=True)
class Row:
    line: Line
    total: Decimal
    counted: Counted

    @property
    def counts(self) -> bool:
        return self.counted == Counted.YES


@dataclass(frozen=True)
class CaseResult:
    rows: tuple[Row, ...]
    # The municipality's total: the counted rows only.
    total: Decimal
    # The counted rows per source, in the order the sources first appear.
    by_source: dict[str, Decimal]
    # What the state pays the residents (ISDE), shown beside the total, never in it.
    state_total: Decimal


def line_total(homes: int, amount_per_home: Decimal) -> Decimal:
    return Decimal(homes) * amount_per_home


def compute_case(lines: Sequence[Line]) -> CaseResult:
    """The rows of one case with their totals, and the case's total per source."""
    totals = [line_total(line.homes, line.amount_per_home) for line in lines]
    # Per option group, the index of the costliest municipal line (the first on a tie).
    costliest: dict[str, int] = {}
    for index, line in enumerate(lines):
        if not line.option_group or line.source == STATE_SOURCE:
            continue
        best = costliest.get(line.option_group)
        if best is None or totals[index] > totals[best]:
            costliest[line.option_group] = index
    rows = []
    by_source: dict[str, Decimal] = {}
    total = state_total = ZERO
    for index, line in enumerate(lines):
        if line.source == STATE_SOURCE:
            counted = Counted.STATE
            state_total += totals[index]
        elif line.option_group and costliest[line.option_group] != index:
            counted = Counted.CHEAPER_ALTERNATIVE
        else:
            counted = Counted.YES
            total += totals[index]
            by_source[line.source] = by_source.get(line.source, ZERO) + totals[index]
        rows.append(Row(line=line, total=totals[index], counted=counted))
    return CaseResult(rows=tuple(rows), total=total, by_source=by_source, state_total=state_total)


def totals_by_source(cases: Iterable[CaseResult]) -> dict[str, Decimal]:
    """What all cases together need from each source."""
    result: dict[str, Decimal] = {}
    for case in cases:
        for source, amount in case.by_source.items():
            result[source] = result.get(source, ZERO) + amount
    return result


class Balance(StrEnum):
    SHORT = "short"
    EVEN = "even"
    OVER = "over"


@dataclass(frozen=True)
class SourceComparison:
    source: str
    budget: Decimal
    needed: Decimal

    @property
    def difference(self) -> Decimal:
        """Budget minus what the cases need: negative is a shortfall."""
        return self.budget - self.needed

    @property
    def balance(self) -> Balance:
        if self.difference < 0:
            return Balance.SHORT
        return Balance.OVER if self.difference > 0 else Balance.EVEN

    @property
    def shortfall(self) -> Decimal:
        return max(-self.difference, ZERO)

    @property
    def left_over(self) -> Decimal:
        return max(self.difference, ZERO)


@dataclass(frozen=True)
class BudgetComparison:
    rows: tuple[SourceComparison, ...] = field(default_factory=tuple)

    @property
    def total(self) -> SourceComparison:
        return SourceComparison(
            source="",
            budget=sum((row.budget for row in self.rows), ZERO),
            needed=sum((row.needed for row in self.rows), ZERO),
        )


def compare_with_budget(
    needed: Mapping[str, Decimal],
    budget: Mapping[str, Decimal],
    *,
    order: Sequence[str] = (),
) -> BudgetComparison:
    """Budget against need for every source that has either, in `order` first."""
    sources = [s for s in order if s in needed or s in budget]
    sources += [s for s in (*budget, *needed) if s not in sources and s != STATE_SOURCE]
    return BudgetComparison(
        rows=tuple(
            SourceComparison(
                source=source, budget=budget.get(source, ZERO), needed=needed.get(source, ZERO)
            )
            for source in dict.fromkeys(sources)
            if source != STATE_SOURCE
        )
    )
