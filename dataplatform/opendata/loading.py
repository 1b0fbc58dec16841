"""Load checked rows of an open-data file into its reference table.

Good rows go into a temporary staging table, then one merge moves the winning row per
key into the reference table: the latest label of an address, the last line of a file
otherwise. A row of an older file never replaces one of a newer file, and a row that says
what the table already holds is not written, so running the same file twice, or an old
file after a new one, changes nothing.

PostgreSQL: the rows reach the staging table with one COPY in text format that is fed
while the file is read (EpOnlineSource.copy_text checks EP-Online's rows a column at a
time). The merge takes a lock that makes other imports of the table wait (readers go on);
into an empty table it inserts with the table's indexes set aside, else one statement
updates the replaced rows and inserts the new keys.

SQLite: batched inserts into the staging table and one INSERT ... SELECT ... ON CONFLICT
DO UPDATE ... WHERE newer. (bulk_create(update_conflicts=True) cannot say "only when
newer", so both databases get a hand-written merge.)
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from dataplatform.models import (
    AddressArea,
    BagAddress,
    ImportStatus,
    OpenDataImport,
    OpenDataKind,
    RegisteredLabel,
)
from dataplatform.opendata.files import (
    BATCH_ROWS,
    PROBLEMS_KEPT,
    ImportReport,
    copy_line,
    file_date_of,
    open_source,
)

# Characters handed to PostgreSQL's COPY per read.
COPY_CHUNK = 1 << 17
STAGE = "opendata_stage"


@dataclass(frozen=True)
class Target:
    """Where one kind of file goes, and which row wins when two have the same key."""

    model: type[models.Model]
    # Staged columns, in the order the sources yield them after the line number.
    columns: tuple[str, ...]
    key: tuple[str, ...]
    # Compared in descending order: the highest wins in a file; across files, a row
    # replaces the stored one only when it is at least as high (file_date comes last).
    newest: tuple[str, ...] = ()


LABEL_TARGET = Target(
    model=RegisteredLabel,
    columns=(
        "postcode",
        "house_number",
        "suffix",
        "bag_id",
        "label",
        "recorded_on",
        "registered_on",
        "valid_until",
        "building_type",
        "building_subtype",
        "floor_area_m2",
    ),
    key=("postcode", "house_number", "suffix"),
    newest=("recorded_on", "registered_on"),
)
BAG_TARGET = Target(
    model=BagAddress,
    columns=(
        "bag_id",
        "postcode",
        "house_number",
        "house_letter",
        "addition",
        "street",
        "city",
        "build_year",
        "floor_area_m2",
        "uses",
        "status",
        "building_id",
    ),
    key=("bag_id",),
)
AREA_TARGET = Target(
    model=AddressArea,
    columns=(
        "postcode",
        "house_number",
        "neighbourhood_code",
        "district_code",
        "municipality_code",
    ),
    key=("postcode", "house_number"),
)

TARGETS: dict[str, Target] = {
    OpenDataKind.EP_ONLINE: LABEL_TARGET,
    OpenDataKind.BAG: BAG_TARGET,
    OpenDataKind.CBS_AREAS: AREA_TARGET,
}


def _column_types(target: Target) -> list[tuple[str, str]]:
    postgres = connection.vendor == "postgresql"
    types = []
    for name in target.columns:
        model_field = target.model._meta.get_field(name)
        if isinstance(model_field, models.DateField):
            kind = "date" if postgres else "text"
        elif isinstance(model_field, models.DecimalField):
            kind = "numeric"
        elif isinstance(model_field, models.IntegerField):
            kind = "bigint" if postgres else "integer"
        else:
            kind = "text"
        types.append((name, kind))
    return types


def _create_stage(cursor: Any, target: Target) -> None:
    quote = connection.ops.quote_name
    columns = ", ".join(f"{quote(name)} {kind}" for name, kind in _column_types(target))
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} (line bigint, {columns})")


class _CopyFeed:
    """A file-like object that hands COPY text to PostgreSQL as it reads it.

    PostgreSQL parses one chunk while Python prepares the next, and only one chunk is in
    memory at a time.
    """

    def __init__(self, chunks: Iterator[str], tick: Callable[[], None]) -> None:
        self.chunks = chunks
        self.tick = tick

    def read(self, size: int = -1) -> str:
        chunk = next(self.chunks, "")
        self.tick()
        return chunk

    readline = read


def _copy_chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[str]:
    """Typed rows as COPY text, about COPY_CHUNK characters at a time."""
    lines: list[str] = []
    size = 0
    for row in rows:
        line = copy_line(row)
        lines.append(line)
        size += len(line)
        if size >= COPY_CHUNK:
            yield "".join(lines)
            lines.clear()
            size = 0
    if lines:
        yield "".join(lines)


def _stage_postgresql(
    cursor: Any, target: Target, source: Any, report: ImportReport, tick: Callable
) -> None:
    quote = connection.ops.quote_name
    names = ", ".join(["line", *map(quote, target.columns)])
    sql = f"COPY {STAGE} ({names}) FROM STDIN"
    if hasattr(source, "copy_text"):
        chunks = source.copy_text(report)
    else:
        chunks = _copy_chunks(source.rows(report))
    feed = _CopyFeed(chunks, tick)
    raw = cursor.cursor
    with _collector_paused():
        if hasattr(raw, "copy_expert"):
            raw.copy_expert(sql, feed, size=COPY_CHUNK)
        else:  # psycopg 3
            with raw.copy(sql) as copy:
                while chunk := feed.read():
                    copy.write(chunk)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Reading a file makes millions of short-lived lists and no reference cycles; the
    cyclic garbage collector's passes over them cost about a tenth of the reading time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _stage_sqlite(
    cursor: Any, target: Target, source: Any, report: ImportReport, tick: Callable
) -> None:
    marks = ", ".join(["%s"] * (len(target.columns) + 1))
    sql = f"INSERT INTO {STAGE} VALUES ({marks})"  # noqa: S608
    batch: list[tuple[Any, ...]] = []
    for row in source.rows(report):
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            cursor.executemany(sql, batch)
            batch.clear()
            tick()
    if batch:
        cursor.executemany(sql, batch)
    tick()


def _value(target: Target, name: str, prefix: str = "") -> str:
    column = f"{prefix}{connection.ops.quote_name(name)}"
    model_field = target.model._meta.get_field(name)
    if isinstance(model_field, models.CharField) and not model_field.null:
        return f"COALESCE({column}, '')"
    return column


def _rank(target: Target, name: str, prefix: str = "") -> str:
    # A missing date ranks below every real one.
    column = f"{prefix}{connection.ops.quote_name(name)}"
    return (
        f"COALESCE({column}, '0001-01-01')" if target.model._meta.get_field(name).null else column
    )


def _order(target: Target) -> str:
    """The order of the staged rows of one key, the winner first."""
    return ", ".join([*(f"{_rank(target, name)} DESC" for name in target.newest), "line DESC"])


def _selected(target: Target) -> str:
    quote = connection.ops.quote_name
    return ", ".join(f"{_value(target, name)} AS {quote(name)}" for name in target.columns)


def _merge_sql(target: Target) -> str:
    """SQLite: one INSERT ... SELECT of the winning staged row per key, upserted if newer."""
    quote = connection.ops.quote_name
    table = quote(target.model._meta.db_table)
    key = ", ".join(map(quote, target.key))
    columns = ", ".join(map(quote, target.columns))
    ranked = (
        f"SELECT *, ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {_order(target)}) AS rank_ "  # noqa: S608
        f"FROM {STAGE}"
    )
    winners = f"SELECT {_selected(target)} FROM ({ranked}) WHERE rank_ = 1"  # noqa: S608
    # A winner that says what the table already holds is left out before the upsert: a
    # monthly file repeats nearly every row of the last one.
    compared = [name for name in target.columns if name not in target.key]
    matches = " AND ".join(f"t.{quote(name)} = w.{quote(name)}" for name in target.key)
    unchanged = (
        f"SELECT 1 FROM {table} t WHERE {matches} AND "  # noqa: S608
        f"({', '.join(f'w.{quote(name)}' for name in compared)}) IS "
        f"({', '.join(f't.{quote(name)}' for name in compared)})"
    )
    listed = ", ".join(f"w.{quote(name)}" for name in target.columns)
    source = f"SELECT {listed}, %s FROM ({winners}) w WHERE NOT EXISTS ({unchanged})"  # noqa: S608
    updates = ", ".join(
        f"{quote(name)} = EXCLUDED.{quote(name)}"
        for name in (*target.columns, "file_date")
        if name not in target.key
    )
    newest = (*target.newest, "file_date")
    incoming = ", ".join(_rank(target, name, "EXCLUDED.") for name in newest)
    stored = ", ".join(_rank(target, name, f"{table}.") for name in newest)
    guard = f"({incoming}) >= ({stored})" if len(newest) > 1 else f"{incoming} >= {stored}"
    changed = (
        f"({', '.join(f'EXCLUDED.{quote(name)}' for name in compared)}) IS NOT "
        f"({', '.join(f'{table}.{quote(name)}' for name in compared)})"
    )
    return (
        f"INSERT INTO {table} ({columns}, {quote('file_date')}) {source} "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates} WHERE {guard} AND {changed}"
    )


def _merge_postgresql(cursor: Any, target: Target, file_date: dt.date) -> int:
    """Merge the winning staged row per key into the table; returns the rows written.

    Other imports into the table wait (readers do not). Into an empty table (the first
    import) the rows go in with the table's indexes set aside and rebuilt after, which
    is about twice as fast as keeping them up to date row by row. Otherwise one
    statement updates the stored rows that a newer, different row replaces and inserts
    the new keys: cheaper than INSERT ... ON CONFLICT, which checks and locks each row.
    """
    quote = connection.ops.quote_name
    table = quote(target.model._meta.db_table)
    cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
    # Sorted bytewise: the keys are ASCII, so this is the order of the table's key
    # index too, and several times faster than the database's collation.
    sort_key = ", ".join(
        f'{quote(name)} COLLATE "C"'
        if isinstance(target.model._meta.get_field(name), models.CharField)
        else quote(name)
        for name in target.key
    )
    winners = (
        f"SELECT DISTINCT ON ({sort_key}) {_selected(target)} "  # noqa: S608
        f"FROM {STAGE} ORDER BY {sort_key}, {_order(target)}"
    )
    columns = ", ".join([*map(quote, target.columns), quote("file_date")])
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")  # noqa: S608
    if not cursor.fetchone()[0]:
        with _indexes_set_aside(cursor, target.model._meta.db_table):
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608
                f"SELECT w.*, CAST(%s AS date) FROM ({winners}) w",
                [file_date],
            )
            return max(cursor.rowcount, 0)
    compared = [name for name in target.columns if name not in target.key]
    matches = " AND ".join(f"t.{quote(name)} = w.{quote(name)}" for name in target.key)
    newest = ", ".join(_rank(target, name, "w.") for name in target.newest)
    stored = ", ".join(_rank(target, name, "t.") for name in (*target.newest, "file_date"))
    updates = ", ".join(f"{quote(name)} = w.{quote(name)}" for name in compared)
    listed = ", ".join(f"w.{quote(name)}" for name in target.columns)
    found = f"t.{quote(target.key[0])}"
    # One join of the winners with the table sorts them into new keys and rows that
    # replace a stored one (newer and different); the rest is left out.
    sql = (
        f"WITH wanted AS MATERIALIZED (SELECT {listed}, {found} IS NULL AS new_ "  # noqa: S608
        f"FROM ({winners}) w LEFT JOIN {table} t ON {matches} "
        f"WHERE {found} IS NULL OR (({newest}{', ' if newest else ''}CAST(%s AS date)) "
        f">= ({stored}) AND ({', '.join(f'w.{quote(name)}' for name in compared)}) "
        f"IS DISTINCT FROM ({', '.join(f't.{quote(name)}' for name in compared)}))), "
        f"updated AS (UPDATE {table} t SET {updates}, {quote('file_date')} = CAST(%s AS date) "
        f"FROM wanted w WHERE NOT w.new_ AND {matches} RETURNING 1), "
        f"inserted AS (INSERT INTO {table} ({columns}) "
        f"SELECT {listed}, CAST(%s AS date) FROM wanted w WHERE w.new_ RETURNING 1) "
        f"SELECT (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted)"
    )
    cursor.execute(sql, [file_date, file_date, file_date])
    return cursor.fetchone()[0]


@contextmanager
def _indexes_set_aside(cursor: Any, table_name: str) -> Iterator[None]:
    """Drop the table's indexes (and the keys they back), and make them again after."""
    table = connection.ops.quote_name(table_name)
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY conname",
        [table_name],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT index.relname, pg_get_indexdef(index.oid) FROM pg_index x "
        "JOIN pg_class index ON index.oid = x.indexrelid WHERE x.indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
        "ORDER BY index.relname",
        [table_name],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = %s::regclass)",
        [table_name],
    )
    if cursor.fetchone()[0]:
        # Another table refers to this one: its key must stay.
        constraints = indexes = []
    for name, _definition in constraints:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    yield
    for name, definition in constraints:
        cursor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
        )
    for _name, definition in indexes:
        cursor.execute(definition)


def opendata_import(
    *,
    kind: str,
    path: Path | str,
    file_date: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[OpenDataImport, ImportReport]:
    """Import one file into its reference table; one OpenDataImport row tells what happened."""
    source = open_source(kind, path)
    report = ImportReport()
    try:
        run = OpenDataImport.objects.create(
            kind=kind,
            file_name=Path(path).name[:255],
            file_date=file_date or file_date_of(source),
        )

        def tick() -> None:
            if progress is not None:
                progress(report.rows_read)

        target = TARGETS[kind]
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    # The merge sorts every staged row by key: in memory, not on disk.
                    cursor.execute("SET LOCAL work_mem = '256MB'")
                _create_stage(cursor, target)
                stage = _stage_postgresql if connection.vendor == "postgresql" else _stage_sqlite
                stage(cursor, target, source, report, tick)
                if connection.vendor == "postgresql":
                    report.rows_written = _merge_postgresql(cursor, target, run.file_date)
                else:
                    cursor.execute(_merge_sql(target), [run.file_date])
                    report.rows_written = max(cursor.rowcount, 0)
                cursor.execute(f"DROP TABLE {STAGE}")
        except Exception as error:
            run.status = ImportStatus.FAILED
            run.finished_at = timezone.now()
            run.rows_read = report.rows_read
            run.problems = [
                *report.problems[: PROBLEMS_KEPT - 1],
                {"line": 0, "message": str(error)[:500]},
            ]
            run.save()
            raise
    finally:
        source.close()
    run.status = ImportStatus.DONE
    run.finished_at = timezone.now()
    run.rows_read = report.rows_read
    run.rows_written = report.rows_written
    run.rows_skipped = report.rows_skipped
    run.problems = report.problems
    run.save()
    return run, report
