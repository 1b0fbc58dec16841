"""The open-data imports on the small files in the real formats that the suite ships."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from dataplatform.models import (
    AddressArea,
    BagAddress,
    ImportStatus,
    OpenDataImport,
    RegisteredLabel,
)
from dataplatform.opendata import ImportReport, files, open_source, opendata_import

FILES = Path(__file__).resolve().parent / "files"
EP_ONLINE = FILES / "ep-online-sample.csv"
BAG = FILES / "bag-light-sample.gpkg"
CBS = FILES / "pc6hnr20240801_gwb.csv"


def labels() -> dict[tuple[str, int, str], tuple]:
    return {
        (r.postcode, r.house_number, r.suffix): (r.label, r.recorded_on, r.file_date, r.bag_id)
        for r in RegisteredLabel.objects.all()
    }


def ep_online_file(path: Path, rows: list[dict[str, str]], *, published: str | None) -> Path:
    """A file with the sample's header and the given values (the rest of each row empty)."""
    header = next(
        line
        for line in EP_ONLINE.read_text(encoding="utf-8").splitlines()
        if line.startswith("Pand_")
    ).split(";")
    lines = [f"PublicatieDatum;{published}"] if published else []
    lines.append(";".join(header))
    for values in rows:
        base = {"Pand_status": "Bestaand", "Pand_gebouwklasse": "W", **values}
        lines.append(";".join(base.get(name, "") for name in header))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def label_row(postcode: str, number: str, label: str, recorded: str, **extra: str) -> dict:
    return {
        "Pand_postcode": postcode,
        "Pand_huisnummer": number,
        "Pand_energieklasse": label,
        "Pand_opnamedatum": recorded,
        **extra,
    }


# ---------------------------------------------------------------------------------------
# EP-Online


@pytest.mark.django_db
def test_ep_online_keeps_the_latest_housing_label_per_address_and_reports_bad_lines():
    run, _report = opendata_import(kind="ep_online", path=EP_ONLINE)

    assert run.status == ImportStatus.DONE
    assert run.file_date == dt.date(2026, 9, 1)  # from the PublicatieDatum line
    assert (run.rows_read, run.rows_written, run.rows_skipped) == (20, 13, 6)
    assert [problem["line"] for problem in run.problems] == [16, 17, 18, 21]
    messages = " | ".join(problem["message"] for problem in run.problems)
    assert "20231345" in messages
    assert "no house number" in messages
    assert "36 fields instead of 37" in messages
    assert "'H'" in messages
    stored = labels()
    assert len(stored) == 13
    # Two labels for 3731 AB 3: the later recording wins although it comes first.
    assert stored[("3731AB", 3, "")][:2] == ("B", dt.date(2024, 6, 15))
    # Letter and addition are one upper-case suffix.
    assert stored[("3731AB", 5, "A")][0] == "D"
    assert stored[("3731AC", 10, "2")][0] == "A"
    assert stored[("3732AB", 6, "BIS")][0] == "C"
    # The permit application and the office are not imported.
    assert ("3731AD", 9, "") not in stored
    assert ("3731AE", 1, "") not in stored
    # Bad rows are not imported either.
    assert ("3732AC", 11, "") not in stored
    assert ("3732AD", 25, "") not in stored
    semi = RegisteredLabel.objects.get(postcode="3731AC", house_number=12)
    assert semi.building_type == "Twee-onder-één-kap"
    assert semi.floor_area_m2 == Decimal("146.75")
    assert semi.valid_until == dt.date(2035, 2, 3)
    assert semi.bag_id == "0310010000100012"


@pytest.mark.django_db
def test_ep_online_imported_twice_leaves_the_same_rows():
    opendata_import(kind="ep_online", path=EP_ONLINE)
    before = labels()

    run, report = opendata_import(kind="ep_online", path=EP_ONLINE)

    assert labels() == before
    assert run.rows_written == 0
    assert report.rows_staged == 14
    assert OpenDataImport.objects.filter(status=ImportStatus.DONE).count() == 2


@pytest.mark.django_db
def test_an_older_file_never_replaces_a_newer_label(tmp_path):
    opendata_import(kind="ep_online", path=EP_ONLINE)
    older = ep_online_file(
        tmp_path / "older.csv",
        [
            label_row("3731AB", "3", "G", "20220101"),
            label_row("3731AB", "99", "E", "20200101"),
        ],
        published="01-03-2026",
    )

    run, _report = opendata_import(kind="ep_online", path=older)

    stored = labels()
    assert stored[("3731AB", 3, "")][:3] == ("B", dt.date(2024, 6, 15), dt.date(2026, 9, 1))
    # An address the newer file does not have is still added.
    assert stored[("3731AB", 99, "")][:3] == ("E", dt.date(2020, 1, 1), dt.date(2026, 3, 1))
    assert run.rows_written == 1


@pytest.mark.django_db
def test_a_later_recording_replaces_the_stored_label(tmp_path):
    opendata_import(kind="ep_online", path=EP_ONLINE)
    newer = ep_online_file(
        tmp_path / "newer.csv",
        [label_row("3731AB", "3", "A", "20260401")],
        published="01-05-2027",
    )

    opendata_import(kind="ep_online", path=newer)

    assert labels()[("3731AB", 3, "")][:3] == ("A", dt.date(2026, 4, 1), dt.date(2027, 5, 1))


@pytest.mark.django_db
def test_without_a_date_line_the_file_date_is_the_day_it_was_changed(tmp_path):
    path = ep_online_file(
        tmp_path / "labels.csv", [label_row("3731AB", "1", "C", "20230512")], published=None
    )
    stamp = dt.datetime(2026, 2, 3, 12, 0).timestamp()
    os.utime(path, (stamp, stamp))

    run, _ = opendata_import(kind="ep_online", path=path)
    assert run.file_date == dt.date(2026, 2, 3)

    run, _ = opendata_import(kind="ep_online", path=path, file_date=dt.date(2026, 3, 1))
    assert run.file_date == dt.date(2026, 3, 1)


@pytest.mark.django_db
def test_columns_are_found_by_name_not_position(tmp_path):
    path = tmp_path / "reordered.csv"
    path.write_text(
        "Pand_postcode;Pand_huisnummer;Pand_gebouwklasse;Pand_status;Pand_energieklasse;"
        "Pand_opnamedatum;Pand_gebruiksoppervlakte\n"
        "3731 ab;1;W;Bestaand;c;20230512;112,5\n",
        encoding="utf-8",
    )

    opendata_import(kind="ep_online", path=path)

    label = RegisteredLabel.objects.get()
    assert (label.postcode, label.house_number, label.label) == ("3731AB", 1, "C")
    assert label.floor_area_m2 == Decimal("112.50")


def copy_rows(text: str) -> list[tuple]:
    """COPY text lines as typed tuples, as PostgreSQL reads them into the staging table."""
    rows = []
    for line in text.splitlines():
        values = [None if value == r"\N" else value for value in line.split("\t")]
        number, postcode, house, suffix, bag_id, label, *dates, kind, subkind, area = values
        rows.append(
            (
                int(number),
                postcode,
                int(house),
                suffix,
                bag_id,
                label,
                *(None if d is None else dt.date.fromisoformat(d) for d in dates),
                kind,
                subkind,
                None if area is None else Decimal(area),
            )
        )
    return rows


def typed_rows(rows) -> list[tuple]:
    return [
        (
            *row[:6],
            *(None if d is None else dt.date.fromisoformat(d) for d in row[6:9]),
            *row[9:11],
            None if row[11] is None else Decimal(row[11]),
        )
        for row in rows
    ]


MIXED_ROWS = [
    label_row("3731AB", "1", "C", "20230512", Pand_gebruiksoppervlakte="112,5"),
    label_row("3731 ab", "2", "b", "20230512"),  # postcode and label to be normalised
    label_row("3731AB", "007", "A", "20200101", Pand_huisnummer_toev="bis"),
    label_row("3731AB", "8", "A", "20200101", Pand_huisnummer_toev="-2 a"),
    label_row("3731SD", "9", "A", "20200101"),  # letters never used in a postcode
    label_row("3731AB", "10", "A", "20230230"),  # no 30 February
    label_row("3731AB", "11", "A", "20230101", Pand_registratiedatum="2023"),
    label_row("3731AB", "0", "A", "20230101"),
    label_row("3731AB", "12", "A", "20230101", Pand_gebouwklasse="U"),
    label_row("3731AB", "13", "A", "20230101", Pand_status="vergunningsaanvraag"),
    label_row("3731AB", "14", "A", "20230101", Pand_bagverblijfsobjectid="x"),
    label_row("3731AB", "15", "A", "20230101", Pand_gebruiksoppervlakte="veel"),
    label_row("3731AB", "16", "A", "20230101", Pand_gebouwtype="  " + "Rijwoning " * 8),
    label_row("3731AB", "17", "A", "20230101", Pand_huisnummer_toev="ABCDEFGHIJ"),
    label_row("3731AB", "18", "Z", "20230101"),
    label_row("3731AB", "19", "A", "20230101", Meting_geldig_tot="20331301"),
]


def test_the_fast_reading_for_copy_gives_the_rows_and_problems_of_the_row_by_row_check(tmp_path):
    path = ep_online_file(tmp_path / "mixed.csv", MIXED_ROWS * 3, published="01-09-2026")
    # Windows line ends, an empty line and a line one field short in the middle.
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[10:10] = ["", ";".join(["x"] * 36)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())

    slow_report, fast_report = ImportReport(), ImportReport()
    slow = typed_rows(open_source("ep_online", path).rows(slow_report))
    fast = copy_rows("".join(open_source("ep_online", path).copy_text(fast_report)))

    assert sorted(fast) == slow
    assert fast_report == slow_report
    assert slow_report.bad_rows == 3 * 7 + 1
    assert slow_report.rows_skipped == slow_report.bad_rows + 3 * 2
    assert {"line": 12, "message": "36 fields instead of 37"} in slow_report.problems
    assert [p["line"] for p in slow_report.problems] == sorted(
        p["line"] for p in slow_report.problems
    )
    by_number = {row[2]: row for row in slow}
    assert by_number[2][1] == "3731AB" and by_number[2][5] == "B"
    assert by_number[7][3] == "BIS"
    assert by_number[8][3] == "2A"
    assert by_number[1][11] == Decimal("112.5")
    assert by_number[14][4] == ""  # a bad BAG id is left out, the label kept
    assert by_number[15][11] is None
    assert by_number[16][9] == ("Rijwoning " * 8).strip()[:60]


def test_rows_read_in_small_blocks_are_the_same(tmp_path, monkeypatch):
    rows = [
        *MIXED_ROWS,
        label_row("3731AB", "30", "B", "20230512", Pand_projectnaam='"Fase; 1\nen 2"'),
        *MIXED_ROWS,
    ]
    path = ep_online_file(tmp_path / "blocks.csv", rows * 2, published="01-09-2026")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))

    def read(method: str) -> tuple[list, ImportReport]:
        report = ImportReport()
        found = getattr(open_source("ep_online", path), method)(report)
        return (copy_rows("".join(found)) if method == "copy_text" else list(found)), report

    whole_rows, whole_report = read("rows")
    whole_copy, whole_copy_report = read("copy_text")
    monkeypatch.setattr(files, "BLOCK_CHARS", 97)
    small_rows, small_report = read("rows")
    small_copy, small_copy_report = read("copy_text")

    assert small_rows == whole_rows
    assert sorted(small_copy) == sorted(whole_copy) == sorted(typed_rows(whole_rows))
    assert small_report == whole_report == small_copy_report == whole_copy_report
    # The quoted row is on lines 19-20 and 53-54 (1: date, 2: header, 16 rows before it);
    # a row is known by its last line, as csv counts.
    assert [row[0] for row in whole_rows if row[2] == 30] == [20, 54]


@pytest.mark.django_db
def test_a_quoted_field_over_two_lines_keeps_the_line_numbers(tmp_path):
    path = ep_online_file(
        tmp_path / "quoted.csv",
        [
            label_row("3731AB", "1", "C", "20230512", Pand_projectnaam='"Project; fase\n2"'),
            label_row("3731AB", "2", "Q", "20230512"),
            label_row("3731AB", "3", "B", "20230512", Pand_gebouwtype='"Rijwoning ""tussen"""'),
        ],
        published="01-09-2026",
    )

    run, report = opendata_import(kind="ep_online", path=path)

    # Line 1 is the date, 2 the header, 3-4 the first row, 5 the bad one.
    assert run.problems == [{"line": 5, "message": "not a label class: 'Q'"}]
    assert (report.rows_read, report.rows_staged) == (3, 2)
    assert RegisteredLabel.objects.get(house_number=3).building_type == 'Rijwoning "tussen"'


@pytest.mark.django_db
def test_a_tab_or_backslash_in_a_field_is_stored_as_it_is(tmp_path):
    path = ep_online_file(
        tmp_path / "escapes.csv",
        [
            label_row("3731AB", "1", "C", "20230512", Pand_gebouwtype="Rij\\woning\ttussen"),
            label_row("3731AB", "2", "B", "20230512"),
        ],
        published="01-09-2026",
    )

    run, _report = opendata_import(kind="ep_online", path=path)

    assert run.rows_written == 2
    assert RegisteredLabel.objects.get(house_number=1).building_type == "Rij\\woning\ttussen"


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes")
@pytest.mark.parametrize(
    ("kind", "path", "model"),
    [("ep_online", EP_ONLINE, RegisteredLabel), ("bag", BAG, BagAddress)],
)
def test_a_first_import_puts_the_keys_and_indexes_back(kind, path, model):
    table = model._meta.db_table
    with connection.cursor() as cursor:
        before = connection.introspection.get_constraints(cursor, table)

    opendata_import(kind=kind, path=path)

    with connection.cursor() as cursor:
        after = connection.introspection.get_constraints(cursor, table)
    assert after == before
    assert any(c["primary_key"] for c in after.values())
    # The key still refuses a second row for an address.
    first = model.objects.order_by("pk").values()[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(**{**first, "id": None} if "id" in first else first)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="compares with PostgreSQL's COPY")
def test_the_benchmark_runs_small():
    from bench.dp_import import measure

    figures = measure(rows=400, runs=1)

    assert figures["rows"] == 400
    assert 0 < figures["labels_written"] < 400
    assert figures["copy_s"] > 0 and figures["import_s"] > 0
    assert figures["ratio"] > 0


# ---------------------------------------------------------------------------------------
# BAG and CBS


@pytest.mark.django_db
def test_bag_keeps_homes_in_use_and_reports_bad_rows():
    run, _report = opendata_import(kind="bag", path=BAG)

    assert run.file_date == dt.date(2026, 11, 8)  # gpkg_contents.last_change
    assert (run.rows_read, run.rows_written, run.rows_skipped) == (16, 12, 4)
    assert run.problems == [{"line": 14, "message": "no postcode"}]
    ids = set(BagAddress.objects.values_list("bag_id", flat=True))
    assert "0310010000100201" not in ids  # an office
    assert "0310010000100411" not in ids  # withdrawn
    assert "0310010000100109" not in ids  # not built yet
    assert "0310010000100308" in ids  # a shop with a home
    assert "0310010000100014" in ids  # in use, not measured
    home = BagAddress.objects.get(bag_id="0310010000100306")
    assert (home.postcode, home.house_number, home.addition) == ("3732AB", 6, "BIS")
    assert (home.build_year, home.floor_area_m2, home.street) == (1958, 60, "Kerklaan")
    assert home.building_id == "0310100000200009"


@pytest.mark.django_db
def test_bag_imported_twice_leaves_the_same_rows():
    opendata_import(kind="bag", path=BAG)
    before = list(BagAddress.objects.order_by("bag_id").values())

    run, _ = opendata_import(kind="bag", path=BAG)

    assert list(BagAddress.objects.order_by("bag_id").values()) == before
    assert run.rows_written == 0


@pytest.mark.django_db
def test_cbs_areas_get_their_codes_and_bad_rows_are_reported():
    run, _report = opendata_import(kind="cbs_areas", path=CBS)

    assert run.file_date == dt.date(2024, 8, 1)  # from the file name
    assert (run.rows_read, run.rows_written, run.rows_skipped) == (15, 14, 1)
    assert run.problems == [{"line": 14, "message": "not a house number: 'x'"}]
    area = AddressArea.objects.get(postcode="3731AC", house_number=14)
    assert (area.neighbourhood_code, area.district_code, area.municipality_code) == (
        "BU03100101",
        "WK031001",
        "GM0310",
    )
    before = list(AddressArea.objects.order_by("pk").values())
    opendata_import(kind="cbs_areas", path=CBS)
    assert list(AddressArea.objects.order_by("pk").values()) == before


# ---------------------------------------------------------------------------------------
# The commands


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("command", "path", "summary"),
    [
        ("import_ep_online", EP_ONLINE, "20 rows read, 13 written, 6 skipped (4 bad)"),
        ("import_bag", BAG, "16 rows read, 12 written, 4 skipped (1 bad)"),
        ("import_cbs_areas", CBS, "15 rows read, 14 written, 1 skipped (1 bad)"),
    ],
)
def test_the_command_prints_a_summary_with_the_bad_lines(command, path, summary):
    out, err = StringIO(), StringIO()

    call_command(command, str(path), stdout=out, stderr=err)

    assert summary in out.getvalue()
    assert "line 14" in out.getvalue() or "line 16" in out.getvalue()
    assert "rows read" in err.getvalue()  # the progress line
    assert OpenDataImport.objects.get().status == ImportStatus.DONE


@pytest.mark.django_db
def test_the_command_takes_the_file_date():
    call_command("import_cbs_areas", str(CBS), "--file-date", "2025-01-31", stdout=StringIO())

    assert OpenDataImport.objects.get().file_date == dt.date(2025, 1, 31)
    assert set(AddressArea.objects.values_list("file_date", flat=True)) == {dt.date(2025, 1, 31)}


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["import_ep_online", "import_bag", "import_cbs_areas"])
def test_a_missing_or_empty_file_gives_a_clear_message_and_imports_nothing(command, tmp_path):
    with pytest.raises(CommandError, match="File not found"):
        call_command(command, str(tmp_path / "missing.csv"), stdout=StringIO(), stderr=StringIO())
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CommandError, match="empty"):
        call_command(command, str(empty), stdout=StringIO(), stderr=StringIO())

    assert not OpenDataImport.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("command", "path", "message"),
    [
        ("import_ep_online", CBS, "no header row starting with Pand_"),
        ("import_bag", EP_ONLINE, "Not a GeoPackage"),
        ("import_cbs_areas", EP_ONLINE, "Not a CBS postcode/house number file"),
    ],
)
def test_a_file_of_another_kind_is_refused(command, path, message):
    with pytest.raises(CommandError, match=message):
        call_command(command, str(path), stdout=StringIO(), stderr=StringIO())

    assert not OpenDataImport.objects.exists()
    assert not RegisteredLabel.objects.exists()


@pytest.mark.django_db
def test_a_bad_file_date_is_refused():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("import_cbs_areas", str(CBS), "--file-date", "31-01-2025", stdout=StringIO())

    assert not AddressArea.objects.exists()


def test_the_command_exits_non_zero_on_a_missing_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "import_ep_online", str(tmp_path / "missing.csv")],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "File not found" in result.stderr
    assert "Traceback" not in result.stderr
