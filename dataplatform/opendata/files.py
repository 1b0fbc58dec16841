"""Read the national open-data files as streams of checked rows.

EP-Online's labels (CSV), CBS's areas per address (CSV) and the BAG light GeoPackage
(SQLite). Each reader checks the file when it is opened (OpenDataFileError: nothing is
imported) and then yields one tuple per usable row, first the row's line number; a bad
row is reported with its line number and skipped, never raised.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone

from dataplatform.models import OpenDataKind
from dossier.addresses import HOUSE_NUMBER_MAX, UNUSED_POSTCODE_LETTERS
from dossier.models import EnergyLabel

PROBLEMS_KEPT = 1000
# Rows per insert on SQLite, and how often the progress callback hears of the count.
BATCH_ROWS = 10_000

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
    """EP-Online's open data CSV: optional preamble lines, then `Pand_...` columns."""

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

    def rows(self, report: ImportReport) -> Iterator[tuple[Any, ...]]:
        columns = self.columns
        width = len(self.header)
        i_recorded, i_status, i_label, i_class, i_postcode, i_number = (
            columns[name] for name in EP_REQUIRED
        )
        i_registered, i_valid, i_suffix, i_bag, i_type, i_subtype, i_area = (
            columns.get(name, -1) for name in EP_OPTIONAL
        )
        dates: dict[str, str | None] = {"": None}

        def date_of(text: str) -> str | None:
            # Dates repeat a lot in a file of millions of rows: check each text once.
            try:
                return dates[text]
            except KeyError:
                parsed = None
                if len(text) == 8 and text.isdigit():
                    try:
                        parsed = dt.date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
                    except ValueError:
                        parsed = None
                dates[text] = parsed
                return parsed

        def optional(row: list[str], index: int) -> str:
            return row[index].strip() if index >= 0 else ""

        reader = self.reader
        for row in reader:
            if not row:
                continue
            report.rows_read += 1
            line = reader.line_num
            if len(row) != width:
                report.bad(line, f"{len(row)} fields instead of {width}")
                continue
            if row[i_status].strip().lower() == EP_NOT_A_LABEL:
                report.rows_skipped += 1
                continue
            if row[i_class].strip().upper() != EP_HOUSING:
                report.rows_skipped += 1
                continue
            postcode = row[i_postcode]
            if not POSTCODE_RE.match(postcode):
                postcode = _postcode(postcode)
            number_text = row[i_number]
            number = _house_number(number_text)
            problem = _address_problem(postcode, number_text, number)
            if problem:
                report.bad(line, problem)
                continue
            label = row[i_label].strip().upper()
            if label not in LABELS:
                report.bad(line, f"not a label class: {label[:10]!r}")
                continue
            recorded_text = row[i_recorded].strip()
            recorded = date_of(recorded_text)
            if recorded is None:
                report.bad(line, f"not a recording date (YYYYMMDD): {recorded_text[:12]!r}")
                continue
            registered_text = optional(row, i_registered)
            registered = date_of(registered_text)
            valid_text = optional(row, i_valid)
            valid_until = date_of(valid_text)
            if registered is None and registered_text:
                report.bad(line, f"not a registration date (YYYYMMDD): {registered_text[:12]!r}")
                continue
            if valid_until is None and valid_text:
                report.bad(line, f"not a valid-until date (YYYYMMDD): {valid_text[:12]!r}")
                continue
            suffix = optional(row, i_suffix)
            if suffix:
                suffix = NOT_ALNUM_RE.sub("", suffix).upper()
                if len(suffix) > 8:
                    report.bad(line, f"letter and addition too long: {suffix[:12]!r}")
                    continue
            bag_id = optional(row, i_bag)
            if bag_id and not BAG_ID_RE.match(bag_id):
                bag_id = ""
            area = optional(row, i_area).replace(",", ".")
            if area and not AREA_RE.match(area):
                area = ""
            report.rows_staged += 1
            yield (
                line,
                postcode,
                number,
                suffix,
                bag_id,
                label,
                recorded,
                registered,
                valid_until,
                optional(row, i_type)[:60],
                optional(row, i_subtype)[:60],
                area or None,
            )


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
