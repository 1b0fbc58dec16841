"""Load checked rows of an open-data file into its reference table.

Good rows go into a temporary staging table (PostgreSQL: one COPY that is fed while the
file is read; SQLite: batched inserts), and one INSERT ... SELECT ... ON CONFLICT DO
UPDATE then merges the staging table into the reference table. The merge keeps one row
per key (the latest label of an address, the last line of a file otherwise) and never lets
a row of an older file replace one of a newer file, so running the same file twice, or an
old file after a new one, changes nothing.

bulk_create(update_conflicts=True) cannot say "only when newer", so both databases get
the same hand-written merge; only the way rows reach the staging table differs.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
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
    """A file-like object that turns staged rows into CSV for COPY as PostgreSQL reads it.

    PostgreSQL parses one chunk while Python prepares the next, and only one chunk is in
    memory at a time.
    """

    def __init__(self, rows: Iterator[tuple[Any, ...]], tick: Callable[[], None]) -> None:
        self.rows = rows
        self.tick = tick
        self.parts: list[str] = []
        self.size = 0
        self.writer = csv.writer(self, lineterminator="\n")

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def read(self, size: int = -1) -> str:
        limit = size if size and size > 0 else COPY_CHUNK
        writerow = self.writer.writerow
        for row in self.rows:
            writerow(row)
            if self.size >= limit:
                break
        self.tick()
        chunk = "".join(self.parts)
        self.parts.clear()
        self.size = 0
        return chunk

    readline = read


def _stage_postgresql(cursor: Any, target: Target, rows: Iterator, tick: Callable) -> None:
    quote = connection.ops.quote_name
    names = ", ".join(["line", *map(quote, target.columns)])
    sql = f"COPY {STAGE} ({names}) FROM STDIN WITH (FORMAT csv)"
    feed = _CopyFeed(rows, tick)
    raw = cursor.cursor
    if hasattr(raw, "copy_expert"):
        raw.copy_expert(sql, feed, size=COPY_CHUNK)
    else:  # psycopg 3
        with raw.copy(sql) as copy:
            while chunk := feed.read(COPY_CHUNK):
                copy.write(chunk)


def _stage_sqlite(cursor: Any, target: Target, rows: Iterator, tick: Callable) -> None:
    marks = ", ".join(["%s"] * (len(target.columns) + 1))
    sql = f"INSERT INTO {STAGE} VALUES ({marks})"  # noqa: S608
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            cursor.executemany(sql, batch)
            batch.clear()
            tick()
    if batch:
        cursor.executemany(sql, batch)
    tick()


def _merge_sql(target: Target) -> str:
    """One INSERT ... SELECT of the winning staged row per key, upserted if newer."""
    quote = connection.ops.quote_name
    table = quote(target.model._meta.db_table)
    postgres = connection.vendor == "postgresql"

    def value(name: str, prefix: str = "") -> str:
        model_field = target.model._meta.get_field(name)
        column = f"{prefix}{quote(name)}"
        if isinstance(model_field, models.CharField) and not model_field.null:
            return f"COALESCE({column}, '')"
        return column

    def rank(name: str, prefix: str = "") -> str:
        # A missing date ranks below every real one.
        column = f"{prefix}{quote(name)}"
        return (
            f"COALESCE({column}, '0001-01-01')"
            if target.model._meta.get_field(name).null
            else column
        )

    key = ", ".join(map(quote, target.key))
    columns = ", ".join(map(quote, target.columns))
    selected = ", ".join(f"{value(name)} AS {quote(name)}" for name in target.columns)
    order = ", ".join([*(f"{rank(name)} DESC" for name in target.newest), "line DESC"])
    file_date = "CAST(%s AS date)" if postgres else "%s"
    if postgres:
        winners = (
            f"SELECT DISTINCT ON ({key}) {selected} "  # noqa: S608
            f"FROM {STAGE} ORDER BY {key}, {order}"
        )
    else:
        ranked = (
            f"SELECT *, ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {order}) AS rank_ "  # noqa: S608
            f"FROM {STAGE}"
        )
        winners = f"SELECT {selected} FROM ({ranked}) WHERE rank_ = 1"  # noqa: S608
    # A winner that says what the table already holds is left out before the upsert: a
    # monthly file repeats nearly every row of the last one, and ON CONFLICT would lock
    # (and so write) every such row even when its WHERE refuses the update.
    compared = [name for name in target.columns if name not in target.key]
    same = "IS NOT DISTINCT FROM" if postgres else "IS"
    matches = " AND ".join(f"t.{quote(name)} = w.{quote(name)}" for name in target.key)
    unchanged = (
        f"SELECT 1 FROM {table} t WHERE {matches} AND "  # noqa: S608
        f"({', '.join(f'w.{quote(name)}' for name in compared)}) {same} "
        f"({', '.join(f't.{quote(name)}' for name in compared)})"
    )
    listed = ", ".join(f"w.{quote(name)}" for name in target.columns)
    source = f"SELECT {listed}, {file_date} FROM ({winners}) w WHERE NOT EXISTS ({unchanged})"  # noqa: S608
    updates = ", ".join(
        f"{quote(name)} = EXCLUDED.{quote(name)}"
        for name in (*target.columns, "file_date")
        if name not in target.key
    )
    newest = (*target.newest, "file_date")
    incoming = ", ".join(rank(name, "EXCLUDED.") for name in newest)
    stored = ", ".join(rank(name, f"{table}.") for name in newest)
    guard = f"({incoming}) >= ({stored})" if len(newest) > 1 else f"{incoming} >= {stored}"
    different = "IS DISTINCT FROM" if postgres else "IS NOT"
    changed = (
        f"({', '.join(f'EXCLUDED.{quote(name)}' for name in compared)}) {different} "
        f"({', '.join(f'{table}.{quote(name)}' for name in compared)})"
    )
    return (
        f"INSERT INTO {table} ({columns}, {quote('file_date')}) {source} "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates} WHERE {guard} AND {changed}"
    )


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
                stage(cursor, target, source.rows(report), tick)
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
