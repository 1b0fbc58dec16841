"""Spreadsheet exports that cannot carry formulas: the one CSV and XLSX writer of every app.

Whoever opens an export in Excel or LibreOffice must never run what a resident typed into
a form. Both formats therefore get the same treatment (OWASP ASVS 5.0, 1.2.10): a text
cell that starts with `=`, `+`, `-`, `@`, a tab, a carriage return or NUL gets a leading
`'`, so a spreadsheet shows it as text. XLSX is written by xlsxwriter with every
string-to-something conversion switched off, and each cell with the writer for its type:
numbers and dates stay numbers and dates, text is always text.

Rows come from a generator and are never held in memory as a whole: CSV is streamed as it
is made; XLSX is written to a temporary file (a zip must be finished before it can be
read) and that file is streamed. An initiative's few thousand rows take well under a
second, so both are made in the request. Exports of a size that takes longer belong in a
Celery task that stores the file privately (see the research notes, A.8).

This module sits in accounts, the lowest layer, so every app can use it; it knows nothing
of cases, NIP applications or publications.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xlsxwriter
from auditlog.models import LogEntry
from django.http import FileResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

if TYPE_CHECKING:
    from django.db import models

    from accounts.models import User

type Cell = str | int | float | Decimal | dt.date | dt.datetime | None

# What makes a spreadsheet treat text as a formula, or hide that it is one.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")
# Dutch Excel reads a CSV file as UTF-8 only when it starts with a byte order mark, and
# splits columns on ";" because "," is its decimal separator.
CSV_BOM = "\ufeff"
CSV_DELIMITER = ";"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The private folders xlsxwriter's temporary files go in, and when one counts as left
# behind: longer than any export may run (a task's hard limit is 15 minutes).
XLSX_SCRATCH_PREFIX = "woningdossier-xlsx-"
XLSX_SCRATCH_STALE_SECONDS = 3600
XLSX_OPTIONS = {
    # Rows go to disk as they are written, so memory does not grow with the export.
    "constant_memory": True,
    # Every cell is written with the method for its type; these stop xlsxwriter from
    # second-guessing a string as a formula, a link or a number even if write() is used.
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
XLSX_DATE_FORMAT = "dd-mm-yyyy"
XLSX_DATETIME_FORMAT = "dd-mm-yyyy hh:mm"
XLSX_COLUMN_WIDTH = 20
# Excel refuses a sheet name longer than 31 characters or with one of these in it.
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# File names end up in download folders and mail attachments: plain ASCII only.
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
# CSV rows are sent in batches rather than one tiny chunk per row.
CSV_BATCH_ROWS = 500


def safe_text(value: str) -> str:
    """The text with a leading `'` when a spreadsheet would otherwise read it as a formula."""
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


def _check(value: object) -> None:
    # True would be written as 1 in one format and TRUE in the other; the caller picks
    # the words ("yes", "no") instead.
    if isinstance(value, bool):
        raise TypeError("write booleans as text")


def _local(value: dt.datetime) -> dt.datetime:
    """A naive local time: spreadsheets have no time zones, and people read local time."""
    return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value


def _finite(value: int | float | Decimal) -> bool:
    return not isinstance(value, float | Decimal) or math.isfinite(value)


def csv_cell(value: Cell) -> str:
    """One value as CSV text the way Dutch Excel reads it: decimal comma, ISO dates."""
    _check(value)
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        if not _finite(value):
            return ""
        text = format(value, "f") if isinstance(value, Decimal) else repr(value)
        return text.replace(".", ",")
    if isinstance(value, dt.datetime):
        return _local(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return safe_text(str(value))


class _Echo:
    """The file-like object csv.writer writes to: hands each line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """The CSV text in chunks: byte order mark and header first, then rows in batches."""
    writer = csv.writer(_Echo(), delimiter=CSV_DELIMITER)
    yield CSV_BOM + writer.writerow([safe_text(str(label)) for label in header])
    batch: list[str] = []
    for row in rows:
        batch.append(writer.writerow([csv_cell(value) for value in row]))
        if len(batch) >= CSV_BATCH_ROWS:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def sheet_name(name: str) -> str:
    """A name Excel accepts for a worksheet."""
    return _SHEET_NAME_FORBIDDEN.sub(" ", name).strip("' ")[:31] or "Sheet1"


def _xlsx_scratch_purge(now: float | None = None) -> None:
    """Delete scratch folders left by a process that was killed while it wrote a file."""
    cutoff = (now or time.time()) - XLSX_SCRATCH_STALE_SECONDS
    for folder in Path(tempfile.gettempdir()).glob(f"{XLSX_SCRATCH_PREFIX}*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # another process removed it first


def xlsx_write(
    target: object, header: Sequence[str], rows: Iterable[Sequence[Cell]], *, sheet: str
) -> None:
    """Write one worksheet with a header row to `target` (a path or a binary file).

    In constant-memory mode xlsxwriter keeps the rows in named temporary files until the
    zip is made. They go in a private folder (mode 0700) that is deleted afterwards; one
    left by a killed worker is deleted by the next export, an hour later at the latest.
    """
    _xlsx_scratch_purge()
    with tempfile.TemporaryDirectory(prefix=XLSX_SCRATCH_PREFIX) as scratch:
        _xlsx_write(target, header, rows, sheet=sheet, scratch=scratch)


def _xlsx_write(
    target: object,
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    sheet: str,
    scratch: str,
) -> None:
    workbook = xlsxwriter.Workbook(target, {**XLSX_OPTIONS, "tmpdir": scratch})
    try:
        worksheet = workbook.add_worksheet(sheet_name(sheet))
        bold = workbook.add_format({"bold": True})
        date_format = workbook.add_format({"num_format": XLSX_DATE_FORMAT})
        datetime_format = workbook.add_format({"num_format": XLSX_DATETIME_FORMAT})
        # In constant-memory mode columns and panes must be set before the first row.
        worksheet.set_column(0, max(len(header) - 1, 0), XLSX_COLUMN_WIDTH)
        worksheet.freeze_panes(1, 0)
        for col, label in enumerate(header):
            worksheet.write_string(0, col, safe_text(str(label)), bold)
        write_string, write_number = worksheet.write_string, worksheet.write_number
        for row_number, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                # Plain text, whole numbers and nothing are nearly every cell: they are
                # told apart by their exact type first (a bool is not an int here).
                kind = type(value)
                if kind is str:
                    # An empty text is an empty cell, as in the CSV file.
                    if value:
                        write_string(row_number, col, safe_text(value))
                elif value is None:
                    continue
                elif kind is int:
                    write_number(row_number, col, value)
                else:
                    _xlsx_other(worksheet, row_number, col, value, date_format, datetime_format)
    finally:
        workbook.close()


def _xlsx_other(
    worksheet: Any, row: int, col: int, value: Cell, date_format: Any, datetime_format: Any
) -> None:
    """A cell that is not plain text, a whole number or empty."""
    _check(value)
    if value == "":
        return
    if isinstance(value, int | float | Decimal):
        if _finite(value):
            worksheet.write_number(row, col, float(value))
    elif isinstance(value, dt.datetime):
        worksheet.write_datetime(row, col, _local(value), datetime_format)
    elif isinstance(value, dt.date):
        worksheet.write_datetime(row, col, value, date_format)
    else:
        worksheet.write_string(row, col, safe_text(str(value)))


def _check_filename(filename: str) -> None:
    # The name is made by the caller from ids and dates; anything else is a programming
    # error, and would risk a name or an address in the file name.
    if not _FILENAME.match(filename):
        raise ValueError(f"unsafe export file name: {filename!r}")


def download_headers(response: HttpResponseBase) -> None:
    """The headers every export download carries, also a stored file served by another app."""
    response["X-Content-Type-Options"] = "nosniff"
    # Exports hold personal data: they stay out of shared caches and off the disk of a
    # shared computer's browser cache.
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[Cell]], *, filename: str
) -> StreamingHttpResponse:
    """A CSV download (`;`, UTF-8 with BOM) streamed while the rows are read."""
    _check_filename(filename)
    response = StreamingHttpResponse(csv_lines(header, rows), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    download_headers(response)
    return response


def xlsx_response(
    header: Sequence[str], rows: Iterable[Sequence[Cell]], *, filename: str, sheet: str
) -> FileResponse:
    """An XLSX download, written to a temporary file that is removed once it is sent."""
    _check_filename(filename)
    # An anonymous temporary file: it has no name on disk to be found by, and it is gone
    # when FileResponse closes it, also when the client breaks off the download.
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    try:
        xlsx_write(handle, header, rows, sheet=sheet)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
    )
    download_headers(response)
    return response


def export_log(
    *, actor: User, subject: models.Model, export: str, details: Mapping[str, str | int | bool]
) -> LogEntry:
    """Record in the access log that `actor` downloaded an export about `subject`.

    subject: what the export is of (an initiative, a NIP programme), never a person.
    details: what kind of export, as codes and counts. They are kept as long as the
    audit log, so they hold no personal data: no names, addresses or search text.
    The actor is recorded as every other audit entry records them (the account and its
    e-mail address), so who took a file is still known after their account is removed.
    """
    return LogEntry.objects.log_create(
        subject,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        actor=actor,
        actor_email=actor.email,
        additional_data={"export": export, **details},
    )
