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

from dataplatform.models import (
    AddressArea,
    BagAddress,
    ImportStatus,
    OpenDataImport,
    RegisteredLabel,
)
from dataplatform.opendata import opendata_import

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
    before = list(AddressArea.objects.order_by("id").values())
    opendata_import(kind="cbs_areas", path=CBS)
    assert list(AddressArea.objects.order_by("id").values()) == before


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
