"""The formula-safe CSV and XLSX writer: text stays text, numbers and dates stay typed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import stat
import tempfile
import time
from decimal import Decimal

import openpyxl
import pytest
from auditlog.models import LogEntry
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import exports
from tests import builders

DANGEROUS = [
    '=HYPERLINK("http://x")',
    "+31 6 12345678",
    "-1",
    "@SUM(A1:A2)",
    "\tcmd",
    "\rcmd",
    "=1+1",
]
SAFE = ["Familie Alfa", "Koude zolder; tocht", "3731", "1+1", "a=b"]


def xlsx_cells(header, rows) -> list[list[openpyxl.cell.Cell]]:
    buffer = io.BytesIO()
    exports.xlsx_write(buffer, header, rows, sheet="Test")
    buffer.seek(0)
    sheet = openpyxl.load_workbook(buffer).active
    return [list(row) for row in sheet.iter_rows()]


def as_excel_shows(value: str) -> str:
    """The text as Excel reads it: XML cannot hold a CR or NUL, so the file escapes them
    as _x000D_ and _x0000_, which Excel decodes and openpyxl leaves as they are."""
    return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def csv_text(header, rows) -> str:
    return "".join(exports.csv_lines(header, rows))


# The rule --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", DANGEROUS)
def test_it_prefixes_text_that_a_spreadsheet_would_read_as_a_formula(value):
    assert exports.safe_text(value) == "'" + value


@pytest.mark.parametrize("value", [*SAFE, "", "'=already quoted"])
def test_it_leaves_other_text_alone(value):
    assert exports.safe_text(value) == value


# XLSX ------------------------------------------------------------------------------------


def test_xlsx_keeps_formula_like_text_as_prefixed_text():
    [_header, row] = xlsx_cells(["Tekst"] * len(DANGEROUS), [DANGEROUS])
    assert [as_excel_shows(cell.value) for cell in row] == ["'" + value for value in DANGEROUS]
    assert {cell.data_type for cell in row} == {"s"}


def test_xlsx_keeps_its_temporary_rows_in_a_private_folder_that_is_gone_afterwards(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[tuple[str, int]] = []

    def rows():
        [scratch] = tmp_path.glob(f"{exports.XLSX_SCRATCH_PREFIX}*")
        seen.append((scratch.name, stat.S_IMODE(scratch.stat().st_mode)))
        yield ["Familie Alfa"]

    assert xlsx_cells(["Naam"], rows())[1][0].value == "Familie Alfa"
    assert seen and seen[0][1] == 0o700
    assert list(tmp_path.iterdir()) == []


def test_a_scratch_folder_left_by_a_killed_worker_is_deleted_by_the_next_export(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    left = tmp_path / f"{exports.XLSX_SCRATCH_PREFIX}dead"
    left.mkdir()
    (left / "rows").write_text("Familie Alfa")
    hour_ago = time.time() - exports.XLSX_SCRATCH_STALE_SECONDS - 1
    os.utime(left, (hour_ago, hour_ago))
    # One still in use by another export (just made) stays.
    busy = tmp_path / f"{exports.XLSX_SCRATCH_PREFIX}busy"
    busy.mkdir()
    xlsx_cells(["Naam"], [["x"]])
    assert sorted(path.name for path in tmp_path.iterdir()) == [busy.name]


def test_xlsx_writes_numbers_and_dates_as_numbers_and_dates():
    moment = dt.datetime(2026, 3, 1, 13, 30, tzinfo=dt.UTC)
    [_header, row] = xlsx_cells(
        ["id", "bedrag", "decimaal", "negatief", "dag", "moment", "leeg", "tekst"],
        [[7, 12.5, Decimal("3.25"), -1, dt.date(2026, 3, 1), moment, None, "Koude zolder"]],
    )
    assert [cell.data_type for cell in row[:6]] == ["n", "n", "n", "n", "d", "d"]
    assert [cell.value for cell in row[:4]] == [7, 12.5, 3.25, -1]
    assert row[4].value == dt.datetime(2026, 3, 1)
    # Local time (Europe/Amsterdam, UTC+1 in March), without a zone: Excel has none.
    assert row[5].value == dt.datetime(2026, 3, 1, 14, 30)
    assert row[6].value is None
    assert (row[7].value, row[7].data_type) == ("Koude zolder", "s")


def test_xlsx_header_is_text_and_frozen():
    buffer = io.BytesIO()
    exports.xlsx_write(buffer, ["=Kop", "Naam"], [], sheet="Aanmeldingen: [2026]")
    buffer.seek(0)
    sheet = openpyxl.load_workbook(buffer).active
    assert [cell.value for cell in sheet[1]] == ["'=Kop", "Naam"]
    assert sheet.freeze_panes == "A2"
    # Characters Excel refuses in a sheet name are replaced rather than failing the export.
    assert sheet.title == "Aanmeldingen   2026"


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(exports.FORMULA_PREFIXES),
            st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"])),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_no_generated_text_comes_back_as_a_formula(values):
    texts = [prefix + rest for prefix, rest in values]
    [_header, row] = xlsx_cells([str(i) for i in range(len(texts))], [texts])
    assert [cell.data_type for cell in row] == ["s"] * len(texts)
    assert [as_excel_shows(cell.value) for cell in row] == ["'" + text for text in texts]


def test_booleans_must_be_written_as_words():
    with pytest.raises(TypeError):
        xlsx_cells(["ja/nee"], [[True]])
    with pytest.raises(TypeError):
        csv_text(["ja/nee"], [[False]])


# CSV -------------------------------------------------------------------------------------


def test_csv_starts_with_a_byte_order_mark_and_separates_with_semicolons():
    text = csv_text(["Nummer", "Naam"], [[1, "Familie Alfa"]])
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    assert text == "\ufeffNummer;Naam\r\n1;Familie Alfa\r\n"


def test_csv_prefixes_formulas_and_keeps_numbers_and_dates_plain():
    moment = dt.datetime(2026, 3, 1, 13, 30, tzinfo=dt.UTC)
    text = csv_text(
        ["a"] * 9,
        [[*DANGEROUS[:4], -1, 12.5, Decimal("3.25"), dt.date(2026, 3, 1), moment]],
    )
    [_header, row] = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert row[:4] == ["'" + value for value in DANGEROUS[:4]]
    # A number is a number, also a negative one: only text is prefixed.
    assert row[4:] == ["-1", "12,5", "3,25", "2026-03-01", "2026-03-01 14:30"]


def test_csv_quotes_separators_and_line_breaks_inside_a_value():
    text = csv_text(["Wens"], [["Koude zolder; tocht\nen vocht"]])
    [_header, row] = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert row == ["Koude zolder; tocht\nen vocht"]


# Responses -------------------------------------------------------------------------------


def test_the_csv_response_streams_rows_only_as_they_are_sent():
    read: list[int] = []

    def rows():
        for n in range(3):
            read.append(n)
            yield [n]

    response = exports.csv_response(["n"], rows(), filename="export-1-2026-03-01.csv")
    assert response.streaming
    assert read == []
    body = b"".join(response.streaming_content).decode("utf-8")
    assert read == [0, 1, 2]
    assert body == "\ufeffn\r\n0\r\n1\r\n2\r\n"
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="export-1-2026-03-01.csv"'
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db  # closing a response ends the request, which checks the connection
def test_the_xlsx_response_sends_a_finished_workbook_from_a_temporary_file():
    response = exports.xlsx_response(
        ["n"], iter([[1], [2]]), filename="export-1-2026-03-01.xlsx", sheet="Test"
    )
    body = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == [1, 2]
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    assert response["Content-Disposition"] == 'attachment; filename="export-1-2026-03-01.xlsx"'
    assert "no-store" in response["Cache-Control"]
    handle = response.file_to_stream
    response.close()
    # An anonymous temporary file is gone from the disk once it is closed.
    assert handle.closed


@pytest.mark.parametrize(
    "filename", ["Familie Alfa.csv", "../export.csv", 'a";b.csv', "kerkstraat 1.xlsx", ""]
)
def test_a_file_name_with_anything_but_ids_and_dates_is_refused(filename):
    with pytest.raises(ValueError, match="unsafe export file name"):
        exports.csv_response(["n"], [], filename=filename)


@pytest.mark.django_db
def test_a_download_is_logged_as_access_with_codes_only():
    organisation = builders.make_organisation(name="Energie A")
    user = builders.make_user("coordinator@a.example")
    entry = exports.export_log(
        actor=user,
        subject=organisation,
        export="crm.cases",
        details={"with_address": True, "format": "csv", "rows": 3},
    )
    entry.refresh_from_db()
    assert entry.action == LogEntry.Action.ACCESS
    assert entry.actor == user
    assert LogEntry.objects.get_for_object(organisation).filter(action=3).get() == entry
    assert entry.additional_data == {
        "export": "crm.cases",
        "with_address": True,
        "format": "csv",
        "rows": 3,
    }
