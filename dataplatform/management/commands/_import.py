"""What the three open-data import commands share: arguments, progress line, summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dataplatform.opendata import OpenDataFileError, opendata_import

# How many bad rows the summary lists; the import keeps more (OpenDataImport.problems).
SHOWN_PROBLEMS = 20


def parse_file_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise CommandError(f"--file-date must be a date as YYYY-MM-DD, not {text!r}") from error


class ImportCommand(BaseCommand):
    kind: str
    file_help: str

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help=self.file_help)
        parser.add_argument(
            "--file-date",
            help="The date of the file (YYYY-MM-DD). Default: the date the file gives, "
            "else the day it was last changed.",
        )

    def progress(self, rows: int) -> None:
        self.stderr.write(f"\r{rows:,} rows read", ending="")
        self.stderr.flush()

    def handle(self, *args: Any, file: str, file_date: str | None, **options: Any) -> None:
        try:
            run, report = opendata_import(
                kind=self.kind,
                path=file,
                file_date=parse_file_date(file_date) if file_date else None,
                progress=self.progress,
            )
        except OpenDataFileError as error:
            raise CommandError(str(error)) from error
        finally:
            self.stderr.write("")
        self.stdout.write(
            f"{run.get_kind_display()}, file of {run.file_date:%d-%m-%Y}: "
            f"{report.rows_read} rows read, {report.rows_written} written, "
            f"{report.rows_skipped} skipped ({report.bad_rows} bad)."
        )
        unchanged = report.rows_staged - report.rows_written
        if unchanged:
            self.stdout.write(
                f"{unchanged} good rows changed nothing: already known, a later line of "
                "the same address, or older than what is stored."
            )
        if report.bad_rows:
            self.stdout.write("Bad rows, skipped:")
            for problem in report.problems[:SHOWN_PROBLEMS]:
                self.stdout.write(f"  line {problem['line']}: {problem['message']}")
            if report.bad_rows > SHOWN_PROBLEMS:
                self.stdout.write(f"  … and {report.bad_rows - SHOWN_PROBLEMS} more.")
