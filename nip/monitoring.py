"""The RVO monitoring of a NIP programme: one row per home for a reporting period.

The RVO asks, per home insulated under the programme (SPUK lokale aanpak isolatie,
DOMAIN.md "Monitoring for RVO"), its address, whether the WOZ value is under the limit
(a yes/no, never the value), the energy label, the poorly insulated shell elements, the
year of the work, the amount granted, whether the debt exception applies, and the m² per
kind of measure split into do-it-yourself (dhz) and contractor (derden). The column
headers are the RVO template's, kept here as versioned data.

A home is in a period when its application was granted (approved or completed) and at
least one of its measures was executed in that period. All rows come from one grouped
query with conditional sums, read in chunks while the file is written, so an export of
100,000 homes costs the same few queries and the same memory as one of ten.

The check before export lists the homes with missing or doubtful fields. Addresses appear
on that page for the municipality's staff, never in URLs, logs or task messages.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import logging
import operator
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import (
    Aggregate,
    Count,
    Exists,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts import exports
from config.celery import lease_kept
from dossier.models import DoneBy, MeasureType
from nip import rules, tasks
from nip.models import (
    GRANTED_STATUSES,
    Application,
    ExecutedMeasure,
    ExportFormat,
    ExportStatus,
    MonitoringExport,
    ParameterSet,
    Programme,
    ReportingPeriod,
)
from nip.parameters import GLAZING_MEASURES, NipParameters, from_set

if TYPE_CHECKING:
    from accounts.exports import Cell
    from accounts.models import User

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# The RVO template: its headers, versioned


@dataclass(frozen=True)
class RvoTemplate:
    """The header row of the RVO spreadsheet from `valid_from`; a new template is a new entry."""

    version: str
    valid_from: dt.date
    source: str
    headers: tuple[str, ...]


# Verbatim, as the RVO spreadsheet reproduced by Econobis (AddressSpukLaiExcelHelper)
# has them, typos included ("WOZ- waarde", "bedrag(in"): RVO matches on the text.
# Verify against the current template on mijn.rvo.nl every year.
HEADERS_2025 = (
    "Straat",
    "nr.",
    "Toevoeging",
    "Postcode",
    "Woonplaats",
    "WOZ-waarde boven of onder gemiddelde WOZ- waarde van de koopwoningen in de betreffende "
    "gemeente of de NHG-grens",
    "Evt. aanwezig energielabel (sleepmenu D t/m G)",
    "Opsomming van energetisch slechte schilelementen (minimaal 2)",
    "Jaar uitvoering maatregel(en)",
    "Toegekend bedrag(in euro's)",
    "Uitzondering schuldhulpsanering (ja/nee)",
    "Dakisolatie (in m2) (minimaal 20 m2 per woning) dhz",
    "Dakisolatie (in m2) (minimaal 20 m2 per woning) derden",
    "Zolder/vlieringvloerisolatie (in m2) (minimaal 20 m2 per woning) dhz",
    "Zolder/vlieringvloerisolatie (in m2) (minimaal 20 m2 per woning) derden",
    "Spouwmuurisolatie (in m2), (minimaal 10 m2 per woning) dhz",
    "Spouwmuurisolatie (in m2), (minimaal 10 m2 per woning) derden",
    "Gevelisolatie (zowel binnen- als buitengevelisolatie) (in m2) (minimaal 10 m2 per woning) dhz",
    "Gevelisolatie (zowel binnen- als buitengevelisolatie) (in m2) (minimaal 10 m2 per woning) "
    "derden",
    "Vloerisolatie (in m2) (minimaal 20 m2 per woning) dhz",
    "Vloerisolatie (in m2) (minimaal 20 m2 per woning) derden",
    "Bodemisolatie (in m2) (minimaal 20 m2 per woning) dhz",
    "Bodemisolatie (in m2) (minimaal 20 m2 per woning) derden",
    "Glas en kozijnpanelen Ug en Up ≤ 1,2 W/m2K dhz",
    "Glas en kozijnpanelen Ug en Up ≤ 1,2 W/m2K derden",
    "Isolerende deuren Ud ≤ 1,5 W/m2K dhz",
    "Isolerende deuren Ud ≤ 1,5 W/m2K derden",
    "Glas en kozijnpanelen Ug en Up ≤ 0,7 W/m2K dhz",
    "Glas en kozijnpanelen Ug en Up ≤ 0,7 W/m2K derden",
    "Isolerende deuren Ud ≤ 1,0 W/m2K i.c.m. nieuwe isolerende kozijnen Uf ≤ 1,5 W/m2K dhz",
    "Isolerende deuren Ud ≤ 1,0 W/m2K i.c.m. nieuwe isolerende kozijnen Uf ≤ 1,5 W/m2K derden",
    "CO2-gestuurde ventilatie (mits van toepassing maximaal 1 invullen) dhz",
    "CO2-gestuurde ventilatie (mits van toepassing maximaal 1 invullen) derden",
    "Balansventilatie met WTW (evt. in combinatie met CO2-sturing) (mits van toepassing "
    "maximaal 1 invullen) dhz",
    "Balansventilatie met WTW (evt. in combinatie met CO2-sturing) (mits van toepassing "
    "maximaal 1 invullen) derden",
)

TEMPLATES = (
    RvoTemplate(
        version="spuk-lai-2025",
        valid_from=dt.date(2023, 1, 1),
        source="Ecodenl/econobis AddressSpukLaiExcelHelper (35 columns, A–AI)",
        headers=HEADERS_2025,
    ),
)


def template_for(day: dt.date) -> RvoTemplate:
    """The template in force at the end of a reporting period (the oldest before any)."""
    current = TEMPLATES[0]
    for template in TEMPLATES:
        if template.valid_from <= day:
            current = template
    return current


# The RVO's words, not the interface's: they go into the file in Dutch whatever the
# language of the page.
SHELL_NAMES = {
    "floor": "vloer/bodem",
    "facade": "gevel/spouwmuur",
    "roof": "dak/zoldervloer/vlieringvloer",
    "windows": "ramen",
}
NO_LABEL = "Niet aanwezig"
BELOW_LIMIT = {True: "Onder", False: "Boven"}
YES_NO = {True: "ja", False: "nee"}

# ---------------------------------------------------------------------------------------
# Which measure goes into which pair of columns

# (field, "lte" | "gt" | "isnull", value): a condition on an executed measure's U values.
type Condition = tuple[str, Literal["lte", "gt", "isnull"], Decimal | None]
# A measure code and the conditions that must all hold.
type Clause = tuple[str, tuple[Condition, ...]]


@dataclass(frozen=True)
class MeasureColumn:
    """A pair of columns (dhz, derden): the measures it takes, and m² or a count (max 1)."""

    key: str
    clauses: tuple[Clause, ...]
    count: bool = False


def _d(value: str) -> Decimal:
    return Decimal(value)


def _only(code: str) -> tuple[Clause, ...]:
    return ((code, ()),)


# In the order of the template. Glass, panels and doors go to exactly one column each: a
# door of Ud ≤ 1,0 in a new frame of Uf ≤ 1,5 is the better column's, not both.
MEASURE_COLUMNS = (
    MeasureColumn("roof", _only("roof_insulation")),
    MeasureColumn("attic_floor", _only("attic_floor_insulation")),
    MeasureColumn("cavity_wall", _only("cavity_wall_insulation")),
    MeasureColumn("facade", _only("facade_insulation")),
    MeasureColumn("floor", _only("floor_insulation")),
    MeasureColumn("soil", _only("soil_insulation")),
    MeasureColumn(
        "glass_1_2",
        (
            ("hr_glass", (("u_value", "lte", _d("1.2")),)),
            ("insulating_panels", (("u_value", "lte", _d("1.2")), ("u_value", "gt", _d("0.7")))),
        ),
    ),
    MeasureColumn(
        "doors_1_5",
        (
            ("insulating_doors", (("u_value", "lte", _d("1.5")), ("u_value", "gt", _d("1.0")))),
            (
                "insulating_doors",
                (("u_value", "lte", _d("1.0")), ("frame_u_value", "isnull", None)),
            ),
            (
                "insulating_doors",
                (("u_value", "lte", _d("1.0")), ("frame_u_value", "gt", _d("1.5"))),
            ),
        ),
    ),
    MeasureColumn(
        "glass_0_7",
        (
            ("triple_glass", (("u_value", "lte", _d("0.7")),)),
            ("insulating_panels", (("u_value", "lte", _d("0.7")),)),
        ),
    ),
    MeasureColumn(
        "doors_1_0",
        (
            (
                "insulating_doors",
                (("u_value", "lte", _d("1.0")), ("frame_u_value", "lte", _d("1.5"))),
            ),
        ),
    ),
    MeasureColumn("co2_ventilation", _only("demand_controlled_ventilation"), count=True),
    MeasureColumn("balanced_ventilation", _only("balanced_ventilation"), count=True),
)
DONE_BY = (DoneBy.DIY, DoneBy.THIRD_PARTY)
# Measures that have no area: a missing one is no gap.
WITHOUT_AREA = frozenset(
    code for column in MEASURE_COLUMNS if column.count for code, _ in column.clauses
)


def _holds(condition: Condition, values: dict[str, Decimal | None]) -> bool:
    field, op, limit = condition
    value = values[field]
    if op == "isnull":
        return value is None
    if value is None or limit is None:
        return False
    return value <= limit if op == "lte" else value > limit


def column_of(code: str, *, u_value: Decimal | None, frame_u_value: Decimal | None) -> str | None:
    """The key of the column pair a measure goes into; None when it fits none."""
    values = {"u_value": u_value, "frame_u_value": frame_u_value}
    for column in MEASURE_COLUMNS:
        for clause_code, conditions in column.clauses:
            if clause_code == code and all(_holds(c, values) for c in conditions):
                return column.key
    return None


def _column_q(column: MeasureColumn, type_ids: dict[str, int]) -> Q | None:
    """The same rule as column_of(), as a filter on the application's measures.

    By the measure type's id, not its code: the query then needs no join with the
    catalogue. None when the catalogue has none of the column's measures.
    """
    clauses = []
    for code, conditions in column.clauses:
        if code not in type_ids:
            continue
        clause = Q(measures__measure_type_id=type_ids[code])
        for field, op, limit in conditions:
            clause &= Q(**{f"measures__{field}__{op}": True if op == "isnull" else limit})
        clauses.append(clause)
    return functools.reduce(operator.or_, clauses) if clauses else None


# ---------------------------------------------------------------------------------------
# Reporting periods


@dataclass(frozen=True)
class Period:
    """A reporting period, both days included; `code` names it in URLs ("2024-h1", "2024")."""

    start: dt.date
    end: dt.date

    @property
    def code(self) -> str:
        if (self.start.month, self.end.month) == (1, 6):
            return f"{self.start.year}-h1"
        if (self.start.month, self.end.month) == (7, 12):
            return f"{self.start.year}-h2"
        if (self.start.month, self.end.month) == (1, 12):
            return str(self.start.year)
        return f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"

    @property
    def label(self) -> str:
        year = self.start.year
        if self.code.endswith("-h1"):
            return _("First half of %(year)s (1 January to 30 June)") % {"year": year}
        if self.code.endswith("-h2"):
            return _("Second half of %(year)s (1 July to 31 December)") % {"year": year}
        if self.code == str(year):
            return _("%(year)s (the whole year)") % {"year": year}
        return f"{self.start:%d-%m-%Y} – {self.end:%d-%m-%Y}"


def periods(*, programme: Programme, today: dt.date) -> list[Period]:
    """The periods to report on, newest first: from the programme's first measures to today."""
    first_year = programme.measures_from.year
    found: list[Period] = []
    for year in range(first_year, today.year + 1):
        if programme.reporting_period == ReportingPeriod.HALF_YEAR:
            halves = [
                Period(dt.date(year, 1, 1), dt.date(year, 6, 30)),
                Period(dt.date(year, 7, 1), dt.date(year, 12, 31)),
            ]
            found += [
                half
                for half in halves
                if half.end >= programme.measures_from and half.start <= today
            ]
        else:
            found.append(Period(dt.date(year, 1, 1), dt.date(year, 12, 31)))
    return found[::-1]


def period_by_code(code: str, *, programme: Programme, today: dt.date) -> Period | None:
    """One of the programme's periods by its code; None for anything else."""
    return next((p for p in periods(programme=programme, today=today) if p.code == code), None)


def default_period(choices: Sequence[Period], *, today: dt.date) -> Period | None:
    """The last period that has ended: the one a report is usually due for."""
    return next((p for p in choices if p.end < today), choices[-1] if choices else None)


# ---------------------------------------------------------------------------------------
# The rows


def _range(programme: Programme, period: Period) -> tuple[dt.date, dt.date]:
    # A measure from before the programme's first date never counts for it.
    return max(period.start, programme.measures_from), period.end


def monitoring_homes(*, programme: Programme, period: Period) -> QuerySet[Application]:
    """The granted applications with at least one measure executed in the period."""
    executed = ExecutedMeasure.objects.filter(
        application=OuterRef("pk"), executed_on__range=_range(programme, period)
    )
    return Application.objects.filter(programme=programme, status__in=GRANTED_STATUSES).filter(
        Exists(executed)
    )


_HOME_FIELDS = (
    "dwelling__street",
    "dwelling__house_number",
    "dwelling__house_letter",
    "dwelling__house_number_addition",
    "dwelling__postcode",
    "dwelling__city",
    "woz_below_limit",
    "energy_label",
    "eligibility__poor_elements",
    "shell_floor",
    "shell_facade",
    "shell_roof",
    "shell_windows",
    "amount_granted_eur",
    "debt_relief",
)
_ADDRESS_ORDER = (
    "dwelling__postcode",
    "dwelling__house_number",
    "dwelling__house_letter",
    "dwelling__house_number_addition",
    "pk",
)


def _aggregates() -> dict[str, Aggregate | Value]:
    codes = {code for column in MEASURE_COLUMNS for code, _conditions in column.clauses}
    type_ids = dict(MeasureType.objects.filter(code__in=codes).values_list("code", "pk"))
    found: dict[str, Aggregate | Value] = {"last_executed": Max("measures__executed_on")}
    for column in MEASURE_COLUMNS:
        q = _column_q(column, type_ids)
        for who in DONE_BY:
            name = f"{column.key}_{who}"
            if q is None:
                found[name] = Value(None, output_field=IntegerField())
            elif column.count:
                found[name] = Count("measures", filter=q & Q(measures__done_by=who))
            else:
                # Floats: m² are not money, and converting every cell to a Decimal took
                # about a third of the export's own time (bench/nip_export.py).
                found[name] = Sum(
                    "measures__area_m2",
                    filter=q & Q(measures__done_by=who),
                    output_field=FloatField(),
                )
    return found


def _addition(letter: str, addition: str) -> str:
    return f"{letter}-{addition}" if letter and addition else letter or addition


def _poor_elements(listed: object, shell: Sequence[str]) -> list[str]:
    """The eligibility check's poorly insulated groups, else the groups recorded as poor."""
    if isinstance(listed, list) and listed:
        return [group for group in rules.SHELL_GROUPS if group in listed]
    return [
        group for group, state in zip(rules.SHELL_GROUPS, shell, strict=True) if state == "poor"
    ]


# Per measure cell of a row: a count (ventilation) rather than m².
_COUNTED = tuple(column.count for column in MEASURE_COLUMNS for _who in DONE_BY)


def _square_metres(value: float) -> int | float:
    # Summed as floats (SQLite does anyway): rounded to the field's two decimals, and a
    # whole number without them, so every database writes "55" and "42,5".
    rounded = round(value, 2)
    return int(rounded) if rounded.is_integer() else rounded


def _row(values: Sequence[Any]) -> list[Cell]:
    (
        street,
        number,
        letter,
        addition,
        postcode,
        city,
        woz,
        label,
        listed,
        floor,
        facade,
        roof,
        windows,
        amount,
        debt,
        last_executed,
        *measures,
    ) = values
    poor = _poor_elements(listed, (floor, facade, roof, windows))
    cells: list[Cell] = [
        street,
        number,
        _addition(letter, addition),
        postcode,
        city,
        BELOW_LIMIT.get(woz, ""),
        label or NO_LABEL,
        ", ".join(SHELL_NAMES[group] for group in poor),
        last_executed.year if last_executed else None,
        amount,
        YES_NO[bool(debt)],
    ]
    # m² as summed, ventilation 1 at most; empty where nothing was done.
    cells += [
        None if not value else 1 if counted else _square_metres(value)
        for counted, value in zip(_COUNTED, measures, strict=True)
    ]
    return cells


def monitoring_rows(
    *, programme: Programme, period: Period, chunk_size: int = 2000
) -> Iterator[list[Cell]]:
    """The rows of the export in address order, from one grouped query read in chunks."""
    first, last = _range(programme, period)
    # Filtering on the measures before the aggregates makes the sums see only the
    # measures of the period, over one join.
    values = (
        Application.objects.filter(
            programme=programme,
            status__in=GRANTED_STATUSES,
            measures__executed_on__range=(first, last),
        )
        .values_list(*_HOME_FIELDS)
        .annotate(**_aggregates())
        .order_by(*_ADDRESS_ORDER)
    )
    for values_row in values.iterator(chunk_size=chunk_size):
        yield _row(values_row)


def header(period: Period) -> tuple[str, ...]:
    return template_for(period.end).headers


# ---------------------------------------------------------------------------------------
# The check before export


@dataclass(frozen=True)
class HomeCheck:
    """What is missing or doubtful for one home; (code, message) pairs."""

    application_id: int
    address: str
    problems: tuple[tuple[str, str], ...]
    warnings: tuple[tuple[str, str], ...]

    @property
    def problem_codes(self) -> tuple[str, ...]:
        return tuple(code for code, _message in self.problems)


@dataclass(frozen=True)
class MonitoringCheck:
    homes: int
    # Homes with a problem (a missing field) and homes with only warnings.
    incomplete: int
    doubtful: int
    # The first homes with a problem or a warning, for the page.
    listed: tuple[HomeCheck, ...]

    @property
    def more(self) -> int:
        return self.incomplete + self.doubtful - len(self.listed)


class _Parameters:
    """Every parameter set, to find the one in force on a measure's day without a query."""

    def __init__(self) -> None:
        sets = list(ParameterSet.objects.order_by("valid_from").prefetch_related("values"))
        self._days = [s.valid_from for s in sets]
        self._sets = [from_set(s) for s in sets]

    def on(self, day: dt.date) -> NipParameters | None:
        index = bisect.bisect_right(self._days, day) - 1
        return self._sets[index] if index >= 0 else None


_MEASURE_FIELDS = (
    "application_id",
    "measure_type__code",
    "measure_type__name",
    "area_m2",
    "rd_value",
    "u_value",
    "frame_u_value",
    "executed_on",
    "small_home_exception",
)


def _home_problems(values: Sequence[Any]) -> list[tuple[str, str]]:
    (street, number, _letter, _addition, postcode, city, woz, label, listed, *shell) = values[:13]
    amount = values[13]
    problems: list[tuple[str, str]] = []
    if not street:
        problems.append(("street", _("Street missing.")))
    if not number:
        problems.append(("house_number", _("House number missing.")))
    if not postcode:
        problems.append(("postcode", _("Postcode missing.")))
    if not city:
        problems.append(("city", _("Town missing.")))
    if woz is None:
        problems.append(
            ("woz_below_limit", _("Not known whether the WOZ value is under the limit."))
        )
    if label and label not in rules.POOR_LABELS:
        problems.append(
            (
                "energy_label",
                _("Energy label %(label)s is C or better: not in the target group.")
                % {"label": label},
            )
        )
    elif not label and len(_poor_elements(listed, shell)) < rules.POOR_GROUPS_NEEDED:
        problems.append(
            (
                "poor_elements",
                _("No energy label and fewer than two poorly insulated shell elements."),
            )
        )
    if not amount:
        problems.append(("amount_granted", _("No amount granted.")))
    return problems


def _measure_warnings(
    measures: list[tuple], *, first: dt.date, last: dt.date, parameters: _Parameters
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Problems (measures without an area) and warnings (measures the rules refuse)."""
    glazing_total = sum(
        (m[3] or Decimal("0") for m in measures if m[1] in GLAZING_MEASURES), Decimal("0")
    )
    without_area = 0
    warnings: list[tuple[str, str]] = []
    for _app, code, name, area, rd, u, frame_u, executed_on, small in measures:
        if not first <= executed_on <= last:
            continue
        if area is None and code not in WITHOUT_AREA:
            without_area += 1
        params = parameters.on(executed_on)
        problems: tuple[tuple[str, str], ...] = ()
        if params is not None:
            facts = rules.MeasureFacts(
                code=code,
                area_m2=area,
                rd_value=rd,
                u_value=u,
                frame_u_value=frame_u,
                glazing_total_m2=glazing_total,
                small_home_exception=small,
            )
            # A missing area is listed once, as a missing field.
            problems = tuple(
                p
                for p in rules.check_measure(facts, params).problems
                if not (p[0] == "area_m2" and area is None)
            )
        for _field, message in problems:
            warnings.append(("measure", f"{name} ({executed_on:%d-%m-%Y}): {message}"))
        if (
            not problems
            and code in GLAZING_MEASURES
            and column_of(code, u_value=u, frame_u_value=frame_u) is None
        ):
            warnings.append(
                (
                    "measure",
                    _("%(measure)s (%(day)s): fits no column of the RVO template.")
                    % {"measure": name, "day": f"{executed_on:%d-%m-%Y}"},
                )
            )
    found: list[tuple[str, str]] = []
    if without_area:
        found.append(
            (
                "area",
                ngettext(
                    "%(count)s measure without an area in m².",
                    "%(count)s measures without an area in m².",
                    without_area,
                )
                % {"count": without_area},
            )
        )
    return found, warnings


def _address(values: Sequence[Any]) -> str:
    street, number, letter, addition, postcode, city = values[:6]
    suffix = f"-{addition}" if addition else ""
    line = f"{street or ''} {number or ''}{letter or ''}{suffix}".strip()
    place = f"{postcode[:4]} {postcode[4:]}" if postcode else ""
    return ", ".join(part for part in (line, f"{place} {city or ''}".strip()) if part)


def monitoring_check(*, programme: Programme, period: Period, limit: int = 200) -> MonitoringCheck:
    """Per home of the export, the fields the RVO asks for that are missing or doubtful."""
    first, last = _range(programme, period)
    homes = monitoring_homes(programme=programme, period=period)
    applications = homes.order_by("pk").values_list("pk", *_HOME_FIELDS)
    # All measures of these homes: the ISDE minimum for glazing is on their sum.
    measures = (
        ExecutedMeasure.objects.filter(application__in=homes.values("pk"))
        .order_by("application_id", "pk")
        .values_list(*_MEASURE_FIELDS)
    )
    parameters = _Parameters()
    grouped = _group_by_application(measures.iterator(chunk_size=2000))
    pending: tuple[int, list[tuple]] | None = next(grouped, None)
    count = incomplete = doubtful = 0
    listed: list[HomeCheck] = []
    for pk, *values in applications.iterator(chunk_size=2000):
        count += 1
        # Both are in pk order: move the measures along with the applications.
        while pending is not None and pending[0] < pk:
            pending = next(grouped, None)
        own = pending[1] if pending is not None and pending[0] == pk else []
        problems = _home_problems(values)
        missing_area, warnings = _measure_warnings(
            own, first=first, last=last, parameters=parameters
        )
        problems += missing_area
        if problems:
            incomplete += 1
        elif warnings:
            doubtful += 1
        else:
            continue
        if len(listed) < limit:
            listed.append(HomeCheck(pk, _address(values), tuple(problems), tuple(warnings)))
    return MonitoringCheck(
        homes=count, incomplete=incomplete, doubtful=doubtful, listed=tuple(listed)
    )


def _group_by_application(rows: Iterable[tuple]) -> Iterator[tuple[int, list[tuple]]]:
    current: int | None = None
    batch: list[tuple] = []
    for row in rows:
        if row[0] != current:
            if current is not None:
                yield current, batch
            current, batch = row[0], []
        batch.append(row)
    if current is not None:
        yield current, batch


# ---------------------------------------------------------------------------------------
# Writing the file, in the request or in the background

# Up to this many homes the file is made while the request waits (well under a few
# seconds); more go to a Celery task.
IN_REQUEST_MAX_HOMES = 2000
# The task saves its progress every this many rows.
PROGRESS_EVERY = 500
# Runs of one export: each further one means the one before died with its worker.
MAX_ATTEMPTS = 3
# A file made in the background can be downloaded this long.
DOWNLOAD_HOURS = 24
# An export still waiting or running after this long lost its task's message too (a dead
# worker's message otherwise comes back and a new run takes the export over).
STALE_AFTER = dt.timedelta(hours=6)
# An export holds a lease (`lease_until`) while it waits and while it is made; the worker
# renews it as it writes. One whose lease ran out lost its worker: the sweep (every
# minute, and when a worker starts) has it made again, long before the broker would hand
# the dead worker's message back after its hour of visibility timeout.
QUEUED_LEASE = dt.timedelta(minutes=15)


def job_lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.JOB_LEASE_SECONDS)


SHEET = "Monitoring RVO"
CONTENT_TYPES = {
    ExportFormat.XLSX: exports.XLSX_CONTENT_TYPE,
    ExportFormat.CSV: exports.CSV_CONTENT_TYPE,
}


def export_filename(programme: Programme, period: Period, fmt: str) -> str:
    """Ids and the period only: file names end up in download lists and mail attachments."""
    return f"rvo-monitoring-{programme.pk}-{period.code}.{fmt}"


def monitoring_file_write(
    target: BinaryIO, *, programme: Programme, period: Period, fmt: str, rows: Iterable[list[Cell]]
) -> None:
    """Write the header and `rows` as XLSX or CSV to a binary file."""
    if fmt == ExportFormat.XLSX:
        exports.xlsx_write(target, header(period), rows, sheet=SHEET)
        return
    for chunk in exports.csv_lines(header(period), rows):
        target.write(chunk.encode("utf-8"))


@transaction.atomic
def monitoring_export_request(
    *, programme: Programme, period: Period, fmt: str, actor: User
) -> MonitoringExport:
    """Queue the making of an export file; the task starts once this transaction commits."""
    export = MonitoringExport.objects.create(
        programme=programme,
        period_start=period.start,
        period_end=period.end,
        format=fmt,
        requested_by=actor,
        lease_until=timezone.now() + QUEUED_LEASE,
    )
    tasks.monitoring_export_make.delay_on_commit(str(export.pk))
    return export


def _this_run(export_id: uuid.UUID | str, attempt: int) -> QuerySet[MonitoringExport]:
    """The export while this run still owns it: a later run of the task takes it over."""
    return MonitoringExport.objects.filter(
        pk=export_id, attempts=attempt, status=ExportStatus.RUNNING
    )


class _Progress:
    """Counts the rows as they are written and saves the count now and then."""

    def __init__(self, export_id: uuid.UUID | str, attempt: int) -> None:
        self.export_id = export_id
        self.attempt = attempt
        self.done = 0

    def count(self, rows: Iterable[list[Cell]]) -> Iterator[list[Cell]]:
        for row in rows:
            yield row
            self.done += 1
            if self.done % PROGRESS_EVERY == 0:
                _this_run(self.export_id, self.attempt).update(rows_done=self.done)


def _claim(export_id: uuid.UUID | str) -> MonitoringExport | None:
    """Take the export for this run; None when it is not waiting or running any more.

    The row is locked while it is claimed, so two runs never own the same attempt. A file
    the previous run stored but never finished with is deleted.
    """
    with transaction.atomic():
        export = (
            MonitoringExport.objects.select_for_update(of=("self",))
            .select_related("programme")
            .filter(pk=export_id, status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING))
            .first()
        )
        if export is None:
            # Done, failed, or deleted: a late or repeated delivery.
            return None
        left_behind = export.file.name if export.status == ExportStatus.RUNNING else ""
        if export.attempts >= MAX_ATTEMPTS:
            # Every run so far died with its worker: most likely this file kills them.
            logger.error(
                "monitoring export %s failed: %d runs lost their worker", export_id, export.attempts
            )
            export.status = ExportStatus.FAILED
            export.finished_at = timezone.now()
            export.lease_until = None
        else:
            export.status = ExportStatus.RUNNING
            export.attempts += 1
            export.rows_done = 0
            export.lease_until = timezone.now() + job_lease()
        export.file = ""
        export.save(
            update_fields=["status", "finished_at", "attempts", "rows_done", "file", "lease_until"]
        )
    if left_behind:
        default_storage.delete(left_behind)
    return export if export.status == ExportStatus.RUNNING else None


def monitoring_export_make(*, export_id: uuid.UUID | str) -> MonitoringExport | None:
    """Make the file of a waiting export (the task's work); None when there is nothing to do.

    A running export is taken over: the task's message comes back only when the worker
    that ran it died (acks_late, reject_on_worker_lost), and the file is written to a
    temporary file first, so the dead run left nothing half-made. Each run claims the
    export by raising `attempts` (at most MAX_ATTEMPTS); a run that was overtaken keeps
    nothing.
    """
    export = _claim(export_id)
    if export is None:
        return None
    attempt = export.attempts
    period = Period(export.period_start, export.period_end)
    progress = _Progress(export_id, attempt)
    name = f"nip/exports/{uuid.uuid4().hex}.{export.format}"

    def renew() -> None:
        _this_run(export_id, attempt).update(lease_until=timezone.now() + job_lease())

    try:
        with lease_kept(renew, every=job_lease().total_seconds() / 4):
            name = _write(export, attempt, name, period, progress)
    except Exception as exc:
        # The exception's text may quote a row; the log gets its kind only.
        logger.error("monitoring export %s failed: %s", export_id, type(exc).__name__)
        _this_run(export_id, attempt).update(
            status=ExportStatus.FAILED, finished_at=timezone.now(), file="", lease_until=None
        )
        default_storage.delete(name)
        return None
    now = timezone.now()
    finished = _this_run(export_id, attempt).update(
        status=ExportStatus.DONE,
        file=name,
        rows_done=progress.done,
        rows_total=progress.done,
        finished_at=now,
        expires_at=now + dt.timedelta(hours=DOWNLOAD_HOURS),
        lease_until=None,
    )
    if not finished:
        # A later run took the export over; its file is the one that counts.
        default_storage.delete(name)
        return None
    export.refresh_from_db()
    return export


def _write(
    export: MonitoringExport, attempt: int, name: str, period: Period, progress: _Progress
) -> str:
    """Write the export's file to a temporary file, store it and return its stored name."""
    total = monitoring_homes(programme=export.programme, period=period).count()
    _this_run(export.pk, attempt).update(rows_total=total)
    # An anonymous temporary file; an XLSX file's rows wait in a private scratch
    # folder that the next export deletes should this worker die (accounts.exports).
    with tempfile.TemporaryFile() as handle:
        monitoring_file_write(
            handle,
            programme=export.programme,
            period=period,
            fmt=export.format,
            rows=progress.count(monitoring_rows(programme=export.programme, period=period)),
        )
        handle.seek(0)
        # Named on the row first: should this worker die before the row says done,
        # the next run or the purge finds the file and deletes it.
        _this_run(export.pk, attempt).update(file=name)
        return default_storage.save(name, File(handle, name=name))


def monitoring_export_expired(export: MonitoringExport, *, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return export.expires_at is not None and export.expires_at <= now


def monitoring_exports_purge(*, now: dt.datetime | None = None) -> int:
    """Delete the files of expired exports and fail the ones that lost their worker.

    Meant for a periodic task (hourly); returns how many files were deleted.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # Locked, so a run finishing at this moment either wins (the row is done and not
        # taken here) or waits and then finds the row failed (and deletes its own file).
        lost = dict(
            MonitoringExport.objects.select_for_update(skip_locked=True)
            .filter(
                status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING),
                created_at__lt=now - STALE_AFTER,
            )
            .values_list("pk", "file")
        )
        MonitoringExport.objects.filter(pk__in=list(lost)).update(
            status=ExportStatus.FAILED, finished_at=now, file=""
        )
    # A lost run may have stored its file without finishing: that file goes too.
    for name in filter(None, lost.values()):
        default_storage.delete(name)
    deleted = 0
    expired = MonitoringExport.objects.filter(expires_at__lte=now).exclude(file="")
    for export_id, name in expired.values_list("pk", "file"):
        default_storage.delete(name)
        MonitoringExport.objects.filter(pk=export_id).update(file="")
        deleted += 1
    return deleted


def monitoring_exports_sweep(*, now: dt.datetime | None = None) -> int:
    """Have the exports whose worker died (their lease ran out) made again; return how many.

    Each export taken gets a new lease in the same transaction as its task, so the next
    sweep leaves it to that task; its claim (`attempts`) makes the late original, should
    it still be alive, keep nothing.
    """
    now = now or timezone.now()
    expired = Q(lease_until__lt=now) | Q(
        lease_until__isnull=True, created_at__lt=now - QUEUED_LEASE
    )
    with transaction.atomic():
        lost = list(
            MonitoringExport.objects.select_for_update(skip_locked=True)
            .filter(expired, status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING))
            .values_list("pk", "status")
        )
        for export_id, status in lost:
            lease = QUEUED_LEASE if status == ExportStatus.QUEUED else job_lease()
            MonitoringExport.objects.filter(pk=export_id).update(lease_until=now + lease)
            tasks.monitoring_export_make.delay_on_commit(str(export_id))
    if lost:
        logger.warning(
            "monitoring exports taken up again after their worker was lost: %s", len(lost)
        )
    return len(lost)


EXPORT_FORMATS = tuple(ExportFormat.values)
FORMAT_LABELS = {
    ExportFormat.XLSX: gettext_lazy("Excel (.xlsx)"),
    ExportFormat.CSV: gettext_lazy("CSV"),
}
