"""Read the national open-data files as streams of checked rows.

EP-Online's labels (CSV), CBS's areas per address (CSV) and the BAG light GeoPackage
(SQLite). Each reader checks the file when it is opened (OpenDataFileError: nothing is
imported) and then yields one tuple per usable row, first the row's line number; a bad
row is reported with its line number and skipped, never raised. EpOnlineSource also
yields its rows as PostgreSQL COPY text, checked a column at a time (see copy_text).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import methodcaller, not_, or_
from pathlib import Path
from typing import Any

from django.utils import timezone

from dataplatform.models import OpenDataKind
from dossier.addresses import HOUSE_NUMBER_MAX, UNUSED_POSTCODE_LETTERS
from dossier.models import EnergyLabel

PROBLEMS_KEPT = 1000
# Rows per insert on SQLite, and how often the progress callback hears of the count.
BATCH_ROWS = 10_000
# Characters of a CSV file read at a time (a block's strings stay in the processor's
# cache: faster than larger blocks), and the most a block grows to keep a quoted field
# that spans lines whole.
BLOCK_CHARS = 1 << 16
QUOTED_BLOCK_MAX = 1 << 26

POSTCODE_RE = re.compile(r"^[1-9][0-9]{3}[A-Z]{2}$")
BAG_ID_RE = re.compile(r"^[0-9]{16}$")
AREA_RE = re.compile(r"^[0-9]{1,7}(\.[0-9]+)?$")
NOT_ALNUM_RE = re.compile(r"[^0-9A-Za-z]+")
DATE_IN_NAME_RE = re.compile(r"(?<![0-9])((?:19|20)[0-9]{6})(?![0-9])")
LABELS = frozenset(EnergyLabel.values)

BAG_TABLE = "verblijfsobject"
BAG_COLUMNS = (
    "identificatie",
    "oppervlakte",
    "status",
    "gebruiksdoel",
    "openbare_ruimte_naam",
    "huisnummer",
    "huisletter",
    "toevoeging",
    "postcode",
    "woonplaats_naam",
    "bouwjaar",
    "pand_identificatie",
)
BAG_IN_USE = frozenset(
    {"verblijfsobject in gebruik", "verblijfsobject in gebruik (niet ingemeten)"}
)

EP_REQUIRED = (
    "pand_opnamedatum",
    "pand_status",
    "pand_energieklasse",
    "pand_gebouwklasse",
    "pand_postcode",
    "pand_huisnummer",
)
EP_OPTIONAL = (
    "pand_registratiedatum",
    "meting_geldig_tot",
    "pand_huisnummer_toev",
    "pand_bagverblijfsobjectid",
    "pand_gebouwtype",
    "pand_gebouwsubtype",
    "pand_gebruiksoppervlakte",
)
# A building permit application is registered in EP-Online too, but it is not a label.
EP_NOT_A_LABEL = "vergunningsaanvraag"
EP_HOUSING = "W"

CBS_PREFIXES = ("pc6", "huisnummer", "buurt", "wijk", "gemeente")


class OpenDataFileError(Exception):
    """The file cannot be imported at all (missing, empty, another kind); nothing changed."""


@dataclass
class ImportReport:
    """What one run did, row by row."""

    rows_read: int = 0
    rows_staged: int = 0
    rows_written: int = 0
    rows_skipped: int = 0
    bad_rows: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def bad(self, line: int, message: str) -> None:
        self.bad_rows += 1
        self.rows_skipped += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append({"line": line, "message": message})


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise OpenDataFileError(f"File not found: {path}")
    if path.stat().st_size == 0:
        raise OpenDataFileError(f"The file is empty: {path}")


def _encoding(path: Path) -> str:
    """UTF-8 when the start of the file is valid UTF-8, else Windows-1252 (older exports)."""
    with path.open("rb") as handle:
        start = handle.read(1 << 16)
    try:
        start.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut off at the end of the sample is still UTF-8.
        if error.start < len(start) - 4:
            return "cp1252"
    return "utf-8-sig"


def _date_from_text(text: str) -> dt.date | None:
    text = text.strip()
    for pattern in ("%d-%m-%Y", "%Y-%m-%d", "%Y%m%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _date_from_name(path: Path) -> dt.date | None:
    match = DATE_IN_NAME_RE.search(path.name)
    return _date_from_text(match.group(1)) if match else None


def _house_number(text: Any) -> int | None:
    text = str(text).strip() if text is not None else ""
    if not text.isdigit():
        return None
    number = int(text)
    return number if 1 <= number <= HOUSE_NUMBER_MAX else None


def _postcode(text: Any) -> str:
    return "".join(str(text or "").split()).upper()


def _valid_postcode(postcode: str) -> bool:
    return bool(POSTCODE_RE.match(postcode)) and postcode[4:] not in UNUSED_POSTCODE_LETTERS


def _address_problem(postcode: str, number_text: Any, number: int | None) -> str | None:
    if not postcode:
        return "no postcode"
    if not _valid_postcode(postcode):
        return f"not a postcode: {postcode[:10]!r}"
    if number is None:
        if number_text is None or not str(number_text).strip():
            return "no house number"
        return f"not a house number: {str(number_text)[:10]!r}"
    return None


class _CsvSource:
    """A `;`-separated file read as a stream, with the physical line number of each row."""

    def __init__(self, path: Path) -> None:
        _check_file(path)
        self.path = path
        self.file_date: dt.date | None = None
        self._handle = path.open(encoding=_encoding(path), newline="", errors="replace")
        self.reader = csv.reader(self._handle, delimiter=";")

    def close(self) -> None:
        self._handle.close()

    def _columns(self, header: list[str]) -> dict[str, int]:
        columns: dict[str, int] = {}
        for position, name in enumerate(header):
            columns.setdefault(name.strip().lower(), position)
        return columns


class EpOnlineSource(_CsvSource):
    """EP-Online's open data CSV: optional preamble lines, then `Pand_...` columns.

    The file is read in blocks of whole lines. `rows` checks each row in Python and
    yields typed tuples (SQLite's batched inserts). `copy_text` yields the same rows as
    PostgreSQL COPY text: a block without quotes, tabs or backslashes is split in one go
    and checked a column at a time (sets of distinct values, one regular expression over
    the joined column), so Python spends no bytecode per row; only the rows that fail a
    column check, which are few, go through the per-row check for their message or
    normalisation. Both paths give the same rows and the same problems.
    """

    kind = OpenDataKind.EP_ONLINE

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            self.header = self._find_header()
        except Exception:
            self.close()
            raise
        self.columns = self._columns(self.header)
        missing = [name for name in EP_REQUIRED if name not in self.columns]
        if missing:
            self.close()
            raise OpenDataFileError(
                "Not an EP-Online file: the column(s) "
                + ", ".join(name.capitalize() for name in missing)
                + " are missing."
            )
        self.width = len(self.header)
        self._first_line = self.reader.line_num + 1
        self._dates: dict[str, str | None] = {"": None}
        # Date texts that passed the check (the fast path's test is a set difference).
        self._valid_dates: set[str] = set()
        # A "\r" before each "\n" may stay when the last column is not read: it ends
        # up at the end of that column's values only.
        self._crlf_kept = self.width - 1 not in {
            self.columns.get(name, -1) for name in (*EP_REQUIRED, *EP_OPTIONAL)
        }

    def _find_header(self) -> list[str]:
        content = False
        for row in self.reader:
            if row and row[0].strip().startswith("Pand_"):
                return row
            content = content or any(cell.strip() for cell in row)
            if len(row) >= 2 and row[0].strip().lower() == "publicatiedatum":
                self.file_date = _date_from_text(row[1])
        if not content:
            raise OpenDataFileError(f"The file is empty: {self.path}")
        raise OpenDataFileError("Not an EP-Online file: no header row starting with Pand_.")

    # -- reading ---------------------------------------------------------------------

    def _blocks(self) -> Iterator[tuple[int, str]]:
        """(number of the first line, text of whole lines ending in "\\n") per block.

        Line ends become "\\n". A block never ends inside a quoted field, so a row that
        spans lines stays in one block.
        """
        line = self._first_line
        pending = ""
        while True:
            data = self._handle.read(BLOCK_CHARS)
            text = pending + data
            if data:
                cut = text.rfind("\n") + 1
                # An odd number of quotes: the last row goes on in the next block.
                while cut and text.count('"', 0, cut) % 2 and len(text) < QUOTED_BLOCK_MAX:
                    more = self._handle.read(BLOCK_CHARS)
                    if not more:
                        break
                    text += more
                    cut = text.rfind("\n") + 1
                if not cut:
                    pending = text
                    continue
                pending, text = text[cut:], text[:cut]
            elif not text:
                return
            else:
                text += "\n"
                pending = ""
            if "\r" in text and (
                self._crlf_kept is False or text.count("\r") != text.count("\r\n")
            ):
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            yield line, text
            line += text.count("\n")
            if not data:
                return

    def _records(self, first: int, text: str) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of each non-empty row of a block, one at a time."""
        lines = text.split("\n")
        lines.pop()
        if '"' not in text:
            for offset, line in enumerate(lines):
                if line not in EMPTY_LINES:
                    yield first + offset, line.split(";")
            return
        reader = csv.reader((f"{line}\n" for line in lines), delimiter=";")
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                # Only a quoted field left open at the very end of the file gets here.
                yield first + reader.line_num - 1, []
                return
            if row:
                yield first + reader.line_num - 1, row

    def _date(self, text: str) -> str | None:
        """The ISO date of a YYYYMMDD text, or None; each distinct text is parsed once."""
        try:
            return self._dates[text]
        except KeyError:
            parsed = None
            if len(text) == 8 and text.isdigit():
                try:
                    parsed = dt.date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
                except ValueError:
                    parsed = None
            self._dates[text] = parsed
            return parsed

    def _check(self, row: list[str], line: int, report: ImportReport, bad: Callable) -> Any:
        """The typed tuple of one row, or None when it is skipped (bad rows go to `bad`)."""
        columns = self.columns
        if len(row) != self.width:
            bad(line, f"{len(row)} fields instead of {self.width}")
            return None

        def field(name: str) -> str:
            index = columns.get(name, -1)
            return row[index].strip() if index >= 0 else ""

        if field("pand_status").lower() == EP_NOT_A_LABEL:
            report.rows_skipped += 1
            return None
        if field("pand_gebouwklasse").upper() != EP_HOUSING:
            report.rows_skipped += 1
            return None
        postcode = row[columns["pand_postcode"]]
        if not POSTCODE_RE.match(postcode):
            postcode = _postcode(postcode)
        number_text = row[columns["pand_huisnummer"]]
        number = _house_number(number_text)
        problem = _address_problem(postcode, number_text, number)
        if problem:
            bad(line, problem)
            return None
        label = field("pand_energieklasse").upper()
        if label not in LABELS:
            bad(line, f"not a label class: {label[:10]!r}")
            return None
        recorded_text = field("pand_opnamedatum")
        recorded = self._date(recorded_text)
        if recorded is None:
            bad(line, f"not a recording date (YYYYMMDD): {recorded_text[:12]!r}")
            return None
        registered_text = field("pand_registratiedatum")
        registered = self._date(registered_text)
        if registered is None and registered_text:
            bad(line, f"not a registration date (YYYYMMDD): {registered_text[:12]!r}")
            return None
        valid_text = field("meting_geldig_tot")
        valid_until = self._date(valid_text)
        if valid_until is None and valid_text:
            bad(line, f"not a valid-until date (YYYYMMDD): {valid_text[:12]!r}")
            return None
        suffix = field("pand_huisnummer_toev")
        if suffix:
            suffix = NOT_ALNUM_RE.sub("", suffix).upper()
            if len(suffix) > 8:
                bad(line, f"letter and addition too long: {suffix[:12]!r}")
                return None
        bag_id = field("pand_bagverblijfsobjectid")
        if bag_id and not BAG_ID_RE.match(bag_id):
            bag_id = ""
        area = field("pand_gebruiksoppervlakte").replace(",", ".")
        if area and not AREA_RE.match(area):
            area = ""
        return (
            line,
            postcode,
            number,
            suffix,
            bag_id,
            label,
            recorded,
            registered,
            valid_until,
            field("pand_gebouwtype")[:60],
            field("pand_gebouwsubtype")[:60],
            area or None,
        )

    def rows(self, report: ImportReport) -> Iterator[tuple[Any, ...]]:
        """Every usable row as (line, postcode, number, suffix, bag id, label, dates…)."""
        for first, text in self._blocks():
            for line, row in self._records(first, text):
                report.rows_read += 1
                checked = self._check(row, line, report, report.bad)
                if checked is not None:
                    report.rows_staged += 1
                    yield checked

    # -- the fast path for PostgreSQL's COPY ------------------------------------------

    def copy_text(self, report: ImportReport) -> Iterator[str]:
        """The usable rows as COPY text (the columns of `rows`, dates as text), per block."""
        for first, text in self._blocks():
            problems: list[tuple[int, str]] = []
            if '"' in text or "\\" in text or "\t" in text:
                lines = []
                for line, row in self._records(first, text):
                    report.rows_read += 1
                    checked = self._check(row, line, report, _collect(problems))
                    if checked is not None:
                        report.rows_staged += 1
                        lines.append(copy_line(checked))
                chunk = "".join(lines)
            else:
                chunk = self._copy_block(first, text, report, _collect(problems))
            for line, message in sorted(problems):
                report.bad(line, message)
            if chunk:
                yield chunk

    def _copy_block(self, first: int, text: str, report: ImportReport, bad: Callable) -> str:
        width = self.width
        lines = text.split("\n")
        lines.pop()
        numbers: Any = range(first, first + len(lines))
        counts = list(map(_SEMICOLONS, lines))
        if counts.count(width - 1) != len(lines):
            kept = []
            for offset, count in enumerate(counts):
                if count == width - 1:
                    kept.append(offset)
                elif lines[offset] not in EMPTY_LINES:
                    report.rows_read += 1
                    bad(first + offset, f"{count + 1} fields instead of {width}")
            numbers = [numbers[offset] for offset in kept]
            lines = [lines[offset] for offset in kept]
        if not lines:
            return ""
        report.rows_read += len(lines)
        # Every line has `width` fields: one split, and each column is a slice of it.
        fields = ";".join(lines).split(";")
        columns = self.columns
        statuses = fields[columns["pand_status"] :: width]
        classes = fields[columns["pand_gebouwklasse"] :: width]
        # A permit application and a building that is not a home are skipped, not bad.
        not_labels = {value for value in set(statuses) if value.strip().lower() == EP_NOT_A_LABEL}
        not_homes = {value for value in set(classes) if value.strip().upper() != EP_HOUSING}
        keep: list[bool] | None = None
        if not_labels or not_homes:
            skip = map(
                or_, map(not_labels.__contains__, statuses), map(not_homes.__contains__, classes)
            )
            keep = list(map(not_, skip))
            report.rows_skipped += keep.count(False)

        def picked(name: str) -> list[str] | None:
            index = columns.get(name, -1)
            return fields[index::width] if index >= 0 else None

        postcodes = picked("pand_postcode")
        house_numbers = picked("pand_huisnummer")
        labels = picked("pand_energieklasse")
        recorded = picked("pand_opnamedatum")
        registered = picked("pand_registratiedatum")
        valid_until = picked("meting_geldig_tot")
        suffixes = picked("pand_huisnummer_toev")
        bag_ids = picked("pand_bagverblijfsobjectid")
        types = picked("pand_gebouwtype")
        subtypes = picked("pand_gebouwsubtype")
        areas = picked("pand_gebruiksoppervlakte")
        if areas is not None:
            joined = "\n".join(areas)
            if "," in joined:
                areas = joined.replace(",", ".").split("\n")
        # The rows a column check cannot vouch for take the per-row check (a skipped row
        # is left out of both).
        suspects = sorted(
            offset
            for offset in (
                _misfits(postcodes, POSTCODE_FAST)
                | _misfits(house_numbers, HOUSE_NUMBER_FAST)
                | _misfits(suffixes, SUFFIX_FAST)
                | _misfits(bag_ids, BAG_ID_FAST)
                | _misfits(areas, AREA_FAST)
                | _odd(labels, LABELS, None)
                | _odd(recorded, self._valid_dates, self._is_date)
                | _odd(registered, self._valid_dates, self._is_date_or_empty)
                | _odd(valid_until, self._valid_dates, self._is_date_or_empty)
            )
            if keep is None or keep[offset]
        )
        out: list[str] = []
        if suspects:
            keep = keep or [True] * len(numbers)
            for offset in suspects:
                row = fields[offset * width : (offset + 1) * width]
                checked = self._check(row, numbers[offset], report, bad)
                if checked is not None:
                    out.append(copy_line(checked))
                keep[offset] = False
        if keep is not None:
            numbers = list(compress(numbers, keep))
            postcodes, house_numbers, labels, recorded, registered, valid_until = (
                None if values is None else list(compress(values, keep))
                for values in (
                    postcodes,
                    house_numbers,
                    labels,
                    recorded,
                    registered,
                    valid_until,
                )
            )
            suffixes, bag_ids, types, subtypes, areas = (
                None if values is None else list(compress(values, keep))
                for values in (suffixes, bag_ids, types, subtypes, areas)
            )
        report.rows_staged += len(out) + len(numbers)
        if numbers:
            if suffixes is not None:
                suffixes = "\n".join(suffixes).upper().split("\n")
            out.append(
                "\n".join(
                    map(
                        "\t".join,
                        zip(
                            map(str, numbers),
                            postcodes,
                            house_numbers,
                            _or_empty(suffixes),
                            _or_empty(bag_ids),
                            labels,
                            recorded,
                            _or_null(registered),
                            _or_null(valid_until),
                            _text(types),
                            _text(subtypes),
                            _or_null(areas),
                            strict=False,
                        ),
                    )
                )
                + "\n"
            )
        return "".join(out)

    def _is_date(self, text: str) -> bool:
        return self._date(text) is not None

    def _is_date_or_empty(self, text: str) -> bool:
        return not text or self._date(text) is not None


# The fast path of EpOnlineSource.copy_text checks a whole column with one regular
# expression over its values joined by "\n"; a row it cannot vouch for takes the per-row
# check. Each pattern accepts only values the per-row check keeps unchanged.
_UNUSED = "|".join(sorted(UNUSED_POSTCODE_LETTERS))
POSTCODE_FAST = rf"[1-9][0-9]{{3}}(?!{_UNUSED})[A-Z]{{2}}"
# House numbers 1 to HOUSE_NUMBER_MAX (99999: all nines), leading zeros as int() allows.
HOUSE_NUMBER_FAST = rf"0*[1-9][0-9]{{0,{len(str(HOUSE_NUMBER_MAX)) - 1}}}"
SUFFIX_FAST = "[0-9A-Za-z]{0,8}"
BAG_ID_FAST = "(?:[0-9]{16})?"
AREA_FAST = r"(?:[0-9]{1,7}(?:\.[0-9]+)?)?"


_MISFITS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {}


def _misfits(values: list[str] | None, pattern: str) -> set[int]:
    """The offsets of the values that `pattern` does not fit, found in the joined column."""
    if not values:
        return set()
    if pattern not in _MISFITS:
        _MISFITS[pattern] = (
            re.compile(rf"(?:{pattern})(?:\n(?:{pattern}))*"),
            re.compile(rf"^(?!(?:{pattern})$).*$", re.MULTILINE),
        )
    whole, misfit = _MISFITS[pattern]
    joined = "\n".join(values)
    if whole.fullmatch(joined):
        return set()
    found = set()
    offset = start = 0
    for match in misfit.finditer(joined):
        offset += joined.count("\n", start, match.start())
        start = match.start()
        found.add(offset)
    return found


def _odd(values: list[str] | None, known: Any, good: Callable[[str], bool] | None) -> set[int]:
    """The offsets of the values that fail `good`; `known` holds values known to pass."""
    if values is None or known.issuperset(values):
        return set()
    unknown = set(values).difference(known)
    if not unknown:
        return set()
    odd = set()
    for value in unknown:
        if good is not None and good(value):
            known.add(value)
        else:
            odd.add(value)
    if not odd:
        return set()
    return {offset for offset, value in enumerate(values) if value in odd}


_SEMICOLONS = methodcaller("count", ";")
# A line with nothing on it, as csv skips it (its "\r" may be left of a "\r\n").
EMPTY_LINES = frozenset({"", "\r"})
_HAS_COMMA = methodcaller("__contains__", ",")
COPY_NULL = "\\N"


def _copy_value(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return COPY_NULL
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def copy_line(row: tuple[Any, ...]) -> str:
    """A row as one line of PostgreSQL's COPY text format (None is NULL)."""
    return "\t".join(map(_copy_value, row)) + "\n"


def _collect(problems: list[tuple[int, str]]) -> Callable[[int, str], None]:
    def bad(line: int, message: str) -> None:
        problems.append((line, message))

    return bad


def _or_empty(values: list[str] | None) -> Any:
    return repeat("") if values is None else values


def _or_null(values: list[str] | None) -> Any:
    return repeat(COPY_NULL) if values is None else [value or COPY_NULL for value in values]


def _text(values: list[str] | None) -> Any:
    if values is None:
        return repeat("")
    values = list(map(str.strip, values))
    if max(map(len, values), default=0) > 60:
        values = [value[:60] for value in values]
    return values


class CbsAreaSource(_CsvSource):
    """CBS's "buurt, wijk en gemeente voor postcode huisnummer" file (pc6hnrYYYYMMDD_gwb.csv)."""

    kind = OpenDataKind.CBS_AREAS

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.file_date = _date_from_name(path)
        header = next(self.reader, None)
        if header is None or not any(cell.strip() for cell in header):
            self.close()
            raise OpenDataFileError(f"The file is empty: {path}")
        names = [cell.strip().lower() for cell in header]
        self.positions: list[int] = []
        for prefix in CBS_PREFIXES:
            found = [n for n, name in enumerate(names) if name.startswith(prefix)]
            if not found:
                self.close()
                raise OpenDataFileError(
                    "Not a CBS postcode/house number file: no column starting with "
                    f"{prefix!r} (expected PC6;Huisnummer;Buurt…;Wijk…;Gemeente…)."
                )
            self.positions.append(found[0])
        self.width = len(header)

    def rows(self, report: ImportReport) -> Iterator[tuple[Any, ...]]:
        i_postcode, i_number, i_neighbourhood, i_district, i_municipality = self.positions
        width = self.width
        reader = self.reader
        for row in reader:
            if not row:
                continue
            report.rows_read += 1
            line = reader.line_num
            if len(row) != width:
                report.bad(line, f"{len(row)} fields instead of {width}")
                continue
            postcode = _postcode(row[i_postcode])
            number = _house_number(row[i_number])
            problem = _address_problem(postcode, row[i_number], number)
            if problem:
                report.bad(line, problem)
                continue
            codes = []
            for index, limit, name in (
                (i_neighbourhood, 10**8, "neighbourhood"),
                (i_district, 10**6, "district"),
                (i_municipality, 10**4, "municipality"),
            ):
                text = row[index].strip()
                if not text.isdigit() or int(text) >= limit:
                    report.bad(line, f"not a {name} code: {text[:12]!r}")
                    break
                codes.append(int(text))
            else:
                report.rows_staged += 1
                yield (
                    line,
                    postcode,
                    number,
                    f"BU{codes[0]:08d}",
                    f"WK{codes[1]:06d}",
                    f"GM{codes[2]:04d}",
                )


class BagSource:
    """The BAG light GeoPackage: an SQLite file whose verblijfsobject table is read as is."""

    kind = OpenDataKind.BAG

    def __init__(self, path: Path) -> None:
        _check_file(path)
        self.path = path
        with path.open("rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                raise OpenDataFileError(f"Not a GeoPackage (SQLite) file: {path}")
        self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {
                name
                for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if BAG_TABLE not in tables:
                raise OpenDataFileError(f"Not a BAG light file: it has no {BAG_TABLE} table.")
            present = {row[1].lower() for row in self.db.execute(f"PRAGMA table_info({BAG_TABLE})")}
            missing = [name for name in BAG_COLUMNS if name not in present]
            if missing:
                raise OpenDataFileError(
                    f"Not a BAG light file: {BAG_TABLE} has no column(s) " + ", ".join(missing)
                )
            self.file_date = self._file_date(tables)
        except sqlite3.DatabaseError as error:
            self.close()
            raise OpenDataFileError(f"Not a readable GeoPackage: {error}") from error
        except OpenDataFileError:
            self.close()
            raise

    def _file_date(self, tables: set[str]) -> dt.date | None:
        if "gpkg_contents" in tables:
            row = self.db.execute(
                "SELECT last_change FROM gpkg_contents WHERE table_name = ?", (BAG_TABLE,)
            ).fetchone()
            if row and row[0]:
                return _date_from_text(str(row[0])[:10])
        return _date_from_name(self.path)

    def close(self) -> None:
        self.db.close()

    def rows(self, report: ImportReport) -> Iterator[tuple[Any, ...]]:
        # The geometry is never read: only these attributes leave the file.
        cursor = self.db.execute(f"SELECT rowid, {', '.join(BAG_COLUMNS)} FROM {BAG_TABLE}")  # noqa: S608
        while batch := cursor.fetchmany(BATCH_ROWS):
            for (
                line,
                identification,
                area,
                status,
                uses,
                street,
                number_value,
                letter,
                addition,
                postcode_value,
                city,
                year,
                building,
            ) in batch:
                report.rows_read += 1
                status = str(status or "").strip()
                uses = str(uses or "").strip()
                if "woonfunctie" not in uses.lower() or status.lower() not in BAG_IN_USE:
                    report.rows_skipped += 1
                    continue
                bag_id = _bag_id(identification)
                if not bag_id:
                    report.bad(line, f"not a BAG id: {str(identification)[:40]!r}")
                    continue
                postcode = _postcode(postcode_value)
                number = _house_number(number_value)
                problem = _address_problem(postcode, number_value, number)
                if problem:
                    report.bad(line, problem)
                    continue
                letter = str(letter or "").strip().upper()
                addition = NOT_ALNUM_RE.sub("", str(addition or "")).upper()
                if len(letter) > 1 or (letter and not letter.isalpha()):
                    report.bad(line, f"not a house letter: {letter[:10]!r}")
                    continue
                if len(addition) > 4:
                    report.bad(line, f"addition too long: {addition[:10]!r}")
                    continue
                report.rows_staged += 1
                yield (
                    line,
                    bag_id,
                    postcode,
                    number,
                    letter,
                    addition,
                    str(street or "").strip()[:120],
                    str(city or "").strip()[:80],
                    _whole(year, 1000, 2100),
                    _whole(area, 1, 999_999),
                    uses[:200],
                    status[:60],
                    _bag_id(str(building or "").split(",")[0]),
                )


def _bag_id(value: Any) -> str:
    """A 16-digit BAG id from "0310010000012345", an integer, or "NL.IMBAG.Pand.0310…"."""
    text = str(value or "").strip().rsplit(".", 1)[-1]
    if text.isdigit() and len(text) <= 16:
        text = text.zfill(16)
    return text if BAG_ID_RE.match(text) else ""


def _whole(value: Any, low: int, high: int) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


SOURCES: dict[str, Callable[[Path], Any]] = {
    OpenDataKind.EP_ONLINE: EpOnlineSource,
    OpenDataKind.BAG: BagSource,
    OpenDataKind.CBS_AREAS: CbsAreaSource,
}


def open_source(kind: str, path: Path | str) -> Any:
    """The reader of a file of this kind; raises OpenDataFileError when it cannot be read."""
    return SOURCES[kind](Path(path))


def file_date_of(source: Any) -> dt.date:
    """The date the file says it is of, else the date it was last changed on disk."""
    if source.file_date is not None:
        return source.file_date
    changed = dt.datetime.fromtimestamp(os.stat(source.path).st_mtime, tz=dt.UTC)
    return timezone.localtime(changed).date()
