"""Small-cell suppression for published aggregates (rules version 2026-2).

The rules in plain words:

1. Primary suppression: a cell is published only when it counts at least K households.
   A count of 0 is suppressed like any other count below K. K is never below 5.
2. Complementary suppression: counts that add up (the label classes of an area add up
   to its households; so do its dwelling types and its build-year bands; a measure done
   and the households that have not done it add up to the households; the areas of a
   municipality add up to the municipality; the postcodes that lie wholly inside one
   neighbourhood, and the neighbourhoods of a district, add up to at most that
   neighbourhood or district) form a group. From the published cells of a group anyone
   can work out what the suppressed cells add up to. So in every group, when the total
   is published, the suppressed cells together must add up to 0 or to at least K; and no
   group may hold exactly one suppressed cell with a count above 0 (it could be worked
   out exactly), unless a part nobody publishes is also hidden in the group. When a
   group breaks a rule, its smallest published cell is suppressed as well, and this
   repeats until every group holds, since a cell is part of several groups.
3. An area with fewer than K households has every cell suppressed, as each of its
   counts is at most its households. Published counts are exact and never below K.

Plain values in, plain values out: no database, no Django.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

RULES_VERSION = "2026-2"
K_MINIMUM = 5

HOUSEHOLDS = "households"
# Measures that share one of these prefixes are the parts of a partition of the
# households of their area (each household falls in exactly one of them).
PARTITIONS = ("label:", "dwelling_type:", "build_year:")
# Every other measure counts a subset of the households; it and the households that are
# not in it (a complement nobody publishes) add up to the households.

SMALL = "small"
COMPLEMENTARY = "complementary"

# The level whose areas are the totals of the areas of every finer level.
MUNICIPALITY = "municipality"

Key = tuple[str, str, str]  # level, area, measure


@dataclass(frozen=True)
class Table:
    """The raw counts of one level: {area: {measure: count}}, each area with "households".

    `municipality` gives each area its municipality code; an area without one is left
    out of the geographic groups.
    """

    level: str
    counts: Mapping[str, Mapping[str, int]]
    municipality: Mapping[str, str] = field(default_factory=dict)
    # An area that lies wholly inside one area of a coarser level below the municipality
    # (a postcode inside one neighbourhood, a neighbourhood inside its district): the
    # coarser area's cells are totals of theirs too.
    parent_level: str = ""
    parent: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """One cell as it may be published: its count, or None and the reason it is hidden."""

    level: str
    area: str
    municipality: str
    measure: str
    count: int | None
    reason: str = ""

    @property
    def suppressed(self) -> bool:
        return self.count is None


@dataclass(frozen=True)
class Group:
    """Counts that add up: `total` equals the sum of `parts` plus `hidden`.

    `hidden` is what the parts leave out and nobody publishes: the complement of a
    measure, the households of an area without a code, or areas below K (whose cells
    are all suppressed and so are not modelled one by one).
    """

    total: Key
    parts: tuple[Key, ...]
    hidden: int


def check_k(k: int) -> None:
    if k < K_MINIMUM:
        raise ValueError(f"K must be at least {K_MINIMUM}, not {k}.")


def partition_of(measure: str) -> str | None:
    for prefix in PARTITIONS:
        if measure.startswith(prefix):
            return prefix
    return None


def groups_of_area(level: str, area: str, counts: Mapping[str, int]) -> Iterator[Group]:
    """The groups inside one area: each partition, and each other measure with its complement."""
    total: Key = (level, area, HOUSEHOLDS)
    households = counts[HOUSEHOLDS]
    partitions: dict[str, list[str]] = {}
    for measure in sorted(counts):
        if measure == HOUSEHOLDS:
            continue
        prefix = partition_of(measure)
        if prefix is None:
            yield Group(total, ((level, area, measure),), households - counts[measure])
        else:
            partitions.setdefault(prefix, []).append(measure)
    for measures in partitions.values():
        hidden = households - sum(counts[m] for m in measures)
        yield Group(total, tuple((level, area, m) for m in measures), hidden)


def violated(group: Group, values: Mapping[Key, int], reasons: Mapping[Key, str], k: int) -> bool:
    """True when a group lets someone work out a suppressed count that must stay hidden."""
    nonzero_suppressed = 0
    published = 0
    for key in group.parts:
        if key in reasons:
            if values[key]:
                nonzero_suppressed += 1
        else:
            published += values[key]
    if group.total in reasons:
        # total - (suppressed parts) - hidden = published parts: nothing is bounded from
        # above, unless the total is the only unknown, then it is known exactly.
        return values[group.total] != 0 and nonzero_suppressed == 0 and group.hidden == 0
    derivable = values[group.total] - published
    if 0 < abs(derivable) < k:
        return True
    return nonzero_suppressed == 1 and group.hidden == 0


def suppress(tables: Sequence[Table] | Table, *, k: int, compact: bool = False) -> list[Cell]:
    """Every cell of the tables, each published (count) or suppressed (None and a reason).

    Tables of several levels are suppressed together: when a table of the municipality
    level is among them, its cells are the totals of the areas of the other tables.
    With `compact`, an area below K yields only its households cell: all its other
    cells are suppressed anyway, and listing them adds rows but no information.
    """
    check_k(k)
    if isinstance(tables, Table):
        tables = [tables]
    values: dict[Key, int] = {}
    reasons: dict[Key, str] = {}
    groups: list[Group] = []
    small_areas: list[tuple[Table, str]] = []
    big_areas: dict[str, list[str]] = {}

    for table in tables:
        big_areas[table.level] = []
        for area in sorted(table.counts):
            counts = table.counts[area]
            if HOUSEHOLDS not in counts:
                raise ValueError(f"Area {area} of level {table.level} has no households count.")
            if counts[HOUSEHOLDS] < k and table.level != MUNICIPALITY:
                # Every count of the area is at most its households, so below K: all
                # suppressed, and every group inside the area holds.
                small_areas.append((table, area))
                continue
            big_areas[table.level].append(area)
            for measure, count in counts.items():
                if count < 0:
                    raise ValueError(f"A count is never negative ({area} {measure}).")
                key = (table.level, area, measure)
                values[key] = count
                if count < k:
                    reasons[key] = SMALL
            groups.extend(groups_of_area(table.level, area, counts))

    groups.extend(_geographic_groups(tables, big_areas, values))
    _complete(groups, values, reasons, k)
    return list(_cells(tables, values, reasons, small_areas, compact))


def _geographic_groups(
    tables: Sequence[Table], big_areas: Mapping[str, list[str]], values: Mapping[Key, int]
) -> Iterator[Group]:
    """Per municipality and measure: the municipality's cell is the total of its areas'.

    Likewise per area of a coarser level and measure, for the areas that lie wholly
    inside it (Table.parent): a neighbourhood's figure minus its postcodes' published
    figures must not give away a suppressed postcode.
    """
    yield from _nested_groups(tables, big_areas, values)
    totals = next((t for t in tables if t.level == MUNICIPALITY), None)
    if totals is None:
        return
    for table in tables:
        if table.level == MUNICIPALITY:
            continue
        areas_of: dict[str, list[str]] = {}
        for area in big_areas[table.level]:
            municipality = table.municipality.get(area, "")
            if municipality in totals.counts:
                areas_of.setdefault(municipality, []).append(area)
        for municipality in sorted(totals.counts):
            areas = areas_of.get(municipality, [])
            for measure in sorted(totals.counts[municipality]):
                parts = tuple(
                    (table.level, area, measure)
                    for area in areas
                    if (table.level, area, measure) in values
                )
                total: Key = (MUNICIPALITY, municipality, measure)
                hidden = values[total] - sum(values[part] for part in parts)
                yield Group(total, parts, hidden)


def _nested_groups(
    tables: Sequence[Table], big_areas: Mapping[str, list[str]], values: Mapping[Key, int]
) -> Iterator[Group]:
    levels = {table.level for table in tables}
    for table in tables:
        if not table.parent_level or table.parent_level not in levels:
            continue
        children: dict[str, list[str]] = {}
        for area in big_areas[table.level]:
            parent = table.parent.get(area)
            if parent:
                children.setdefault(parent, []).append(area)
        parent_table = next(t for t in tables if t.level == table.parent_level)
        for parent in sorted(parent_table.counts):
            if (table.parent_level, parent, HOUSEHOLDS) not in values:
                # A parent below K: every cell of it, and of what lies inside, is hidden.
                continue
            areas = children.get(parent, [])
            for measure in sorted(parent_table.counts[parent]):
                total: Key = (table.parent_level, parent, measure)
                parts = tuple(
                    (table.level, area, measure)
                    for area in areas
                    if (table.level, area, measure) in values
                )
                hidden = values[total] - sum(values[part] for part in parts)
                yield Group(total, parts, hidden)


def _complete(groups: list[Group], values: Mapping[Key, int], reasons: dict[Key, str], k: int):
    """Suppress further cells, smallest first, until no group is violated."""
    groups_with: dict[Key, list[int]] = {}
    for index, group in enumerate(groups):
        for key in (group.total, *group.parts):
            groups_with.setdefault(key, []).append(index)
    queue = deque(range(len(groups)))
    queued = [True] * len(groups)
    while queue:
        index = queue.popleft()
        queued[index] = False
        group = groups[index]
        if not violated(group, values, reasons, k):
            continue
        candidates = [key for key in group.parts if key not in reasons]
        if group.total not in reasons:
            candidates.append(group.total)
        if not candidates:
            continue
        # Smallest first; a part before the total; then by level, area and measure.
        chosen = min(candidates, key=lambda key: (values[key], key == group.total, key))
        reasons[chosen] = COMPLEMENTARY
        for other in groups_with[chosen]:
            if not queued[other]:
                queued[other] = True
                queue.append(other)


def _cells(
    tables: Iterable[Table],
    values: Mapping[Key, int],
    reasons: Mapping[Key, str],
    small_areas: Iterable[tuple[Table, str]],
    compact: bool,
) -> Iterator[Cell]:
    small = {(table.level, area) for table, area in small_areas}
    for table in tables:
        for area in sorted(table.counts):
            municipality = table.municipality.get(area, "")
            if table.level == MUNICIPALITY:
                municipality = municipality or area
            if (table.level, area) in small:
                measures = [HOUSEHOLDS] if compact else _ordered(table.counts[area])
                for measure in measures:
                    yield Cell(table.level, area, municipality, measure, None, SMALL)
                continue
            for measure in _ordered(table.counts[area]):
                key = (table.level, area, measure)
                reason = reasons.get(key, "")
                count = None if reason else values[key]
                yield Cell(table.level, area, municipality, measure, count, reason)


def _ordered(counts: Mapping[str, int]) -> list[str]:
    return [HOUSEHOLDS, *sorted(m for m in counts if m != HOUSEHOLDS)]
