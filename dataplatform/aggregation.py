"""Raw counts of house characteristics per area, in one grouped query per level.

Only households whose consent for aggregates is active (not withdrawn) count, only of
the given initiatives, only in dwellings of the given municipalities, and only house
characteristics are read: the dossier's label class, dwelling type and build year and
the status of its measures. Names, addresses, energy use, income, WOZ, notes and NIP
answers are never selected.

The counts are raw; `aggregate` applies dataplatform.suppression before anything is
shown or published.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from dataplatform.models import ConsentRecord, Level, Purpose
from dataplatform.suppression import HOUSEHOLDS, MUNICIPALITY, Cell, Table, suppress
from dossier.models import (
    Dossier,
    DossierMeasure,
    Dwelling,
    DwellingType,
    EnergyLabel,
    Household,
    MeasureStatus,
    MeasureType,
)

__all__ = ["Cell", "RawLevel", "aggregate", "aggregate_levels", "level_counts", "level_sql"]

UNKNOWN = "unknown"
# (name, first year, last year); None is open-ended. PBL's build periods, simplified.
BUILD_YEAR_BANDS: tuple[tuple[str, int | None, int | None], ...] = (
    ("<1945", None, 1944),
    ("1945-1974", 1945, 1974),
    ("1975-1991", 1975, 1991),
    ("1992-2005", 1992, 2005),
    ("2006+", 2006, None),
)
# For the one large grouped query per level, on PostgreSQL: compiling its ~70 aggregate
# expressions with JIT costs more than running them, and the hash tables of a whole
# province do not fit in the default work_mem (they would spill to disk).
POSTGRESQL_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL work_mem = '128MB'")
# Measure types per bit mask: a bigint holds 63 bits, and the sign bit is left alone.
MASK_BITS = 62

# The coarser level below the municipality that an area may lie wholly inside: a
# postcode in one neighbourhood (not always: postcodes cross neighbourhood borders), a
# neighbourhood in its district (always: the district's code is the start of its code).
PARENT_LEVEL = {Level.PC6: Level.NEIGHBOURHOOD, Level.NEIGHBOURHOOD: Level.DISTRICT}

AREA_COLUMNS = {
    Level.PC6: "dw.postcode",
    Level.NEIGHBOURHOOD: "dw.neighbourhood_code",
    Level.DISTRICT: "dw.district_code",
    Level.MUNICIPALITY: "dw.municipality_code",
}


@dataclass
class RawLevel:
    """The raw counts of one level, with each area's municipality."""

    level: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    municipality: dict[str, str] = field(default_factory=dict)
    # The area of the next coarser level each area lies wholly inside (suppression.Table).
    parent: dict[str, str] = field(default_factory=dict)

    @property
    def parent_level(self) -> str:
        return PARENT_LEVEL.get(self.level, "")

    def table(self) -> Table:
        return Table(self.level, self.counts, self.municipality, self.parent_level, self.parent)

    @property
    def households(self) -> int:
        return sum(counts[HOUSEHOLDS] for counts in self.counts.values())


@dataclass(frozen=True)
class _Column:
    measure: str
    condition: str
    params: tuple[object, ...] = ()


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _columns(measure_types: Sequence[tuple[int, str]]) -> list[_Column]:
    columns = [
        _Column(f"label:{label}", "d.energy_label = %s", (label,)) for label in EnergyLabel.values
    ]
    columns += [
        _Column(f"dwelling_type:{kind}", "d.dwelling_type = %s", (kind,))
        for kind in DwellingType.values
    ]
    for name, first, last in BUILD_YEAR_BANDS:
        if first is None:
            columns.append(_Column(f"build_year:{name}", "d.build_year <= %s", (last,)))
        elif last is None:
            columns.append(_Column(f"build_year:{name}", "d.build_year >= %s", (first,)))
        else:
            condition = "d.build_year BETWEEN %s AND %s"
            columns.append(_Column(f"build_year:{name}", condition, (first, last)))
    for prefix in ("done", "wanted"):
        for index, (_, code) in enumerate(measure_types):
            mask = f"m.{prefix}{index // MASK_BITS}"
            bit = 1 << (index % MASK_BITS)
            columns.append(_Column(f"measure_{prefix}:{code}", f"({mask} & {bit}) <> 0"))
    return columns


def _measure_subquery(
    measure_types: Sequence[tuple[int, str]], *, lateral: bool = False
) -> tuple[str, list[object]]:
    """Per dossier, one bit mask of the measures done and one of those wanted now.

    A dossier holds one row per measure type, so a sum of distinct bits is their OR.
    `lateral` (PostgreSQL, few dossiers): read each dossier's measures through the index
    instead of grouping the whole table first.
    """
    if not measure_types:
        return "", []
    selects: list[str] = []
    params: list[object] = []
    chunks = range(0, len(measure_types), MASK_BITS)
    for status, prefix in ((MeasureStatus.DONE, "done"), (MeasureStatus.WANTED_NOW, "wanted")):
        for chunk, start in enumerate(chunks):
            whens = " ".join(
                f"WHEN {type_id} THEN {1 << bit}"
                for bit, (type_id, _) in enumerate(measure_types[start : start + MASK_BITS])
            )
            selects.append(
                f"CAST(SUM(CASE WHEN dm.status = %s THEN CASE dm.measure_type_id {whens} "
                f"ELSE 0 END ELSE 0 END) AS BIGINT) AS {prefix}{chunk}"
            )
            params.append(status)
    if lateral and connection.vendor == "postgresql":
        sql = (
            # Column names and integer literals only; every value is a parameter.
            f"LEFT JOIN LATERAL (SELECT {', '.join(selects)} "  # noqa: S608
            f"FROM {_table(DossierMeasure)} dm WHERE dm.dossier_id = d.id "
            "AND dm.status IN (%s, %s)) m ON true"
        )
        return sql, [*params, MeasureStatus.DONE, MeasureStatus.WANTED_NOW]
    sql = (
        # Column names and integer literals only; every value is a parameter.
        f"LEFT JOIN (SELECT dm.dossier_id, {', '.join(selects)} "  # noqa: S608
        f"FROM {_table(DossierMeasure)} dm WHERE dm.status IN (%s, %s) "
        "GROUP BY dm.dossier_id) m ON m.dossier_id = d.id"
    )
    return sql, [*params, MeasureStatus.DONE, MeasureStatus.WANTED_NOW]


def _measure_types() -> list[tuple[int, str]]:
    return list(MeasureType.objects.order_by("sort_order", "code").values_list("id", "code"))


def _placeholders(values: Sequence[object]) -> str:
    return ", ".join(["%s"] * len(values))


def consenting_households_sql(
    *, initiative_ids: Sequence[int], municipality_codes: Sequence[str]
) -> tuple[str, list[object]]:
    """FROM and WHERE of the households that count: active consent, initiatives, municipalities.

    Also the floor of the benchmark (bench/dp_aggregate.py), so both read the same rows.
    """
    sql = (
        f"FROM {_table(Household)} h "
        f"JOIN {_table(Dwelling)} dw ON dw.id = h.dwelling_id "
        f"JOIN {_table(ConsentRecord)} c ON c.household_id = h.id "
        "AND c.purpose = %s AND c.withdrawn_at IS NULL "
        f"WHERE h.initiative_id IN ({_placeholders(initiative_ids)}) "
        f"AND dw.municipality_code IN ({_placeholders(municipality_codes)})"
    )
    return sql, [Purpose.AGGREGATES, *initiative_ids, *municipality_codes]


def level_sql(
    level: str,
    *,
    initiative_ids: Sequence[int],
    municipality_codes: Sequence[str],
    measure_types: Sequence[tuple[int, str]] | None = None,
    areas: Sequence[str] | None = None,
) -> tuple[str, list[object], list[str]]:
    """The grouped query of one level: its SQL, parameters and the measure of each column.

    The columns are area, municipality, households, then one count per measure. With
    `areas`, only those areas are counted (the second pass of `level_counts`).
    """
    if measure_types is None:
        measure_types = _measure_types()
    area = AREA_COLUMNS[level]
    columns = _columns(measure_types)
    source, source_params = consenting_households_sql(
        initiative_ids=initiative_ids, municipality_codes=municipality_codes
    )
    measures_join, measures_params = _measure_subquery(measure_types, lateral=areas is not None)
    # The dossier joins right after the household, before the WHERE of the source.
    head, where = source.split(" WHERE ", 1)
    counts = ", ".join(f"COUNT(*) FILTER (WHERE {column.condition})" for column in columns)
    area_filter, area_params = _area_filter(area, areas)
    sql = (
        f"SELECT {area} AS area, dw.municipality_code AS municipality, COUNT(*), {counts} "
        f"{head} JOIN {_table(Dossier)} d ON d.household_id = h.id {measures_join} "
        f"WHERE {where} AND {area} <> '' {area_filter}"
        f"GROUP BY {area}, dw.municipality_code"
    )
    params: list[object] = [p for column in columns for p in column.params]
    params += source_params[:1] + measures_params + source_params[1:] + area_params
    return sql, params, [HOUSEHOLDS, *(column.measure for column in columns)]


def households_sql(
    level: str,
    *,
    initiative_ids: Sequence[int],
    municipality_codes: Sequence[str],
    areas: Sequence[str] | None = None,
) -> tuple[str, list[object]]:
    """Households per area, with the lowest and highest municipality code among them.

    The first pass of `level_counts`, as cheap as a bare GROUP BY of the area. With
    `areas`, per area and municipality instead: for the few areas in two municipalities.
    """
    area = AREA_COLUMNS[level]
    source, params = consenting_households_sql(
        initiative_ids=initiative_ids, municipality_codes=municipality_codes
    )
    area_filter, area_params = _area_filter(area, areas)
    if areas is None:
        # The lowest and highest neighbourhood too: equal for a postcode that lies wholly
        # inside one neighbourhood.
        select = (
            f"{area}, COUNT(*), MIN(dw.municipality_code), MAX(dw.municipality_code), "
            "MIN(dw.neighbourhood_code), MAX(dw.neighbourhood_code)"
        )
        group = area
    else:
        select = f"{area}, COUNT(*), dw.municipality_code"
        group = f"{area}, dw.municipality_code"
    sql = f"SELECT {select} {source} AND {area} <> '' {area_filter}GROUP BY {group}"
    return sql, params + area_params


def _area_filter(area: str, areas: Sequence[str] | None) -> tuple[str, list[object]]:
    if areas is None:
        return "", []
    if connection.vendor == "postgresql":
        # One array parameter however many areas: the planner reads the dwellings of
        # these postcodes through their index.
        return f"AND {area} = ANY(%s) ", [list(areas)]
    sql = f"AND {area} IN (SELECT value FROM json_each(%s)) "  # noqa: S608 - a column name
    return sql, [json.dumps(list(areas))]


def level_counts(
    level: str,
    *,
    initiative_ids: Sequence[int],
    municipality_codes: Sequence[str],
    k: int | None = None,
) -> RawLevel:
    """The raw counts of one level, with "unknown" parts that complete each partition.

    With `k`, in two passes: first the households per area, then the characteristics of
    the areas of at least `k` households only. Every count of a smaller area is below K
    and suppressed anyway (dataplatform.suppression), so such an area keeps only its
    households count. Most postcode-6 areas are small, and the second pass then reads a
    fraction of the rows. A level where most households live in large areas (a district,
    a municipality) is counted in one pass.

    An area in two municipalities (a postcode on the border) belongs to the one with most
    households, the lowest code on a tie.
    """
    raw = RawLevel(level)
    if not initiative_ids or not municipality_codes:
        return raw
    scope = {"initiative_ids": initiative_ids, "municipality_codes": municipality_codes}
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for setting in POSTGRESQL_SETTINGS:
                cursor.execute(setting)
        detailed: list[str] | None = None
        if k is not None:
            detailed = _households(cursor, raw, level, k, scope)
        if detailed is None or detailed:
            sql, params, measures = level_sql(level, areas=detailed, **scope)
            cursor.execute(sql, params)
            if detailed is None:
                _all_counts(raw, cursor.fetchall(), measures)
            else:
                _large_counts(raw, cursor.fetchall(), measures)
    if level == Level.NEIGHBOURHOOD:
        raw.parent = {
            area: f"WK{area[2:8]}" for area in raw.counts if re.fullmatch(r"BU\d{8}", area)
        }
    return raw


def _households(cursor: Any, raw: RawLevel, level: str, k: int, scope: dict) -> list[str] | None:
    """First pass: every area's households and municipality; the areas worth a second pass.

    None when most households live in areas of at least K: one full pass is cheaper.
    """
    sql, params = households_sql(level, **scope)
    cursor.execute(sql, params)
    border: list[str] = []
    large: list[str] = []
    in_large = 0
    nested = level == Level.PC6
    for area, households, lowest, highest, first, last in cursor.fetchall():
        raw.counts[area] = {HOUSEHOLDS: households}
        raw.municipality[area] = lowest
        if nested and first and first == last:
            raw.parent[area] = first
        if lowest != highest:
            border.append(area)
        if households >= k:
            large.append(area)
            in_large += households
    if border:
        sql, params = households_sql(level, areas=border, **scope)
        cursor.execute(sql, params)
        shares: dict[str, list[tuple[int, str]]] = {}
        for area, households, municipality in cursor.fetchall():
            shares.setdefault(area, []).append((-households, municipality))
        for area, candidates in shares.items():
            raw.municipality[area] = min(candidates)[1]
    if in_large * 2 >= raw.households:
        raw.counts.clear()
        raw.municipality.clear()
        return None
    return large


def _all_counts(raw: RawLevel, rows: Sequence[Sequence[Any]], measures: Sequence[str]) -> None:
    """Every area in full, from rows per area and municipality."""
    shares: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        area = row[0]
        shares.setdefault(area, []).append((-row[2], row[1]))
        counts = raw.counts.get(area)
        if counts is None:
            raw.counts[area] = dict(zip(measures, row[2:], strict=True))
        else:
            for measure, value in zip(measures, row[2:], strict=True):
                counts[measure] += value
    partitions = _partitions(measures)
    for area, counts in raw.counts.items():
        raw.municipality[area] = min(shares[area])[1]
        _complete_partitions(counts, partitions)


def _large_counts(raw: RawLevel, rows: Sequence[Sequence[Any]], measures: Sequence[str]) -> None:
    """The large areas in full; the first pass already gave their municipality."""
    filled: set[str] = set()
    for row in rows:
        area = row[0]
        if area not in filled:
            filled.add(area)
            raw.counts[area] = dict(zip(measures, row[2:], strict=True))
        else:
            counts = raw.counts[area]
            for measure, value in zip(measures, row[2:], strict=True):
                counts[measure] += value
    partitions = _partitions(measures)
    for area in filled:
        _complete_partitions(raw.counts[area], partitions)


PARTITION_PREFIXES = ("label:", "dwelling_type:", "build_year:")


def _partitions(measures: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Per partition, its "unknown" measure and the measures it completes."""
    return [
        (f"{prefix}{UNKNOWN}", [m for m in measures if m.startswith(prefix)])
        for prefix in PARTITION_PREFIXES
    ]


def _complete_partitions(counts: dict[str, int], partitions: list[tuple[str, list[str]]]) -> None:
    households = counts[HOUSEHOLDS]
    for unknown, parts in partitions:
        counts[unknown] = households - sum(counts[m] for m in parts)


def aggregate_levels(
    initiatives: dict[str, Sequence[int]], *, municipality_codes: Sequence[str], k: int
) -> tuple[list[Cell], int]:
    """The suppressed cells of every level with initiatives, suppressed together.

    `initiatives` maps each level to the initiatives whose households it may include.
    The municipality level, when present, is the total of the finer levels' areas.
    Returns the cells (areas below K as one suppressed households cell) and the number
    of households included.
    """
    # The municipality level is the total of the others: suppression needs all its counts.
    raws = [
        level_counts(
            level,
            initiative_ids=ids,
            municipality_codes=municipality_codes,
            k=None if level == MUNICIPALITY else k,
        )
        for level, ids in initiatives.items()
        if ids
    ]
    cells = suppress([raw.table() for raw in raws], k=k, compact=True)
    # Every included household has a municipality code, and an agreement at any level
    # allows the municipality level: that level holds them all.
    households = max((raw.households for raw in raws), default=0)
    return cells, households


def aggregate(
    level: str, *, initiative_ids: Sequence[int], municipality_codes: Sequence[str], k: int
) -> list[Cell]:
    """The cells of one level, suppressed together with their municipalities' totals."""
    levels: dict[str, Sequence[int]] = {level: initiative_ids}
    if level != MUNICIPALITY:
        levels[MUNICIPALITY] = initiative_ids
    cells, _ = aggregate_levels(levels, municipality_codes=municipality_codes, k=k)
    return [cell for cell in cells if cell.level == level]
