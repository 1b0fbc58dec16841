"""Importing an initiative's existing residents from a CSV or Excel file.

Four pages: upload, choose the columns, check every row, confirm. Nothing is written to
the database before the confirm step. Between the steps the file, as read, lives in the
private default storage under a random id (imports/<id>/), with a small JSON file of ids
only (who uploaded it, for which initiative, when). It is deleted after the import;
import_uploads_purge() deletes whatever is left after a day.

Each row becomes what a sign-up becomes: a dwelling (reused by address), the
initiative's household there, its dossier and an open case. An address where the
initiative already has a household with an open case is left alone, so importing the
same file again, or confirming twice, creates nothing new.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import json
import re
import unicodedata
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any
from xml.etree.ElementTree import ParseError

import openpyxl
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.validators import EmailValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from accounts import access
from accounts.models import Organisation
from accounts.roles import Role
from crm import pipeline, services
from crm.models import Case, CaseEvent, EventKind
from dossier import addresses
from dossier.dwellings import dwelling_at
from dossier.models import Dwelling, Household, YesNoUnknown
from dossier.services import dossier_create

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence

    from django.utils.functional import Promise

    from accounts.models import User

MB = 1024 * 1024
MAX_BYTES = 5 * MB
MAX_ROWS = 5000
MAX_COLUMNS = 100
# An .xlsx is a zip: a small file may unpack into a huge sheet (a zip bomb).
MAX_UNPACKED_BYTES = 100 * MB
# An upload that was never confirmed holds personal data for no purpose: gone after a day.
MAX_AGE = dt.timedelta(days=1)
FOLDER = "imports"
SAMPLES = 3
# What the timeline entry of an imported case records as its action.
IMPORT_ACTION = "import"

_XLSX_SIGNATURE = b"PK\x03\x04"
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (and old .doc)
_OTHER_SIGNATURES = (b"%PDF-", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"Rar!")
# C0 control characters other than tab, line feed, form feed and carriage return.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_DELIMITERS = (";", ",", "\t")


# The columns a coordinator can map ---------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A field of the import, and the column names (normalised) that usually hold it."""

    key: str
    label: str | Promise
    aliases: tuple[str, ...]


TARGETS: tuple[Target, ...] = tuple(
    Target(key, label, tuple(aliases.split()))
    for key, label, aliases in (
        (
            "name",
            gettext_lazy("Full name"),
            "naam volledigenaam naambewoner bewoner bewonersnaam contactnaam contactpersoon "
            "aanvrager relatie huishouden name fullname contactname resident household",
        ),
        (
            "first_name",
            gettext_lazy("First name"),
            "voornaam voornamen roepnaam voorletters firstname givenname forename",
        ),
        (
            "infix",
            gettext_lazy("Surname prefix (van, de, van der)"),
            "tussenvoegsel tussenvoegsels tussenv voorvoegsel infix surnameprefix",
        ),
        (
            "last_name",
            gettext_lazy("Last name"),
            "achternaam familienaam geslachtsnaam lastname surname familyname",
        ),
        (
            "postcode",
            gettext_lazy("Postcode"),
            "postcode pc zip zipcode postalcode postcodebewoner",
        ),
        (
            "house_number",
            gettext_lazy("House number"),
            "huisnummer huisnr nr nummer hnr housenumber number streetnumber no",
        ),
        ("house_letter", gettext_lazy("House letter"), "huisletter letter houseletter"),
        (
            "addition",
            gettext_lazy("Addition"),
            "toevoeging huisnummertoevoeging huisnrtoevoeging huisnrtoev toev huisnummertoev "
            "addition housenumberaddition suffix housenumbersuffix",
        ),
        (
            "street",
            gettext_lazy("Street"),
            "straat straatnaam adres straathuisnummer straatenhuisnummer street streetname address",
        ),
        (
            "city",
            gettext_lazy("Town"),
            "woonplaats plaats plaatsnaam stad city town residence",
        ),
        (
            "email",
            gettext_lazy("E-mail address"),
            "email emailadres mail mailadres emailaddress",
        ),
        (
            "phone",
            gettext_lazy("Phone number"),
            "telefoon telefoonnummer telefoonnr tel telnr mobiel mobielnummer mobieletelefoon "
            "gsm phone phonenumber telephone mobile mobilephone",
        ),
        (
            "wants_help_with",
            gettext_lazy("What they want help with"),
            "hulpvraag vraag wens wensen interesse interesses onderwerp adviesvraag "
            "waarwiltuhulpbij helpwith wantshelpwith question request interest",
        ),
        (
            "notes",
            gettext_lazy("Remarks"),
            "opmerking opmerkingen notitie notities memo toelichting bijzonderheden commentaar "
            "notes note remarks remark comments comment",
        ),
        (
            "is_member",
            gettext_lazy("Member of the initiative"),
            "lid islid lidmaatschap member ismember membership",
        ),
    )
)
TARGET_KEYS = tuple(target.key for target in TARGETS)
TARGET_LABELS = {target.key: target.label for target in TARGETS}
NAME_KEYS = ("name", "first_name", "last_name")
# Shorter aliases ("nr", "tel", "lid") only count as the whole column name: as part of a
# longer name they match too much.
_CONTAINS_MIN = 5


def normalise_header(text: str) -> str:
    """'E-mailadres ' and 'e_mail adres' both become 'emailadres'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


# Reading the file -------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """An uploaded sheet as text: the column names and each non-empty row with its number.

    The row number is the one the coordinator sees in Excel (the header is row 1 when it
    is the first line), so an error can be found again in their own file.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    kind: str  # "csv" or "xlsx"
    sheet: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "header": list(self.header),
            "rows": [[number, list(cells)] for number, cells in self.rows],
            "kind": self.kind,
            "sheet": self.sheet,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Table:
        return cls(
            header=tuple(data["header"]),
            rows=tuple((int(number), tuple(cells)) for number, cells in data["rows"]),
            kind=data["kind"],
            sheet=data.get("sheet", ""),
        )


_REFUSALS = {
    "too_large": gettext_lazy("The file is too large (at most %(size)d MB)."),
    "empty": gettext_lazy("The file is empty."),
    "wrong_type": gettext_lazy(
        "This file is not a CSV or Excel (.xlsx) file. Save the list from your spreadsheet "
        "program as CSV or as Excel workbook and try again."
    ),
    "xls": gettext_lazy(
        "This is an Excel file in the old format (.xls). Open it in Excel and save it as "
        "Excel workbook (.xlsx) or as CSV, then upload it again."
    ),
    "ods": gettext_lazy(
        "This is an OpenDocument spreadsheet (.ods). Save it as Excel workbook (.xlsx) or "
        "as CSV, then upload it again."
    ),
    "encoding": gettext_lazy(
        "The characters in this file could not be read. Save it as “CSV UTF-8” and try again."
    ),
    "unreadable": gettext_lazy(
        "This file could not be read. Open it in your spreadsheet program, save it again "
        "as CSV or Excel workbook (.xlsx) and try again."
    ),
    "no_header": gettext_lazy(
        "The first row must hold the column names (such as Name, Postcode, Huisnummer), "
        "but it looks like a resident's data. Add a row with column names at the top."
    ),
    "no_rows": gettext_lazy("The file has column names but no rows with residents below them."),
    "one_column": gettext_lazy(
        "The file has only one column. Are the columns separated by a semicolon (;) or a "
        "comma (,)? Save the list as CSV from your spreadsheet program and try again."
    ),
    "too_many_rows": gettext_lazy(
        "The file has more than %(max)s rows. Split it into smaller files and import them "
        "one after another."
    ),
    "too_many_columns": gettext_lazy("The file has more than %(max)s columns."),
}


def _refuse(code: str) -> ValidationError:
    params = {
        "size": MAX_BYTES // MB,
        "max": number_format(
            MAX_ROWS if code == "too_many_rows" else MAX_COLUMNS, force_grouping=True
        ),
    }
    return ValidationError(_REFUSALS[code], code=code, params=params)


def _cell_text(value: Any) -> str:
    """A cell as the text a person reads in it, never as something to evaluate."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        # A number typed into Excel comes back as 12.0; a house number is 12.
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    # An array formula is an object with its formula's text: text it stays.
    text = getattr(value, "text", value)
    return _clean_text(str(text))


def _clean_text(text: str) -> str:
    # Exports from old systems hold non-breaking spaces and stray control characters.
    text = text.replace("\xa0", " ").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", text).strip()


def _read_bytes(upload: IO[bytes]) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_BYTES:
        raise _refuse("too_large")
    upload.seek(0)
    # One byte more than allowed, so a wrong `size` cannot let a larger file through.
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _refuse("too_large")
    if not data.strip():
        raise _refuse("empty")
    return data


def _decode(data: bytes) -> str:
    """UTF-8 with or without a BOM, UTF-16 with a BOM, else Windows-1252 (old Excel)."""
    if data.startswith(codecs.BOM_UTF8):
        data, encodings = data[len(codecs.BOM_UTF8) :], ("utf-8",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text": UTF-16 with tabs between the columns.
        encodings = ("utf-16",)
    else:
        if b"\x00" in data[:8192]:
            raise _refuse("wrong_type")
        encodings = ("utf-8", "cp1252")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # A binary file that happens to decode still has control characters throughout.
        if len(_CONTROL_RE.findall(text[:65536])) > 2:
            raise _refuse("wrong_type")
        return text
    raise _refuse("encoding")


def _delimiter(text: str) -> str:
    """The separator that splits the first rows into the same number of columns."""
    best, best_score = ";", (-1, -1)
    for delimiter in _DELIMITERS:
        try:
            rows = [r for r in _take(csv.reader(io.StringIO(text), delimiter=delimiter), 50) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        score = (sum(len(r) == width for r in rows) if width > 1 else 0, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _take(iterator: Iterator[list[str]], count: int) -> list[list[str]]:
    rows = []
    for row in iterator:
        rows.append(row)
        if len(rows) >= count:
            break
    return rows


def _csv_rows(data: bytes) -> Generator[tuple[int, list[str]]]:
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        # A record is a row in Excel, even when a quoted cell spans several lines.
        for number, row in enumerate(reader, start=1):
            yield number, [_clean_text(cell) for cell in row]
    except csv.Error as exc:
        raise _refuse("unreadable") from exc


def _xlsx_rows(data: bytes) -> tuple[str, Generator[tuple[int, list[str]]]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            # Before anything is unpacked: the sizes the archive declares for its parts.
            if sum(entry.file_size for entry in entries) > MAX_UNPACKED_BYTES:
                raise _refuse("too_large")
            names = {entry.filename for entry in entries}
            is_ods = "mimetype" in names and b"opendocument.spreadsheet" in archive.read("mimetype")
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise _refuse("wrong_type") from exc
    if "xl/workbook.xml" not in names:
        raise _refuse("ods" if is_ods else "wrong_type")
    try:
        # read_only streams the sheet instead of building it in memory. data_only=False:
        # a formula cell gives its formula's text, which is stored as text. Nothing here
        # or later ever evaluates it, and a cached result from someone else's Excel is
        # not trusted either.
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        OSError,
        ParseError,
        TypeError,
    ) as exc:
        raise _refuse("unreadable") from exc
    # The sheet that was open when the file was saved, unless that is a chart.
    sheet = workbook.active
    if not hasattr(sheet, "iter_rows"):
        if not workbook.worksheets:
            workbook.close()
            raise _refuse("no_rows")
        sheet = workbook.worksheets[0]
    # Some programs write a wrong "used range"; read what is really there.
    sheet.reset_dimensions()

    def rows() -> Generator[tuple[int, list[str]]]:
        try:
            for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), 1):
                yield number, [_cell_text(value) for value in values]
        except (KeyError, ValueError, OSError, ParseError, TypeError, zipfile.BadZipFile) as exc:
            raise _refuse("unreadable") from exc
        finally:
            workbook.close()

    return sheet.title, rows()


def _looks_like_data(cell: str) -> bool:
    return addresses.is_valid_postcode(addresses.normalise_postcode(cell)) or bool(
        re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-zA-Z]{2,}", cell)
    )


def table_read(upload: IO[bytes]) -> Table:
    """The uploaded CSV or .xlsx file as a Table; a ValidationError (with a code) if it is not one.

    What the file is comes from its content; its name and content type are whatever the
    browser says.
    """
    data = _read_bytes(upload)
    if data.startswith(_OLE2_SIGNATURE):
        raise _refuse("xls")
    if data.startswith(_OTHER_SIGNATURES):
        raise _refuse("wrong_type")
    if data.startswith(_XLSX_SIGNATURE):
        kind = "xlsx"
        sheet, source = _xlsx_rows(data)
    else:
        kind, sheet, source = "csv", "", _csv_rows(data)
    header: list[str] | None = None
    rows: list[tuple[int, tuple[str, ...]]] = []
    width = 0
    # closing(): a refusal halfway still closes the workbook behind the rows.
    with contextlib.closing(source):
        for number, cells in source:
            while cells and not cells[-1]:
                cells.pop()
            if not cells:
                continue
            if len(cells) > MAX_COLUMNS:
                raise _refuse("too_many_columns")
            if header is None:
                header = cells
            else:
                if len(rows) >= MAX_ROWS:
                    raise _refuse("too_many_rows")
                rows.append((number, tuple(cells)))
            width = max(width, len(cells))
    if header is None:
        raise _refuse("empty")
    if any(_looks_like_data(cell) for cell in header):
        raise _refuse("no_header")
    if not rows:
        raise _refuse("no_rows")
    if width < 2:
        raise _refuse("one_column")
    # Every row as wide as the widest: a column without a name is still a column.
    pad = [""] * width
    return Table(
        header=tuple([*header, *pad][:width]),
        rows=tuple((number, tuple([*cells, *pad][:width])) for number, cells in rows),
        kind=kind,
        sheet=sheet,
    )


# Columns and the guess of which is which ---------------------------------------------------


@dataclass(frozen=True)
class Column:
    index: int
    letter: str
    name: str
    samples: tuple[str, ...]

    @property
    def label(self) -> str:
        name = self.name or _("(no name)")
        return f"{self.letter}: {name}"

    @property
    def choice_label(self) -> str:
        """The label with two examples, so the choice can be made from the list alone."""
        if not self.samples:
            return self.label
        examples = ", ".join(sample[:20] for sample in self.samples[:2])
        return f"{self.label} ({examples})"


def table_columns(table: Table) -> list[Column]:
    """Each column with its letter, its name and a few example values."""
    columns = []
    for index, name in enumerate(table.header):
        samples: list[str] = []
        for _number, cells in table.rows[:200]:
            value = cells[index]
            if value and value not in samples:
                samples.append(value if len(value) <= 40 else value[:39] + "…")
            if len(samples) >= SAMPLES:
                break
        columns.append(
            Column(
                index=index, letter=get_column_letter(index + 1), name=name, samples=tuple(samples)
            )
        )
    return columns


def mapping_guess(table: Table) -> dict[str, int]:
    """The column for each field, judged by the column names; unknown fields are left out."""
    order = {key: position for position, key in enumerate(TARGET_KEYS)}
    candidates = []
    for index, raw in enumerate(table.header):
        name = normalise_header(raw)
        if not name:
            continue
        for target in TARGETS:
            for alias in target.aliases:
                if name == alias:
                    score = 2
                elif len(alias) >= _CONTAINS_MIN and alias in name:
                    score = 1
                else:
                    continue
                candidates.append((-score, -len(alias), index, order[target.key], target.key))
    mapping: dict[str, int] = {}
    used: set[int] = set()
    # Exact names first, then the longest alias ("achternaam" over "naam"), then the
    # leftmost column.
    for _score, _length, index, _order, key in sorted(candidates):
        if key not in mapping and index not in used:
            mapping[key] = index
            used.add(index)
    if "house_number" not in mapping and "street" in mapping:
        # One "Adres" column with "Kerkstraat 12a" in it: street and number from one cell.
        values = [cells[mapping["street"]] for _n, cells in table.rows[:50]]
        values = [v for v in values if v]
        if values and sum(bool(split_street(v)) for v in values) * 2 >= len(values):
            mapping["house_number"] = mapping["street"]
    return mapping


def mapping_problems(mapping: Mapping[str, int | None]) -> list[tuple[str, str]]:
    """What is wrong with a choice of columns, as (field, code) pairs; empty when it will do."""
    problems = []
    for key in ("postcode", "house_number"):
        if mapping.get(key) is None:
            problems.append((key, "required"))
    if all(mapping.get(key) is None for key in NAME_KEYS):
        problems.append(("name", "name_required"))
    seen: dict[int, str] = {}
    for key in TARGET_KEYS:
        index = mapping.get(key)
        if index is None:
            continue
        first = seen.get(index)
        # "Kerkstraat 12a" in one column is the one column that may serve two fields.
        if first is not None and {first, key} != {"street", "house_number"}:
            problems.append((key, "column_twice"))
        seen.setdefault(index, key)
    return problems


# Checking the rows -----------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    postcode: str
    house_number: int
    house_letter: str = ""
    addition: str = ""

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.postcode, self.house_number, self.house_letter, self.addition)

    def spellings(self) -> list[tuple[str, int, str, str]]:
        """This address as it may already be stored, its own spelling first.

        "12 A" is a house letter in the BAG, but people type it as an addition too (and
        the sign-up form has both fields): a dwelling stored either way is this one.
        """
        keys = [self.key]
        if self.house_letter and not self.addition:
            keys.append((self.postcode, self.house_number, "", self.house_letter))
        return keys

    def display(self, street: str = "", city: str = "") -> str:
        suffix = f"-{self.addition}" if self.addition else ""
        number = f"{self.house_number}{self.house_letter}{suffix}"
        line = f"{street} {number}".strip()
        return f"{line}, {self.postcode[:4]} {self.postcode[4:]} {city}".strip()


@dataclass(frozen=True)
class RowError:
    field: str
    code: str
    message: str

    @property
    def label(self) -> str:
        return str(TARGET_LABELS.get(self.field, ""))


class Outcome:
    """What the import does with a row."""

    NEW = "new"
    EXISTING_HOUSEHOLD = "existing_household"
    OPEN_CASE = "open_case"
    DUPLICATE = "duplicate"
    ERROR = "error"

    IMPORTED = frozenset({NEW, EXISTING_HOUSEHOLD})
    SKIPPED = frozenset({OPEN_CASE, DUPLICATE, ERROR})


@dataclass
class RowCheck:
    """One row as it will be imported, what is wrong with it, and what will happen to it."""

    row: int
    # The row's cells per field, as in the file: what the preview shows of a row that
    # could not be read.
    source: Mapping[str, str] = field(default_factory=dict)
    name: str = ""
    address: Address | None = None
    street: str = ""
    city: str = ""
    email: str = ""
    phone: str = ""
    wants_help_with: str = ""
    notes: str = ""
    is_member: str = ""
    errors: list[RowError] = field(default_factory=list)
    outcome: str = Outcome.NEW
    duplicate_of: int | None = None
    dwelling: Dwelling | None = None
    household: Household | None = None
    # A new household where one of the initiative already lives: it becomes a case of
    # its own, marked "at a known address" (services.signup_household).
    known_address: bool = False

    @property
    def name_display(self) -> str:
        if self.name:
            return self.name
        parts = ("name", "first_name", "infix", "last_name")
        return " ".join(self.source[key] for key in parts if self.source.get(key))

    @property
    def address_display(self) -> str:
        if self.address is not None:
            return self.address.display(self.street, self.city)
        parts = ("street", "house_number", "house_letter", "addition", "postcode", "city")
        values = [self.source[key] for key in parts if self.source.get(key)]
        # Street and number may be one column, chosen for both fields.
        return " ".join(dict.fromkeys(values))

    def error(self, key: str, error: ValidationError | str, code: str = "") -> None:
        if isinstance(error, ValidationError):
            message, code = error.messages[0], error.code or code
        else:
            message = error
        self.errors.append(RowError(field=key, code=code, message=message))


# "12", "12a", "12 A", "12-2", "12a-1", "12 bis", "12/3": number, house letter, addition.
_NUMBER = (
    r"(?P<number>\d{1,6})\s*(?P<letter>[A-Za-z](?![A-Za-z0-9]))?"
    r"(?:[\s\-/]*(?P<addition>[A-Za-z0-9]{1,6}))?"
)
NUMBER_RE = re.compile(rf"^{_NUMBER}$")
# The house number is the last number in the cell ("1e Hogeweg 12"). A street that then
# still ends in a number ("Plein 1944 7", or "Kerkstraat 12 2" for 12-2) is ambiguous:
# the row gets an error rather than a guess.
STREET_RE = re.compile(rf"^(?P<street>.*[^\W\d_].*)\s+{_NUMBER}$")
STREET_MAX = 150
_PHONE_RE = re.compile(r"^\+?[0-9(][0-9\s\-().\/]*$")
_STRICT = frozenset({"postcode", "house_number", "house_letter", "addition", "email", "phone"})
_YES = frozenset({"ja", "j", "yes", "y", "1", "true", "waar", "x", "lid"})
_NO = frozenset({"nee", "n", "no", "0", "false", "onwaar", "geenlid"})
_validate_email = EmailValidator()
EMAIL_MAX = Case._meta.get_field("contact_email").max_length or 254


def split_street(value: str) -> tuple[str, re.Match[str]] | None:
    """'Kerkstraat 12a' as ('Kerkstraat', the number's match); None for anything else."""
    value = " ".join(value.split())
    # No street and number is this long; a long cell would only make the pattern slow.
    if len(value) > STREET_MAX:
        return None
    match = STREET_RE.match(value)
    return (match["street"], match) if match else None


def _phone(value: str) -> str:
    value = " ".join(value.split())
    if not _PHONE_RE.match(value):
        raise ValidationError(_("Enter a phone number of digits only."), code="invalid_phone")
    digits = re.sub(r"\D", "", value)
    if len(digits) == 9 and value[0] not in "0+":
        # A spreadsheet that took 0612345678 for a number dropped its leading zero.
        value, digits = "0" + value, "0" + digits
    if not 10 <= len(digits) <= 15:
        raise ValidationError(
            _("A phone number has 10 digits (or more, with a country code)."),
            code="invalid_phone",
        )
    if len(value) > 20:
        value = ("+" if value.startswith("+") else "") + digits
    return value


def _member(value: str) -> str:
    word = normalise_header(value)
    if word in _YES:
        return YesNoUnknown.YES
    if word in _NO:
        return YesNoUnknown.NO
    raise ValidationError(_("Write yes or no (ja or nee)."), code="invalid_member")


def _too_long(check: RowCheck, key: str, value: str, limit: int) -> str:
    if len(value) > limit:
        check.error(
            key,
            _("Keep it under %(max)s characters.") % {"max": limit},
            code="max_length",
        )
    return value


def _address(check: RowCheck, cells: Mapping[str, str], combined: bool) -> None:
    postcode = addresses.normalise_postcode(cells["postcode"])
    if not postcode:
        check.error("postcode", _("The postcode is missing."), code="required")
    else:
        try:
            addresses.validate_postcode(postcode)
        except ValidationError as error:
            check.error("postcode", error)
    raw_number = " ".join(cells["house_number"].split())
    match = None
    if combined:
        split = split_street(raw_number)
        if split is not None and split[0][-1].isdigit():
            check.error(
                "house_number",
                _(
                    "It is not clear which part is the house number. Write it as Kerkstraat "
                    "12-2, or put the house number in a column of its own."
                ),
                code="ambiguous_address",
            )
            return
        if split is not None:
            check.street, match = split[0], split[1]
    else:
        match = NUMBER_RE.match(raw_number)
    number = 0
    letter = addition = ""
    if not raw_number:
        check.error("house_number", _("The house number is missing."), code="required")
    elif match is None or not 1 <= int(match["number"]) <= addresses.HOUSE_NUMBER_MAX:
        check.error(
            "house_number",
            _("Enter a house number such as 12, 12a or 12-2."),
            code="invalid_house_number",
        )
    else:
        number = int(match["number"])
        letter = (match["letter"] or "").upper()
        addition = addresses.normalise_addition(match["addition"] or "")
    if extra_letter := cells["house_letter"].strip().upper():
        if letter and letter != extra_letter:
            check.error(
                "house_letter",
                _("The house number and the house letter column disagree."),
                code="letter_conflict",
            )
        letter = extra_letter
    if extra := addresses.normalise_addition(cells["addition"]):
        if addition and addition != extra:
            check.error(
                "addition",
                _("The house number and the addition column disagree."),
                code="addition_conflict",
            )
        addition = extra
    # One letter in a "Toevoeging" column is nearly always the BAG house letter (12 a).
    if len(addition) == 1 and addition.isalpha() and not letter:
        letter, addition = addition, ""
    for key, value, validate in (
        ("house_letter", letter, addresses.validate_house_letter),
        ("addition", addition, addresses.validate_addition),
    ):
        try:
            validate(value)
        except ValidationError as error:
            check.error(key, error)
    if not check.errors and number:
        check.address = Address(postcode, number, letter, addition)


def row_check(number: int, cells: Mapping[str, str], *, combined: bool = False) -> RowCheck:
    """Check one row's values (field key -> cell text); combined: street and number in one cell."""
    check = RowCheck(row=number, source=cells)
    for key in _STRICT:
        if cells[key].startswith("="):
            check.error(
                key,
                _("This cell holds a formula. Copy the column and paste it as values."),
                code="formula",
            )
    if check.errors:
        check.outcome = Outcome.ERROR
        return check
    name = " ".join(cells["name"].split()) or " ".join(
        " ".join(cells[key].split()) for key in ("first_name", "infix", "last_name") if cells[key]
    )
    if not name:
        check.error("name", _("The name is missing."), code="name_required")
    check.name = _too_long(check, "name", name, Household._meta.get_field("name").max_length)
    _address(check, cells, combined)
    if not combined:
        check.street = " ".join(cells["street"].split())
    check.street = _too_long(check, "street", check.street, 120)
    check.city = _too_long(check, "city", " ".join(cells["city"].split()), 80)
    if email := cells["email"].strip():
        try:
            if len(email) > EMAIL_MAX:
                raise ValidationError("too long")
            _validate_email(email)
        except ValidationError:
            check.error("email", _("Enter a valid e-mail address."), code="invalid_email")
        else:
            check.email = email
    if phone := cells["phone"]:
        try:
            check.phone = _phone(phone)
        except ValidationError as error:
            check.error("phone", error)
    check.wants_help_with = _too_long(check, "wants_help_with", cells["wants_help_with"], 2000)
    check.notes = _too_long(check, "notes", cells["notes"], services.TEXT_MAX)
    if member := cells["is_member"]:
        try:
            check.is_member = _member(member)
        except ValidationError as error:
            check.error("is_member", error)
    if check.errors:
        check.outcome = Outcome.ERROR
    return check


def _chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    # SQLite limits the parameters of one query.
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _match_existing(initiative_id: int, checks: Iterable[RowCheck]) -> None:
    """Find each row's dwelling and the initiative's household there, in a few queries."""
    wanted = [c for c in checks if c.address is not None]
    postcodes = sorted({c.address.postcode for c in wanted if c.address})
    dwellings: dict[tuple[str, int, str, str], Dwelling] = {}
    for chunk in _chunks(postcodes):
        for dwelling in Dwelling.objects.filter(postcode__in=chunk):
            key = (
                dwelling.postcode,
                dwelling.house_number,
                dwelling.house_letter,
                dwelling.house_number_addition,
            )
            dwellings[key] = dwelling
    ids = sorted(d.pk for d in dwellings.values())
    # Per dwelling, the initiative's households living there.
    households: dict[int, list[Household]] = {}
    open_cases: set[int] = set()
    for chunk in _chunks(ids):
        for household in Household.objects.filter(
            initiative_id=initiative_id, dwelling_id__in=chunk, ended_at__isnull=True
        ).order_by("pk"):
            households.setdefault(household.dwelling_id, []).append(household)
    living = [h for found in households.values() for h in found]
    for chunk in _chunks(sorted(h.pk for h in living)):
        open_cases.update(
            Case.objects.filter(household_id__in=chunk)
            .exclude(status__in=pipeline.ENDED)
            .values_list("household_id", flat=True)
        )
    for check in wanted:
        assert check.address is not None
        found = [dwellings[k] for k in check.address.spellings() if k in dwellings]
        check.dwelling = next((d for d in found if d.pk in households), found[0] if found else None)
        there = households.get(check.dwelling.pk, []) if check.dwelling else []
        # The row's person is a household there only by its e-mail address (or phone),
        # never by the address alone: the file may be older than the last move.
        check.household = services.household_of_contact(
            households=there, email=check.email, phone=check.phone
        )
        check.known_address = bool(there) and check.household is None
        if check.household is None:
            check.outcome = Outcome.NEW
        elif check.household.pk in open_cases:
            check.outcome = Outcome.OPEN_CASE
        else:
            check.outcome = Outcome.EXISTING_HOUSEHOLD


@dataclass(frozen=True)
class Preview:
    rows: list[RowCheck]

    @property
    def counts(self) -> Counter[str]:
        return Counter(row.outcome for row in self.rows)

    @property
    def to_import(self) -> int:
        counts = self.counts
        return counts[Outcome.NEW] + counts[Outcome.EXISTING_HOUSEHOLD]

    @property
    def skipped(self) -> int:
        return len(self.rows) - self.to_import


def rows_check(*, table: Table, mapping: Mapping[str, int | None], initiative_id: int) -> Preview:
    """Every row checked, and what the import would do with it now. Writes nothing."""
    combined = mapping.get("street") is not None and mapping.get("street") == mapping.get(
        "house_number"
    )
    checks = []
    for number, cells in table.rows:
        values = {
            key: cells[index] if (index := mapping.get(key)) is not None else ""
            for key in TARGET_KEYS
        }
        checks.append(row_check(number, values, combined=combined))
    first_at: dict[tuple[str, int, str, str], int] = {}
    for check in checks:
        if check.outcome == Outcome.ERROR or check.address is None:
            continue
        # The same address twice in one file is one household: the first row counts.
        keys = check.address.spellings()
        earlier = next((first_at[k] for k in keys if k in first_at), None)
        if earlier is not None:
            check.outcome, check.duplicate_of = Outcome.DUPLICATE, earlier
        else:
            first_at.update(dict.fromkeys(keys, check.row))
    _match_existing(initiative_id, [c for c in checks if c.outcome == Outcome.NEW])
    return Preview(rows=checks)


# The upload between the steps ------------------------------------------------------------


@dataclass(frozen=True)
class ImportState:
    """How far an import is, and what it did so far, by row number.

    Holds no personal data: it outlives the file. `last_case` is the last case the most
    recent batch opened; if that case is not in the database, the batch was rolled back
    after this state was written, and the state before it stands.
    """

    started_at: dt.datetime
    total: int
    position: int = 0
    finished_at: dt.datetime | None = None
    new_households: int = 0
    existing_households: int = 0
    open_case_rows: tuple[int, ...] = ()
    duplicate_rows: tuple[tuple[int, int], ...] = ()
    error_rows: tuple[tuple[int, tuple[RowError, ...]], ...] = ()
    last_case: int | None = None
    # Not stored: set when a confirm finds the import finished already.
    already_done: bool = False

    @property
    def done(self) -> bool:
        return self.finished_at is not None

    @property
    def cases(self) -> int:
        return self.new_households + self.existing_households

    @property
    def skipped_known(self) -> int:
        return len(self.open_case_rows) + len(self.duplicate_rows)

    @property
    def percent(self) -> int:
        return 100 * self.position // self.total if self.total else 100

    @property
    def skipped_rows(self) -> list[tuple[int, str, tuple[RowError, ...], int | None]]:
        """Every skipped row by number: (row, outcome, its errors, the row it repeats)."""
        rows = [(row, Outcome.ERROR, errors, None) for row, errors in self.error_rows]
        rows += [(row, Outcome.OPEN_CASE, (), None) for row in self.open_case_rows]
        rows += [(row, Outcome.DUPLICATE, (), first) for row, first in self.duplicate_rows]
        return sorted(rows, key=lambda item: item[0])

    def as_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "total": self.total,
            "position": self.position,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "new_households": self.new_households,
            "existing_households": self.existing_households,
            "open_case_rows": list(self.open_case_rows),
            "duplicate_rows": [list(pair) for pair in self.duplicate_rows],
            "error_rows": [
                [row, [[e.field, e.code, e.message] for e in errors]]
                for row, errors in self.error_rows
            ],
            "last_case": self.last_case,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportState:
        finished = data["finished_at"]
        return cls(
            started_at=dt.datetime.fromisoformat(data["started_at"]),
            total=data["total"],
            position=data["position"],
            finished_at=dt.datetime.fromisoformat(finished) if finished else None,
            new_households=data["new_households"],
            existing_households=data["existing_households"],
            open_case_rows=tuple(data["open_case_rows"]),
            duplicate_rows=tuple((row, first) for row, first in data["duplicate_rows"]),
            error_rows=tuple(
                (row, tuple(RowError(*error) for error in errors))
                for row, errors in data["error_rows"]
            ),
            last_case=data["last_case"],
        )


class UploadGone(Exception):
    """The upload's rows were deleted (cancelled, or older than a day) before it was imported."""


@dataclass(frozen=True)
class ImportUpload:
    """An uploaded file between the steps: whose it is, for which initiative, and how far."""

    id: str
    user_id: int
    initiative_id: int
    created_at: dt.datetime
    kind: str
    sheet: str
    row_count: int
    mapping: dict[str, int] | None = None
    state: ImportState | None = None

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return (now or timezone.now()) - self.created_at > MAX_AGE


_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _path(upload_id: str, name: str) -> str:
    return f"{FOLDER}/{upload_id}/{name}"


def _write_json(name: str, data: Any) -> None:
    # Storage.save() never overwrites: it would pick another name instead.
    if default_storage.exists(name):
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(json.dumps(data).encode()))
    if saved != name:
        raise RuntimeError("the storage renamed an import file")


def _read_json(name: str) -> Any:
    if not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as handle:
        return json.loads(handle.read())


def _state_read(upload_id: str) -> ImportState | None:
    data = _read_json(_path(upload_id, "state.json"))
    if data is None:
        return None
    current = data["current"]
    if (
        current["last_case"] is not None
        and not Case.objects.filter(pk=current["last_case"]).exists()
    ):
        current = data["previous"]
    return ImportState.from_json(current) if current is not None else None


def import_upload_start(*, upload: IO[bytes], initiative: Organisation, user: User) -> ImportUpload:
    """Read the uploaded file and keep it for the next steps; ValidationError if it will not do."""
    table = table_read(upload)
    # Random: the id is in the page addresses, and the file's own name may hold a name.
    upload_id = str(uuid.uuid4())
    created_at = timezone.now()
    _write_json(_path(upload_id, "table.json"), table.as_json())
    meta = {
        "user": user.pk,
        "initiative": initiative.pk,
        "created_at": created_at.isoformat(),
        "kind": table.kind,
        "sheet": table.sheet,
        "rows": len(table.rows),
    }
    # Last: a folder without meta.json is an unfinished upload that nobody can open.
    _write_json(_path(upload_id, "meta.json"), meta)
    return ImportUpload(
        id=upload_id,
        user_id=user.pk,
        initiative_id=initiative.pk,
        created_at=created_at,
        kind=table.kind,
        sheet=table.sheet,
        row_count=len(table.rows),
    )


def import_upload_get(*, upload_id: str, user: User) -> ImportUpload | None:
    """The upload, if this user made it and still coordinates its initiative; else None."""
    if not _ID_RE.match(upload_id):
        return None
    meta = _read_json(_path(upload_id, "meta.json"))
    if meta is None or meta["user"] != user.pk:
        return None
    if meta["initiative"] not in access.organisations_with_role(user, {Role.COORDINATOR}):
        return None
    return ImportUpload(
        id=upload_id,
        user_id=meta["user"],
        initiative_id=meta["initiative"],
        created_at=dt.datetime.fromisoformat(meta["created_at"]),
        kind=meta["kind"],
        sheet=meta["sheet"],
        row_count=meta["rows"],
        mapping=_read_json(_path(upload_id, "mapping.json")),
        state=_state_read(upload_id),
    )


def import_table(upload: ImportUpload) -> Table | None:
    """The upload's rows; None once they have been imported and deleted."""
    data = _read_json(_path(upload.id, "table.json"))
    return Table.from_json(data) if data is not None else None


def import_mapping_save(*, upload: ImportUpload, mapping: Mapping[str, int | None]) -> None:
    if upload.state is not None:
        raise ValueError("the import has started: its columns are fixed")
    _write_json(
        _path(upload.id, "mapping.json"),
        {key: index for key, index in mapping.items() if index is not None},
    )


def import_preview(*, upload: ImportUpload) -> Preview | None:
    """What importing the upload would do now, row by row; None when its rows are gone."""
    table = import_table(upload)
    if table is None or upload.mapping is None:
        return None
    return rows_check(table=table, mapping=upload.mapping, initiative_id=upload.initiative_id)


def import_upload_delete(*, upload_id: str) -> None:
    """Delete an upload's files (its rows, its column choice and its progress)."""
    folder = f"{FOLDER}/{upload_id}"
    try:
        _dirs, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")
    # The file system keeps the empty folder; object storage has none to delete.
    with contextlib.suppress(OSError):
        default_storage.delete(folder)


def import_uploads_purge(*, now: dt.datetime | None = None) -> int:
    """Delete every upload older than a day, imported or not; returns how many.

    Meant for a periodic task (hourly): an upload that was never confirmed would
    otherwise keep residents' data in storage for no purpose.
    """
    now = now or timezone.now()
    try:
        folders, _files = default_storage.listdir(FOLDER)
    except FileNotFoundError:
        return 0
    deleted = 0
    for upload_id in folders:
        meta = _read_json(_path(upload_id, "meta.json"))
        if meta is not None:
            created = dt.datetime.fromisoformat(meta["created_at"])
        else:
            # An unfinished upload: judge it by its rows file, or delete what is there.
            name = _path(upload_id, "table.json")
            created = (
                default_storage.get_modified_time(name)
                if default_storage.exists(name)
                else now - MAX_AGE * 2
            )
        if now - created > MAX_AGE:
            import_upload_delete(upload_id=upload_id)
            deleted += 1
    return deleted


# The import itself -------------------------------------------------------------------------

# Rows imported per request: each one goes through the same services as a sign-up (a
# few dozen queries and audit entries), so a file of thousands is imported in batches of
# a few seconds each rather than in one request that would outlast the web server's
# timeout and hold SQLite's one write lock all that time.
BATCH = 100


def _household(check: RowCheck, initiative: Organisation) -> Household:
    """The row's household: the one the preview matched, or as a sign-up would place it."""
    if check.household is not None:
        return check.household
    address = check.address
    assert address is not None
    # The spelling of the address already in the database, if any (the preview found it).
    dwelling = dwelling_at(
        postcode=check.dwelling.postcode if check.dwelling else address.postcode,
        house_number=check.dwelling.house_number if check.dwelling else address.house_number,
        house_letter=check.dwelling.house_letter if check.dwelling else address.house_letter,
        addition=check.dwelling.house_number_addition if check.dwelling else address.addition,
        street=check.street,
        city=check.city,
        lock=True,
    )
    return services.signup_household(
        initiative=initiative,
        dwelling=dwelling,
        name=check.name,
        contact_email=check.email,
        contact_phone=check.phone,
    )


def _import_row(check: RowCheck, initiative: Organisation, actor: User) -> Case | None:
    """Import one checked row; None when its household turned out to have an open case."""
    household = _household(check, initiative)
    dossier_create(household=household)
    if Case.objects.filter(household=household).exclude(status__in=pipeline.ENDED).exists():
        return None
    # No privacy statement version and no acceptance time: the resident did not accept
    # this initiative's statement online, and recording one would claim they did. The
    # initiative had these data already, under its own relationship with the resident
    # (membership, an earlier request); the coordinator informs the resident of the
    # statement at the first contact. The import entry below says where the case came from.
    case = services.case_open(
        household=household,
        actor=actor,
        contact_email=check.email,
        contact_phone=check.phone,
        wants_help_with=check.wants_help_with,
        is_member=check.is_member,
    )
    CaseEvent.objects.create(
        case=case,
        kind=EventKind.NOTE,
        actor=actor,
        action=IMPORT_ACTION,
        text=_(
            "Imported from a file of existing residents (row %(row)s). No e-mail was sent to "
            "the resident, and no privacy statement was accepted online."
        )
        % {"row": check.row},
    )
    if check.notes:
        services.case_note_add(case=case, actor=actor, kind=EventKind.NOTE, text=check.notes)
    return case


def residents_import(*, upload: ImportUpload, actor: User, batch: int | None = None) -> ImportState:
    """Import the next batch of the upload's valid rows; the state of the import after it.

    Call again until the state is done; a finished import imports nothing more. Rows with
    errors, rows repeating an earlier row's address and addresses where the initiative
    has a household with an open case are skipped. No e-mail is sent: these residents
    did not sign up through the form.
    """
    if upload.mapping is None:
        raise ValueError("choose the columns before importing")
    batch = batch or BATCH
    with transaction.atomic():
        # Imports into one initiative wait for each other here (PostgreSQL; on SQLite
        # the request's IMMEDIATE transaction already does). A double submit therefore
        # finds the first one's state and goes on from there, and every row is imported
        # once; the open cases a row would make stop a duplicate even without the lock.
        initiative = Organisation.objects.select_for_update().get(pk=upload.initiative_id)
        before = _state_read(upload.id)
        if before is not None and before.done:
            return replace(before, already_done=True)
        table = import_table(upload)
        if table is None:
            raise UploadGone
        preview = rows_check(table=table, mapping=upload.mapping, initiative_id=initiative.pk)
        state = before or ImportState(started_at=timezone.now(), total=len(preview.rows))
        counts = {
            Outcome.NEW: state.new_households,
            Outcome.EXISTING_HOUSEHOLD: state.existing_households,
        }
        open_case_rows = list(state.open_case_rows)
        duplicate_rows = list(state.duplicate_rows)
        error_rows = list(state.error_rows)
        position, imported, last_case = state.position, 0, None
        while position < len(preview.rows) and imported < batch:
            check = preview.rows[position]
            position += 1
            if check.outcome == Outcome.OPEN_CASE:
                open_case_rows.append(check.row)
            elif check.outcome == Outcome.DUPLICATE:
                duplicate_rows.append((check.row, check.duplicate_of or 0))
            elif check.outcome == Outcome.ERROR:
                error_rows.append((check.row, tuple(check.errors)))
            if check.outcome not in Outcome.IMPORTED:
                continue
            imported += 1
            try:
                with transaction.atomic():
                    case = _import_row(check, initiative, actor)
            except (ValidationError, IntegrityError):
                # Whatever the check did not foresee costs this row, not the whole file.
                message = _("This row could not be imported.")
                error_rows.append((check.row, (RowError("", "not_imported", message),)))
                continue
            if case is None:
                open_case_rows.append(check.row)
            else:
                counts[check.outcome] += 1
                last_case = case.pk
        after = replace(
            state,
            position=position,
            finished_at=timezone.now() if position >= len(preview.rows) else None,
            new_households=counts[Outcome.NEW],
            existing_households=counts[Outcome.EXISTING_HOUSEHOLD],
            open_case_rows=tuple(sorted(open_case_rows)),
            duplicate_rows=tuple(sorted(duplicate_rows)),
            error_rows=tuple(sorted(error_rows, key=lambda item: item[0])),
            last_case=last_case,
        )
        # Written before the commit, so a request waiting on the lock finds it; if this
        # transaction rolls back after all, last_case is not in the database and the
        # state before this batch stands (see _state_read).
        _write_json(
            _path(upload.id, "state.json"),
            {"current": after.as_json(), "previous": before.as_json() if before else None},
        )
        if after.done:
            # The residents' rows are no longer needed once they are committed.
            table_name = _path(upload.id, "table.json")
            transaction.on_commit(lambda: default_storage.delete(table_name), robust=True)
    return after
