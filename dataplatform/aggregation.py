"""Raw counts of house characteristics per area, grouped in SQL over one table.

Only households whose consent for aggregates is active count: those are the rows of
`SharedHousehold` (dataplatform.shared keeps it in step with the dossiers). Only of the
given initiatives, only in dwellings of the given municipalities, and only house
characteristics: the dossier's label class, dwelling type and build year and the status
of its measures. Names, addresses, energy use, income, WOZ, notes and NIP answers are
not in that table.

The counts are raw; `aggregate` applies dataplatform.suppression before anything is
shown or published.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from dataplatform.models import Level, SharedHousehold
from dataplatform.shared import MASK_LAST_ID
from dataplatform.suppression import HOUSEHOLDS, MUNICIPALITY, Cell, Table, suppress
from dossier.models import DwellingType, EnergyLabel, MeasureType

logger = logging.getLogger(__name__)

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
# For the grouped queries on PostgreSQL: compiling their ~70 aggregate expressions with
# JIT costs more than running them, and the hash tables of a whole province do not fit
# in the default work_mem (they would spill to disk).
POSTGRESQL_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL work_mem = '128MB'")

# The coarser level below the municipality that an area may lie wholly inside: a
# postcode in one neighbourhood (not always: postcodes cross neighbourhood borders), a
# neighbourhood in its district (always: the district's code is the start of its code).
PARENT_LEVEL = {Level.PC6: Level.NEIGHBOURHOOD, Level.NEIGHBOURHOOD: Level.DISTRICT}

AREA_COLUMNS = {
    Level.PC6: "s.postcode",
    Level.NEIGHBOURHOOD: "s.neighbourhood_code",
    Level.DISTRICT: "s.district_code",
    Level.MUNICIPALITY: "s.municipality_code",
}


class _Counts(Mapping[str, Mapping[str, int]]):
    """{area: {measure: count}}: the areas counted in full, then the others' households."""

    def __init__(self, detailed: Mapping[str, Mapping[str, int]], households: Mapping[str, int]):
        self.detailed = detailed
        self.households = households

    def __getitem__(self, area: str) -> Mapping[str, int]:
        found = self.detailed.get(area)
        if found is not None:
            return found
        return {HOUSEHOLDS: self.households[area]}

    def __iter__(self) -> Iterator[str]:
        yield from self.detailed
        yield from (area for area in self.households if area not in self.detailed)

    def __len__(self) -> int:
        return len(self.detailed.keys() | self.households.keys())


class _Municipalities(Mapping[str, str]):
    """{area: municipality} from the first pass's areas per municipality, made on reading.

    The suppression reads it once; the selector only collects the lists.
    """

    def __init__(self, groups: list[tuple[str, Mapping[str, int]]], overrides: dict[str, str]):
        self.groups = groups
        self.overrides = overrides
        self._index: dict[str, str] | None = None

    def _built(self) -> dict[str, str]:
        if self._index is None:
            index: dict[str, str] = {}
            for municipality, areas in self.groups:
                index.update(dict.fromkeys(areas, municipality))
            index.update(self.overrides)
            self._index = index
        return self._index

    def __getitem__(self, area: str) -> str:
        return self._built()[area]

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())


@dataclass
class RawLevel:
    """The raw counts of one level, with each area's municipality.

    `detailed` holds the areas counted in full; `households` (the first pass of
    `level_counts`) every area's households, so an area below K is in it alone.
    `counts` reads both as one mapping.
    """

    level: str
    detailed: dict[str, dict[str, int]] = field(default_factory=dict)
    municipality: MutableMapping[str, str] | Mapping[str, str] = field(default_factory=dict)
    # The area of the next coarser level each area lies wholly inside (suppression.Table).
    parent: dict[str, str] = field(default_factory=dict)
    first_pass: dict[str, int] = field(default_factory=dict)

    @property
    def parent_level(self) -> str:
        return PARENT_LEVEL.get(self.level, "")

    @property
    def counts(self) -> Mapping[str, Mapping[str, int]]:
        return _Counts(self.detailed, self.first_pass)

    def table(self) -> Table:
        return Table(self.level, self.counts, self.municipality, self.parent_level, self.parent)

    @property
    def households(self) -> int:
        if self.first_pass:
            return sum(self.first_pass.values())
        return sum(counts[HOUSEHOLDS] for counts in self.detailed.values())


@dataclass(frozen=True)
class _Column:
    measure: str
    condition: str
    params: tuple[object, ...] = ()


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _columns(measure_types: Sequence[tuple[int, str]]) -> list[_Column]:
    columns = [
        _Column(f"label:{label}", "s.energy_label = %s", (label,)) for label in EnergyLabel.values
    ]
    columns += [
        _Column(f"dwelling_type:{kind}", "s.dwelling_type = %s", (kind,))
        for kind in DwellingType.values
    ]
    for name, first, last in BUILD_YEAR_BANDS:
        if first is None:
            columns.append(_Column(f"build_year:{name}", "s.build_year <= %s", (last,)))
        elif last is None:
            columns.append(_Column(f"build_year:{name}", "s.build_year >= %s", (first,)))
        else:
            condition = "s.build_year BETWEEN %s AND %s"
            columns.append(_Column(f"build_year:{name}", condition, (first, last)))
    # SharedHousehold keeps the measure types done and wanted as bit masks, bit `id`.
    for prefix, column in (("done", "s.measures_done"), ("wanted", "s.measures_wanted")):
        columns += [
            _Column(f"measure_{prefix}:{code}", f"({column} & {1 << type_id}) <> 0")
            for type_id, code in measure_types
            if type_id <= MASK_LAST_ID
        ]
    return columns


def _measure_types() -> list[tuple[int, str]]:
    types = list(MeasureType.objects.order_by("sort_order", "code").values_list("id", "code"))
    beyond = [type_id for type_id, _ in types if type_id > MASK_LAST_ID]
    if beyond:
        logger.warning("measure types %s are beyond the bit masks and not counted", beyond)
    return types


def _placeholders(values: Sequence[object]) -> str:
    return ", ".join(["%s"] * len(values))


def shared_households_sql(
    *, initiative_ids: Sequence[int], municipality_codes: Sequence[str]
) -> tuple[str, list[object]]:
    """FROM and WHERE of the households that count: of these initiatives and municipalities.

    Also the floor of the benchmark (bench/dp_aggregate.py), so both read the same rows.
    """
    sql = (
        f"FROM {_table(SharedHousehold)} s "
        f"WHERE s.initiative_id IN ({_placeholders(initiative_ids)}) "
        f"AND s.municipality_code IN ({_placeholders(municipality_codes)})"
    )
    return sql, [*initiative_ids, *municipality_codes]


def level_sql(
    level: str,
    *,
    initiative_ids: Sequence[int],
    municipality_codes: Sequence[str],
    measure_types: Sequence[tuple[int, str]] | None = None,
    areas: Sequence[str] | None = None,
) -> tuple[str, list[object], list[str]]:
    """The grouped query of one level: its SQL, parameters and the measure of each column.

    The columns are area, municipality, households, one count per measure, then the
    lowest and highest code of the coarser area the households lie in. With `areas`,
    only those areas are counted (the second pass of `level_counts`).
    """
    if measure_types is None:
        measure_types = _measure_types()
    area = AREA_COLUMNS[level]
    columns = _columns(measure_types)
    source, source_params = shared_households_sql(
        initiative_ids=initiative_ids, municipality_codes=municipality_codes
    )
    counts = ", ".join(f"COUNT(*) FILTER (WHERE {column.condition})" for column in columns)
    area_filter, area_params = _area_filter(area, areas)
    # The lowest and highest coarser area (a postcode's neighbourhood): equal when the
    # area lies wholly inside one.
    parent = AREA_COLUMNS.get(PARENT_LEVEL.get(level, ""), "''")
    sql = (
        f"SELECT {area} AS area, s.municipality_code AS municipality, COUNT(*), {counts}, "
        f"MIN({parent}), MAX({parent}) {source} AND {area} <> '' {area_filter}"
        f"GROUP BY {area}, s.municipality_code"
    )
    params: list[object] = [p for column in columns for p in column.params]
    params += source_params + area_params
    return sql, params, [HOUSEHOLDS, *(column.measure for column in columns)]


def _households_sql(
    level: str, *, initiative_ids: Sequence[int], municipality: str
) -> tuple[str, list[object]]:
    """Households per area of one municipality: the first pass of `level_counts`.

    One municipality at a time keeps the hash table small, and the municipality need not
    come back with every row. On PostgreSQL the areas and their counts come back as one
    row of two arrays (far fewer values to read than a row per area).
    """
    area = AREA_COLUMNS[level]
    source, params = shared_households_sql(
        initiative_ids=initiative_ids, municipality_codes=[municipality]
    )
    grouped = f"SELECT {area} AS area, COUNT(*) AS households {source} AND {area} <> '' GROUP BY 1"
    if connection.vendor == "postgresql":
        # Column names and placeholders only; every value is a parameter.
        sql = f"SELECT array_agg(area), array_agg(households) FROM ({grouped}) grouped"  # noqa: S608
        return sql, params
    return grouped, params


def _area_filter(area: str, areas: Sequence[str] | None) -> tuple[str, list[object]]:
    if areas is None:
        return "", []
    if connection.vendor == "postgresql":
        # One array parameter however many areas.
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
            if detailed and connection.vendor == "postgresql":
                # The second pass reads a few large areas by index: on two or more cores,
                # splitting it over parallel workers pays even for small tables.
                cursor.execute("SET LOCAL parallel_setup_cost = 0")
                cursor.execute("SET LOCAL parallel_tuple_cost = 0")
            sql, params, measures = level_sql(level, areas=detailed, **scope)
            cursor.execute(sql, params)
            if detailed is None:
                _all_counts(raw, cursor.fetchall(), measures)
            else:
                _large_counts(raw, cursor.fetchall(), measures)
    if level == Level.NEIGHBOURHOOD:
        raw.parent = {
            area: f"WK{area[2:8]}" for area in raw.detailed if re.fullmatch(r"BU\d{8}", area)
        }
    return raw


def _households(cursor: Any, raw: RawLevel, level: str, k: int, scope: dict) -> list[str] | None:
    """First pass: every area's households and municipality; the areas worth a second pass.

    None when most households live in areas of at least K: one full pass is cheaper.
    """
    households: dict[str, int] = {}
    groups: list[tuple[str, dict[str, int]]] = []
    # An area found in a second municipality (a postcode on the border): its households
    # per municipality.
    shares: dict[str, dict[str, int]] = {}
    for municipality in sorted(set(scope["municipality_codes"])):
        sql, params = _households_sql(
            level, initiative_ids=scope["initiative_ids"], municipality=municipality
        )
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            areas, counts = cursor.fetchone()
            part = dict(zip(areas or (), counts or (), strict=True))
        else:
            part = dict(cursor.fetchall())
        if not households.keys().isdisjoint(part):
            for area in part.keys() & households.keys():
                found = shares.setdefault(area, {})
                if not found:
                    first = next(m for m, areas in groups if area in areas)
                    found[first] = households[area]
                found[municipality] = part[area]
                part[area] += households[area]
        households.update(part)
        groups.append((municipality, part))
    large = [area for area, count in households.items() if count >= k]
    if sum(households[area] for area in large) * 2 >= sum(households.values()):
        return None
    raw.first_pass = households
    overrides = {
        area: min(found.items(), key=lambda item: (-item[1], item[0]))[0]
        for area, found in shares.items()
    }
    raw.municipality = _Municipalities(groups, overrides)
    return large


def _all_counts(raw: RawLevel, rows: Sequence[Sequence[Any]], measures: Sequence[str]) -> None:
    """Every area in full, from rows per area and municipality."""
    shares: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        shares.setdefault(row[0], []).append((-row[2], row[1]))
    _fill(raw, rows, measures)
    for area in raw.detailed:
        raw.municipality[area] = min(shares[area])[1]


def _large_counts(raw: RawLevel, rows: Sequence[Sequence[Any]], measures: Sequence[str]) -> None:
    """The large areas in full; the first pass already gave their municipality."""
    _fill(raw, rows, measures)


def _fill(raw: RawLevel, rows: Sequence[Sequence[Any]], measures: Sequence[str]) -> None:
    """The counts of rows per area and municipality, summed per area; the coarser areas."""
    width = len(measures)
    crossing: set[str] = set()
    for row in rows:
        area, lowest, highest = row[0], row[-2], row[-1]
        counts = raw.detailed.get(area)
        if counts is None:
            raw.detailed[area] = dict(zip(measures, row[2 : 2 + width], strict=True))
        else:
            for measure, value in zip(measures, row[2 : 2 + width], strict=True):
                counts[measure] += value
        if raw.level == Level.PC6:
            if lowest and lowest == highest and raw.parent.get(area, lowest) == lowest:
                raw.parent[area] = lowest
            else:
                crossing.add(area)
    for area in crossing:
        raw.parent.pop(area, None)
    partitions = _partitions(measures)
    for counts in raw.detailed.values():
        _complete_partitions(counts, partitions)


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
