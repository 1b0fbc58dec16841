"""Reads for the NIP's programme pages: the list, the dashboard and the business cases.

Each figure is one aggregate query grouped by status, source or measure type, so the
dashboard costs the same few queries for ten applications or ten thousand. Every query
is narrowed to what the viewer may see; the caller has loaded the programme through
access.get_for() already.

What counts where:
- homes reached: applications granted or completed (GRANTED_STATUSES), against the
  programme's target; intakes still open are shown beside them;
- committed and paid out: the commitments of granted and completed applications only,
  so a rejected or withdrawn application's money is free again;
- the 80 % rule: among the granted homes, the share whose WOZ value is at or under the
  limit. A granted home whose answer is not known counts as a granted home that is not
  (yet) under the limit, so the share is never flattered;
- measures and m²: the measures executed at homes with a grant, per measure type and
  split into do-it-yourself and third party, as the RVO monitoring asks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet, Sum

from nip import business_case
from nip.models import (
    GRANTED_STATUSES,
    MUNICIPAL_SOURCES,
    Application,
    ApplicationStatus,
    BudgetLine,
    BusinessCase,
    Commitment,
    ExecutedMeasure,
    FundingSource,
    Programme,
)
from nip.parameters import NoParameters, parameters_on

if TYPE_CHECKING:
    from accounts.models import User

ZERO = Decimal("0")


# The list ----------------------------------------------------------------------------------


def programme_list(*, viewer: User) -> QuerySet[Programme]:
    """The viewer's programmes with their homes granted and open intakes, in one query."""
    return (
        Programme.objects.visible_to(viewer)
        .select_related("municipality")
        .annotate(
            homes_granted=Count(
                "applications", filter=Q(applications__status__in=GRANTED_STATUSES)
            ),
            homes_intake=Count(
                "applications", filter=Q(applications__status=ApplicationStatus.INTAKE)
            ),
        )
    )


# Money per source --------------------------------------------------------------------------


def source_label(source: str) -> str:
    return str(FundingSource(source).label) if source in FundingSource.values else source


def budget_by_source(*, viewer: User, programme: Programme) -> dict[str, Decimal]:
    """The programme's budget per source, summed over its lines."""
    rows = (
        BudgetLine.objects.visible_to(viewer)
        .filter(programme=programme)
        .values("source")
        .annotate(amount=Sum("amount_eur"))
        .order_by()
    )
    return {row["source"]: row["amount"] or ZERO for row in rows}


def committed_by_source(
    *, viewer: User, programme: Programme
) -> dict[str, tuple[Decimal, Decimal]]:
    """(committed, paid out) per source for the programme's granted applications."""
    rows = (
        Commitment.objects.visible_to(viewer)
        .filter(application__programme=programme, application__status__in=GRANTED_STATUSES)
        .values("source")
        .annotate(committed=Sum("amount_eur"), spent=Sum("spent_eur"))
        .order_by()
    )
    return {row["source"]: (row["committed"] or ZERO, row["spent"] or ZERO) for row in rows}


@dataclass(frozen=True)
class SourceMoney:
    source: str
    label: str
    budget: Decimal
    committed: Decimal
    spent: Decimal

    @property
    def free(self) -> Decimal:
        """Budget not yet committed; negative when more is committed than budgeted."""
        return self.budget - self.committed

    @property
    def over_committed(self) -> bool:
        return self.committed > self.budget

    @property
    def committed_share(self) -> Decimal | None:
        return self.committed / self.budget if self.budget else None


@dataclass(frozen=True)
class Money:
    rows: tuple[SourceMoney, ...]

    @property
    def total(self) -> SourceMoney:
        return SourceMoney(
            source="",
            label="",
            budget=sum((row.budget for row in self.rows), ZERO),
            committed=sum((row.committed for row in self.rows), ZERO),
            spent=sum((row.spent for row in self.rows), ZERO),
        )


def money(*, viewer: User, programme: Programme) -> Money:
    budget = budget_by_source(viewer=viewer, programme=programme)
    used = committed_by_source(viewer=viewer, programme=programme)
    return Money(
        rows=tuple(
            SourceMoney(
                source=source,
                label=source_label(source),
                budget=budget.get(source, ZERO),
                committed=used.get(source, (ZERO, ZERO))[0],
                spent=used.get(source, (ZERO, ZERO))[1],
            )
            for source in MUNICIPAL_SOURCES
            if source in budget or source in used
        )
    )


# Homes and the 80 % rule -------------------------------------------------------------------


@dataclass(frozen=True)
class Homes:
    target: int
    granted: int
    completed: int
    intake: int

    @property
    def share(self) -> Decimal | None:
        """Granted homes as a share of the target."""
        return Decimal(self.granted) / self.target if self.target else None

    @property
    def share_pct(self) -> Decimal | None:
        return None if self.share is None else self.share * 100

    @property
    def to_go(self) -> int:
        return max(self.target - self.granted, 0)


@dataclass(frozen=True)
class WozRule:
    """The 80 % rule: granted homes at or under the WOZ limit, against the minimum share."""

    target: int
    granted: int
    below: int
    above: int
    unknown: int
    # None when the parameters leave the minimum empty or no set is in force.
    share_min: Decimal | None

    @property
    def share(self) -> Decimal | None:
        return Decimal(self.below) / self.granted if self.granted else None

    @property
    def share_pct(self) -> Decimal | None:
        return None if self.share is None else self.share * 100

    @property
    def share_min_pct(self) -> Decimal | None:
        return None if self.share_min is None else self.share_min * 100

    @property
    def meets(self) -> bool | None:
        if self.share is None or self.share_min is None:
            return None
        return self.share >= self.share_min

    @property
    def above_allowed(self) -> int | None:
        """Homes above the limit the programme may have when it reaches its target."""
        if self.share_min is None:
            return None
        room = Decimal(self.target) * (1 - self.share_min)
        return int(room.to_integral_value(rounding=ROUND_FLOOR))

    @property
    def above_room(self) -> int | None:
        """How many more homes above the limit fit; negative is how many too many."""
        allowed = self.above_allowed
        return None if allowed is None else allowed - self.above

    @property
    def above_too_many(self) -> int:
        room = self.above_room
        return -room if room is not None and room < 0 else 0


def _application_counts(*, viewer: User, programme: Programme) -> dict[str, int]:
    granted = Q(status__in=GRANTED_STATUSES)
    return (
        Application.objects.visible_to(viewer)
        .filter(programme=programme)
        .aggregate(
            intake=Count("pk", filter=Q(status=ApplicationStatus.INTAKE)),
            granted=Count("pk", filter=granted),
            completed=Count("pk", filter=Q(status=ApplicationStatus.COMPLETED)),
            below=Count("pk", filter=granted & Q(woz_below_limit=True)),
            above=Count("pk", filter=granted & Q(woz_below_limit=False)),
            unknown=Count("pk", filter=granted & Q(woz_below_limit__isnull=True)),
        )
    )


# Measures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureFigures:
    code: str
    name: str
    count_diy: int
    count_third_party: int
    # None when no measure of the type has an area (ventilation is counted, not measured).
    m2_diy: Decimal | None
    m2_third_party: Decimal | None

    @property
    def count(self) -> int:
        return self.count_diy + self.count_third_party

    @property
    def m2(self) -> Decimal | None:
        if self.m2_diy is None and self.m2_third_party is None:
            return None
        return (self.m2_diy or ZERO) + (self.m2_third_party or ZERO)


def measures_by_type(*, viewer: User, programme: Programme) -> tuple[MeasureFigures, ...]:
    rows = (
        ExecutedMeasure.objects.visible_to(viewer)
        .filter(application__programme=programme, application__status__in=GRANTED_STATUSES)
        .values("measure_type__code", "measure_type__name", "measure_type__sort_order", "done_by")
        .annotate(count=Count("pk"), m2=Sum("area_m2"))
        .order_by("measure_type__sort_order", "measure_type__code", "done_by")
    )
    by_code: dict[str, dict] = {}
    for row in rows:
        figures = by_code.setdefault(
            row["measure_type__code"],
            {"name": row["measure_type__name"], "diy": (0, None), "third_party": (0, None)},
        )
        figures["diy" if row["done_by"] == "diy" else "third_party"] = (row["count"], row["m2"])
    return tuple(
        MeasureFigures(
            code=code,
            name=figures["name"],
            count_diy=figures["diy"][0],
            count_third_party=figures["third_party"][0],
            m2_diy=figures["diy"][1],
            m2_third_party=figures["third_party"][1],
        )
        for code, figures in by_code.items()
    )


# The dashboard -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    date: dt.date
    today: dt.date

    @property
    def days_left(self) -> int:
        """Days from today to the deadline: 0 is today, negative is past."""
        return (self.date - self.today).days

    @property
    def days_past(self) -> int:
        return max(-self.days_left, 0)


@dataclass(frozen=True)
class Dashboard:
    homes: Homes
    money: Money
    woz: WozRule
    measures: tuple[MeasureFigures, ...]
    deadline: Deadline
    # The parameter set the 80 % rule and the default amount per home came from.
    parameters_version: str | None
    amount_per_home: Decimal | None
    amount_per_home_from_parameters: bool

    @property
    def measures_total(self) -> MeasureFigures:
        def total(values: Sequence[Decimal | None]) -> Decimal | None:
            known = [value for value in values if value is not None]
            return sum(known, ZERO) if known else None

        return MeasureFigures(
            code="",
            name="",
            count_diy=sum(row.count_diy for row in self.measures),
            count_third_party=sum(row.count_third_party for row in self.measures),
            m2_diy=total([row.m2_diy for row in self.measures]),
            m2_third_party=total([row.m2_third_party for row in self.measures]),
        )


def programme_dashboard(*, viewer: User, programme: Programme, today: dt.date) -> Dashboard:
    """Every figure of the programme's dashboard on `today` (Europe/Amsterdam)."""
    counts = _application_counts(viewer=viewer, programme=programme)
    try:
        parameters, _pk = parameters_on(today)
    except NoParameters:
        parameters = None
    amount = programme.amount_per_home_eur
    from_parameters = amount is None
    if from_parameters and parameters is not None:
        amount = parameters.get("amount_per_home_eur")
    return Dashboard(
        homes=Homes(
            target=programme.target_homes,
            granted=counts["granted"],
            completed=counts["completed"],
            intake=counts["intake"],
        ),
        money=money(viewer=viewer, programme=programme),
        woz=WozRule(
            target=programme.target_homes,
            granted=counts["granted"],
            below=counts["below"],
            above=counts["above"],
            unknown=counts["unknown"],
            share_min=parameters.get("woz_share_min") if parameters else None,
        ),
        measures=measures_by_type(viewer=viewer, programme=programme),
        deadline=Deadline(date=programme.spend_deadline, today=today),
        parameters_version=parameters.version if parameters else None,
        amount_per_home=amount,
        amount_per_home_from_parameters=from_parameters,
    )


# Business cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    row: business_case.Row
    source_label: str


@dataclass(frozen=True)
class CaseView:
    case: BusinessCase
    result: business_case.CaseResult
    rows: tuple[CaseRow, ...]


@dataclass(frozen=True)
class ComparisonRow:
    comparison: business_case.SourceComparison
    label: str


@dataclass(frozen=True)
class BusinessCases:
    cases: tuple[CaseView, ...]
    comparison: tuple[ComparisonRow, ...]
    total: business_case.SourceComparison
    state_total: Decimal


def business_cases(*, viewer: User, programme: Programme) -> BusinessCases:
    """The programme's cases computed from their lines, and their need against the budget."""
    cases = (
        BusinessCase.objects.visible_to(viewer)
        .filter(programme=programme)
        .prefetch_related("lines")
    )
    views = []
    for case in cases:
        result = business_case.compute_case(
            [
                business_case.Line(
                    label=line.label,
                    homes=line.homes,
                    amount_per_home=line.amount_per_home_eur,
                    source=line.source,
                    option_group=line.option_group,
                    option_label=line.option_label,
                )
                for line in case.lines.all()
            ]
        )
        views.append(
            CaseView(
                case=case,
                result=result,
                rows=tuple(
                    CaseRow(row=row, source_label=source_label(row.line.source))
                    for row in result.rows
                ),
            )
        )
    comparison = business_case.compare_with_budget(
        business_case.totals_by_source(view.result for view in views),
        budget_by_source(viewer=viewer, programme=programme),
        order=MUNICIPAL_SOURCES,
    )
    return BusinessCases(
        cases=tuple(views),
        comparison=tuple(
            ComparisonRow(comparison=row, label=source_label(row.source)) for row in comparison.rows
        ),
        total=comparison.total,
        state_total=sum((view.result.state_total for view in views), ZERO),
    )
