"""The RVO monitoring: its headers, rows, periods, the check before export and the task."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from dossier.models import MeasureType
from nip import monitoring, tasks
from nip.models import ExportStatus, MonitoringExport
from tests import builders
from tests.nip.builders import make_application, make_measure

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
H1_2024 = monitoring.Period(dt.date(2024, 1, 1), dt.date(2024, 6, 30))

# Copied from ../shared/notes/domain-research.md §10(a), not from the code under test.
RVO_HEADERS = [
    "Straat",
    "nr.",
    "Toevoeging",
    "Postcode",
    "Woonplaats",
    "WOZ-waarde boven of onder gemiddelde WOZ- waarde van de koopwoningen in de betreffende "
    "gemeente of de NHG-grens",
    "Evt. aanwezig energielabel (sleepmenu D t/m G)",
    "Opsomming van energetisch slechte schilelementen (minimaal 2)",
    "Jaar uitvoering maatregel(en)",
    "Toegekend bedrag(in euro's)",
    "Uitzondering schuldhulpsanering (ja/nee)",
    "Dakisolatie (in m2) (minimaal 20 m2 per woning) dhz",
    "Dakisolatie (in m2) (minimaal 20 m2 per woning) derden",
    "Zolder/vlieringvloerisolatie (in m2) (minimaal 20 m2 per woning) dhz",
    "Zolder/vlieringvloerisolatie (in m2) (minimaal 20 m2 per woning) derden",
    "Spouwmuurisolatie (in m2), (minimaal 10 m2 per woning) dhz",
    "Spouwmuurisolatie (in m2), (minimaal 10 m2 per woning) derden",
    "Gevelisolatie (zowel binnen- als buitengevelisolatie) (in m2) (minimaal 10 m2 per woning) dhz",
    "Gevelisolatie (zowel binnen- als buitengevelisolatie) (in m2) (minimaal 10 m2 per woning) "
    "derden",
    "Vloerisolatie (in m2) (minimaal 20 m2 per woning) dhz",
    "Vloerisolatie (in m2) (minimaal 20 m2 per woning) derden",
    "Bodemisolatie (in m2) (minimaal 20 m2 per woning) dhz",
    "Bodemisolatie (in m2) (minimaal 20 m2 per woning) derden",
    "Glas en kozijnpanelen Ug en Up ≤ 1,2 W/m2K dhz",
    "Glas en kozijnpanelen Ug en Up ≤ 1,2 W/m2K derden",
    "Isolerende deuren Ud ≤ 1,5 W/m2K dhz",
    "Isolerende deuren Ud ≤ 1,5 W/m2K derden",
    "Glas en kozijnpanelen Ug en Up ≤ 0,7 W/m2K dhz",
    "Glas en kozijnpanelen Ug en Up ≤ 0,7 W/m2K derden",
    "Isolerende deuren Ud ≤ 1,0 W/m2K i.c.m. nieuwe isolerende kozijnen Uf ≤ 1,5 W/m2K dhz",
    "Isolerende deuren Ud ≤ 1,0 W/m2K i.c.m. nieuwe isolerende kozijnen Uf ≤ 1,5 W/m2K derden",
    "CO2-gestuurde ventilatie (mits van toepassing maximaal 1 invullen) dhz",
    "CO2-gestuurde ventilatie (mits van toepassing maximaal 1 invullen) derden",
    "Balansventilatie met WTW (evt. in combinatie met CO2-sturing) (mits van toepassing "
    "maximaal 1 invullen) dhz",
    "Balansventilatie met WTW (evt. in combinatie met CO2-sturing) (mits van toepassing "
    "maximaal 1 invullen) derden",
]
COLUMN = {header: index for index, header in enumerate(RVO_HEADERS)}


def cell(row: list, header_start: str) -> object:
    """The value of the one column whose header starts with `header_start`."""
    matches = [i for h, i in COLUMN.items() if h.startswith(header_start)]
    assert len(matches) == 1, header_start
    return row[matches[0]]


def granted(programme, **fields):
    fields.setdefault("status", "approved")
    fields.setdefault("amount_granted_eur", Decimal("1460"))
    return make_application(programme, **fields)


def rows(programme, period=H1_2024) -> list[list]:
    return list(monitoring.monitoring_rows(programme=programme, period=period))


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# The template ------------------------------------------------------------------------------


def test_the_header_is_the_rvo_templates_35_columns_in_order():
    assert list(monitoring.header(H1_2024)) == RVO_HEADERS
    assert len(RVO_HEADERS) == 35


def test_every_measure_column_pair_has_a_dhz_and_a_derden_header():
    pairs = RVO_HEADERS[11:]
    assert len(pairs) == 2 * len(monitoring.MEASURE_COLUMNS)
    assert all(h.endswith(" dhz") for h in pairs[::2])
    assert all(h.endswith(" derden") for h in pairs[1::2])


def test_the_template_in_force_is_the_newest_one_from_before_the_period_end(monkeypatch):
    newer = monitoring.RvoTemplate("next", dt.date(2027, 1, 1), "test", ("A",))
    monkeypatch.setattr(monitoring, "TEMPLATES", (*monitoring.TEMPLATES, newer))
    assert monitoring.template_for(dt.date(2026, 12, 31)).version == "spuk-lai-2025"
    assert monitoring.template_for(dt.date(2027, 6, 30)) is newer


# The rows ----------------------------------------------------------------------------------


def test_a_row_holds_the_address_and_the_answers_in_the_rvo_words(nip):
    dwelling = builders.make_dwelling(
        street="Kerkstraat",
        house_number=12,
        house_letter="A",
        house_number_addition="2",
        postcode="3732CD",
        city="De Bilt",
    )
    application = granted(
        nip.programme,
        dwelling=dwelling,
        woz_below_limit=False,
        energy_label="",
        debt_relief=True,
        amount_granted_eur=Decimal("1460.50"),
        eligibility={"poor_elements": ["windows", "floor"]},
    )
    make_measure(application, "cavity_wall_insulation", executed_on=dt.date(2024, 3, 1))
    [row] = rows(nip.programme)
    assert len(row) == 35
    assert row[:11] == [
        "Kerkstraat",
        12,
        "A-2",
        "3732CD",
        "De Bilt",
        "Boven",
        "Niet aanwezig",
        "vloer/bodem, ramen",
        2024,
        Decimal("1460.50"),
        "ja",
    ]


def test_the_poor_elements_come_from_the_shell_answers_when_the_check_listed_none(nip):
    application = granted(
        nip.programme,
        energy_label="F",
        debt_relief=False,
        shell_roof="poor",
        shell_facade="poor",
        shell_windows="insulated",
    )
    make_measure(application)
    [row] = rows(nip.programme)
    assert (row[5], row[6], row[7], row[10]) == (
        "Onder",
        "F",
        "gevel/spouwmuur, dak/zoldervloer/vlieringvloer",
        "nee",
    )


def test_a_label_better_than_d_is_shown_as_it_is(nip):
    make_measure(granted(nip.programme, energy_label="B"))
    assert rows(nip.programme)[0][6] == "B"


def test_square_metres_land_in_the_diy_and_third_party_columns_of_their_measure(nip):
    application = granted(nip.programme)
    make_measure(application, "roof_insulation", area_m2=Decimal("30"), done_by="diy")
    make_measure(application, "roof_insulation", area_m2=Decimal("12.5"), done_by="diy")
    make_measure(application, "floor_insulation", area_m2=Decimal("45"), done_by="third_party")
    make_measure(application, "cavity_wall_insulation", area_m2=Decimal("60"))
    [row] = rows(nip.programme)
    assert cell(row, "Dakisolatie (in m2) (minimaal 20 m2 per woning) dhz") == Decimal("42.50")
    assert cell(row, "Dakisolatie (in m2) (minimaal 20 m2 per woning) derden") is None
    assert cell(row, "Vloerisolatie (in m2) (minimaal 20 m2 per woning) derden") == Decimal("45")
    assert cell(row, "Vloerisolatie (in m2) (minimaal 20 m2 per woning) dhz") is None
    assert cell(row, "Spouwmuurisolatie (in m2), (minimaal 10 m2 per woning) derden") == 60
    filled = [i for i, value in enumerate(row[11:], start=11) if value is not None]
    assert [RVO_HEADERS[i] for i in filled] == [
        "Dakisolatie (in m2) (minimaal 20 m2 per woning) dhz",
        "Spouwmuurisolatie (in m2), (minimaal 10 m2 per woning) derden",
        "Vloerisolatie (in m2) (minimaal 20 m2 per woning) derden",
    ]


@pytest.mark.parametrize(
    ("code", "u_value", "frame_u_value", "header"),
    [
        ("hr_glass", "1.1", None, "Glas en kozijnpanelen Ug en Up ≤ 1,2 W/m2K derden"),
        ("insulating_panels", "1.0", None, "Glas en kozijnpanelen Ug en Up ≤ 1,2 W/m2K derden"),
        ("insulating_panels", "0.6", None, "Glas en kozijnpanelen Ug en Up ≤ 0,7 W/m2K derden"),
        ("triple_glass", "0.7", "1.4", "Glas en kozijnpanelen Ug en Up ≤ 0,7 W/m2K derden"),
        ("insulating_doors", "1.4", None, "Isolerende deuren Ud ≤ 1,5 W/m2K derden"),
        ("insulating_doors", "0.9", None, "Isolerende deuren Ud ≤ 1,5 W/m2K derden"),
        ("insulating_doors", "0.9", "1.8", "Isolerende deuren Ud ≤ 1,5 W/m2K derden"),
        ("insulating_doors", "1.0", "1.5", "Isolerende deuren Ud ≤ 1,0 W/m2K i.c.m."),
        ("hr_glass", "1.3", None, None),
        ("triple_glass", "0.9", "1.4", None),
    ],
)
def test_glass_panels_and_doors_go_to_exactly_one_column_by_their_u_values(
    nip, code, u_value, frame_u_value, header
):
    application = granted(nip.programme)
    make_measure(
        application,
        code,
        area_m2=Decimal("9"),
        u_value=Decimal(u_value),
        frame_u_value=Decimal(frame_u_value) if frame_u_value else None,
    )
    [row] = rows(nip.programme)
    filled = [RVO_HEADERS[i] for i, value in enumerate(row[11:], start=11) if value is not None]
    if header is None:
        assert filled == []
        expected_key = None
    else:
        assert len(filled) == 1 and filled[0].startswith(header)
        assert cell(row, filled[0]) == Decimal("9")
        expected_key = monitoring.MEASURE_COLUMNS[(COLUMN[filled[0]] - 11) // 2].key
    # The check's rule and the query's rule agree.
    assert (
        monitoring.column_of(
            code,
            u_value=Decimal(u_value),
            frame_u_value=Decimal(frame_u_value) if frame_u_value else None,
        )
        == expected_key
    )


def test_ventilation_is_counted_once_at_most(nip):
    application = granted(nip.programme)
    make_measure(application, "balanced_ventilation", area_m2=None, done_by="third_party")
    make_measure(application, "balanced_ventilation", area_m2=None, done_by="third_party")
    make_measure(application, "demand_controlled_ventilation", area_m2=None, done_by="diy")
    [row] = rows(nip.programme)
    assert row[COLUMN[RVO_HEADERS[-1]]] == 1
    assert row[COLUMN[RVO_HEADERS[-2]]] is None
    assert row[COLUMN[RVO_HEADERS[-4]]] == 1
    assert row[COLUMN[RVO_HEADERS[-3]]] is None


def test_only_granted_homes_with_a_measure_in_the_period_are_in_it(nip):
    inside = granted(nip.programme)
    make_measure(inside, "roof_insulation", executed_on=dt.date(2024, 6, 30), area_m2=Decimal(25))
    # Measures of other periods do not count in this one's columns or year.
    make_measure(inside, "floor_insulation", executed_on=dt.date(2023, 12, 31))
    make_measure(inside, "facade_insulation", executed_on=dt.date(2024, 7, 1))
    completed = granted(nip.programme, status="completed")
    make_measure(completed, executed_on=dt.date(2024, 1, 1))
    make_measure(granted(nip.programme), executed_on=dt.date(2024, 7, 1))
    granted(nip.programme)
    make_measure(make_application(nip.programme, status="intake"))
    make_measure(granted(nip.programme, status="withdrawn"))
    make_measure(granted(nip.programme_b))

    found = rows(nip.programme)
    assert len(found) == 2
    assert sorted(
        monitoring.monitoring_homes(programme=nip.programme, period=H1_2024).values_list(
            "pk", flat=True
        )
    ) == sorted([inside.pk, completed.pk])
    [inside_row] = [row for row in found if row[1] == inside.dwelling.house_number]
    assert cell(inside_row, "Dakisolatie (in m2) (minimaal 20 m2 per woning) derden") == 25
    assert [v for v in inside_row[11:] if v is not None] == [25]


def test_measures_from_before_the_programme_never_count(nip):
    nip.programme.measures_from = dt.date(2024, 3, 1)
    nip.programme.save()
    make_measure(granted(nip.programme), executed_on=dt.date(2024, 2, 28))
    assert rows(nip.programme) == []


def test_the_rows_are_in_address_order(nip):
    for number in (30, 4, 17):
        make_measure(granted(nip.programme, dwelling=builders.make_dwelling(house_number=number)))
    assert [row[1] for row in rows(nip.programme)] == [4, 17, 30]


# The periods -------------------------------------------------------------------------------


def test_half_years_are_offered_from_the_first_measures_to_today(nip):
    nip.programme.measures_from = dt.date(2023, 8, 15)
    found = monitoring.periods(programme=nip.programme, today=dt.date(2025, 2, 1))
    assert [p.code for p in found] == ["2025-h1", "2024-h2", "2024-h1", "2023-h2"]
    assert (found[1].start, found[1].end) == (dt.date(2024, 7, 1), dt.date(2024, 12, 31))
    assert monitoring.default_period(found, today=dt.date(2025, 2, 1)).code == "2024-h2"


def test_a_yearly_programme_reports_per_year(nip):
    nip.programme.reporting_period = "year"
    found = monitoring.periods(programme=nip.programme, today=dt.date(2025, 2, 1))
    assert [p.code for p in found] == ["2025", "2024", "2023"]
    assert (found[0].start, found[0].end) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert (
        monitoring.period_by_code("2024-h1", programme=nip.programme, today=timezone.localdate())
        is None
    )


@pytest.mark.parametrize("code", ["2022-h2", "2031-h1", "2024-h3", "2024", "", "x"])
def test_a_period_outside_the_programme_is_no_period(nip, code):
    assert (
        monitoring.period_by_code(code, programme=nip.programme, today=dt.date(2025, 2, 1)) is None
    )


# The check before export -------------------------------------------------------------------


def test_the_check_lists_a_home_without_a_woz_answer(nip):
    make_measure(granted(nip.programme))
    missing = granted(nip.programme, woz_below_limit=None)
    make_measure(missing)
    check = monitoring.monitoring_check(programme=nip.programme, period=H1_2024)
    assert (check.homes, check.incomplete, check.doubtful) == (2, 1, 0)
    [home] = check.listed
    assert home.application_id == missing.pk
    assert home.problem_codes == ("woz_below_limit",)
    assert home.address.startswith("Teststraat")


def test_the_check_lists_every_missing_field(nip):
    dwelling = builders.make_dwelling(street="", city="")
    application = granted(
        nip.programme,
        dwelling=dwelling,
        energy_label="",
        shell_floor="poor",
        amount_granted_eur=Decimal("0"),
    )
    make_measure(application, "roof_insulation", area_m2=None)
    make_measure(application, "balanced_ventilation", area_m2=None)
    [home] = monitoring.monitoring_check(programme=nip.programme, period=H1_2024).listed
    assert home.problem_codes == ("street", "city", "poor_elements", "amount_granted", "area")


def test_the_check_flags_a_label_better_than_d(nip):
    make_measure(granted(nip.programme, energy_label="C"))
    [home] = monitoring.monitoring_check(programme=nip.programme, period=H1_2024).listed
    assert home.problem_codes == ("energy_label",)


def test_the_check_warns_about_measures_the_rules_refuse(nip):
    application = granted(nip.programme)
    make_measure(application, "cavity_wall_insulation", rd_value=Decimal("0.9"))
    make_measure(application, "roof_insulation", rd_value=Decimal("4"), area_m2=Decimal("25"))
    check = monitoring.monitoring_check(programme=nip.programme, period=H1_2024)
    assert (check.incomplete, check.doubtful) == (0, 1)
    [home] = check.listed
    assert home.problems == ()
    assert [code for code, _ in home.warnings] == ["measure"]


def test_the_check_shows_a_limited_number_of_homes_and_counts_the_rest(nip):
    for _ in range(3):
        make_measure(granted(nip.programme, woz_below_limit=None))
    check = monitoring.monitoring_check(programme=nip.programme, period=H1_2024, limit=2)
    assert (len(check.listed), check.more) == (2, 1)


# Files made in the background ---------------------------------------------------------------


def request_export(nip, fmt="xlsx", period=H1_2024):
    staff = nip.programme.municipality.memberships.get().user
    return monitoring.monitoring_export_request(
        programme=nip.programme, period=period, fmt=fmt, actor=staff
    )


def test_a_background_export_writes_the_file_privately_and_expires_in_a_day(
    nip, media, django_capture_on_commit_callbacks
):
    street = '=HYPERLINK("http://x")'
    for _ in range(3):
        make_measure(granted(nip.programme, dwelling=builders.make_dwelling(street=street)))
    with (
        time_machine.travel(dt.datetime(2025, 1, 10, 9, tzinfo=AMSTERDAM), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        export = request_export(nip, fmt="csv")
    export.refresh_from_db()
    assert export.status == ExportStatus.DONE
    assert (export.rows_total, export.rows_done) == (3, 3)
    assert export.finished_at == dt.datetime(2025, 1, 10, 9, tzinfo=AMSTERDAM)
    assert export.expires_at == dt.datetime(2025, 1, 11, 9, tzinfo=AMSTERDAM)
    # A random name: nothing about the programme or the homes.
    assert re.fullmatch(r"nip/exports/[0-9a-f]{32}\.csv", export.file.name)
    body = export.file.read()
    assert body.startswith(b"\xef\xbb\xbf")
    header, *lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert header == RVO_HEADERS
    assert [line[0] for line in lines] == ["'" + street] * 3


def test_a_background_xlsx_file_keeps_text_as_text(nip, media, django_capture_on_commit_callbacks):
    make_measure(granted(nip.programme, dwelling=builders.make_dwelling(street="=1+1")))
    with django_capture_on_commit_callbacks(execute=True):
        export = request_export(nip)
    export.refresh_from_db()
    sheet = openpyxl.load_workbook(io.BytesIO(export.file.read())).active
    header, row = list(sheet.iter_rows())
    assert [c.value for c in header] == RVO_HEADERS
    assert (row[0].value, row[0].data_type) == ("'=1+1", "s")


def test_the_task_saves_its_progress_while_it_writes(nip, media, monkeypatch):
    monkeypatch.setattr(monitoring, "PROGRESS_EVERY", 2)
    for _ in range(5):
        make_measure(granted(nip.programme))
    seen: list[int] = []
    original = monitoring.monitoring_rows

    def watched(**kwargs):
        for row in original(**kwargs):
            seen.append(MonitoringExport.objects.get().rows_done)
            yield row

    monkeypatch.setattr(monitoring, "monitoring_rows", watched)
    export = MonitoringExport.objects.create(
        programme=nip.programme,
        period_start=H1_2024.start,
        period_end=H1_2024.end,
        format="csv",
    )
    tasks.monitoring_export_make.delay(str(export.pk))
    assert seen == [0, 0, 2, 2, 4]
    export.refresh_from_db()
    assert (export.status, export.rows_total, export.rows_done) == ("done", 5, 5)


def test_a_failing_export_is_marked_failed_and_leaves_no_file(nip, media, monkeypatch, caplog):
    make_measure(granted(nip.programme, dwelling=builders.make_dwelling(street="Geheimstraat")))

    def broken(**kwargs):
        raise RuntimeError("Geheimstraat 1 could not be written")

    monkeypatch.setattr(monitoring, "monitoring_rows", broken)
    export = MonitoringExport.objects.create(
        programme=nip.programme, period_start=H1_2024.start, period_end=H1_2024.end, format="xlsx"
    )
    tasks.monitoring_export_make.delay(str(export.pk))
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert export.finished_at is not None and export.expires_at is None
    assert not export.file
    assert not (media / "nip").exists() or not any((media / "nip").rglob("*.*"))
    assert "RuntimeError" in caplog.text and "Geheimstraat" not in caplog.text


def test_a_second_delivery_of_the_task_does_nothing(nip, media, django_capture_on_commit_callbacks):
    make_measure(granted(nip.programme))
    with django_capture_on_commit_callbacks(execute=True):
        export = request_export(nip)
    export.refresh_from_db()
    assert monitoring.monitoring_export_make(export_id=export.pk) is None
    assert MonitoringExport.objects.get().file.name == export.file.name


def test_a_run_whose_worker_died_is_taken_over_and_only_the_last_run_counts(
    nip, media, monkeypatch
):
    """The message of a task whose worker died comes back while the export says running.
    The new run takes it over; should the old run still be going, it keeps nothing."""
    for _ in range(3):
        make_measure(granted(nip.programme))
    export = MonitoringExport.objects.create(
        programme=nip.programme, period_start=H1_2024.start, period_end=H1_2024.end, format="csv"
    )
    original = monitoring.monitoring_rows
    overtaken: list[bool] = []

    def first_run_overtaken(**kwargs):
        rows = original(**kwargs)
        yield next(rows)
        if not overtaken:
            overtaken.append(True)
            # The second delivery of the task, while the first still writes.
            assert monitoring.monitoring_export_make(export_id=export.pk) is not None
        yield from rows

    monkeypatch.setattr(monitoring, "monitoring_rows", first_run_overtaken)
    monkeypatch.setattr(monitoring, "PROGRESS_EVERY", 1)
    assert monitoring.monitoring_export_make(export_id=export.pk) is None
    export.refresh_from_db()
    assert (export.status, export.attempts, export.rows_done) == (ExportStatus.DONE, 2, 3)
    # One file: the overtaken run deleted its own and wrote no progress after the takeover.
    assert sorted(p.name for p in (media / "nip" / "exports").iterdir()) == [
        export.file.name.rsplit("/", 1)[1]
    ]
    assert len(export.file.read().decode("utf-8-sig").splitlines()) == 4


def running_after_a_dead_run(nip, *, attempts: int) -> tuple[MonitoringExport, str]:
    """An export that says running, and the file its last run stored before it died."""
    make_measure(granted(nip.programme))
    left_behind = default_storage.save("nip/exports/left.csv", ContentFile(b"rows"))
    export = MonitoringExport.objects.create(
        programme=nip.programme,
        period_start=H1_2024.start,
        period_end=H1_2024.end,
        format="csv",
        status=ExportStatus.RUNNING,
        attempts=attempts,
        file=left_behind,
    )
    return export, left_behind


def test_a_run_taking_over_deletes_the_file_the_dead_run_left(nip, media):
    export, left_behind = running_after_a_dead_run(nip, attempts=1)
    assert monitoring.monitoring_export_make(export_id=export.pk) is not None
    export.refresh_from_db()
    assert (export.status, export.attempts) == (ExportStatus.DONE, 2)
    assert not default_storage.exists(left_behind)
    assert [p.name for p in (media / "nip" / "exports").iterdir()] == [
        export.file.name.rsplit("/", 1)[1]
    ]


def test_an_export_whose_runs_keep_dying_fails_instead_of_killing_every_worker(nip, media, caplog):
    export, left_behind = running_after_a_dead_run(nip, attempts=monitoring.MAX_ATTEMPTS)
    assert monitoring.monitoring_export_make(export_id=export.pk) is None
    export.refresh_from_db()
    assert (export.status, export.attempts) == (ExportStatus.FAILED, monitoring.MAX_ATTEMPTS)
    assert export.finished_at is not None and export.file.name == ""
    assert not default_storage.exists(left_behind)
    assert "lost their worker" in caplog.text
    # Its message, should it come back again, finds nothing to do.
    assert monitoring.monitoring_export_make(export_id=export.pk) is None


def test_the_purge_deletes_expired_files_and_fails_lost_exports(
    nip, media, django_capture_on_commit_callbacks
):
    make_measure(granted(nip.programme))
    with (
        time_machine.travel(dt.datetime(2025, 1, 10, 9, tzinfo=AMSTERDAM), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        expired = request_export(nip)
        lost = MonitoringExport.objects.create(
            programme=nip.programme,
            period_start=H1_2024.start,
            period_end=H1_2024.end,
            format="csv",
        )
        # A run that stored its file and died before the row said done.
        left_behind = default_storage.save("nip/exports/left.csv", ContentFile(b"rows"))
        MonitoringExport.objects.filter(pk=lost.pk).update(
            status=ExportStatus.RUNNING, attempts=1, file=left_behind
        )
    with (
        time_machine.travel(dt.datetime(2025, 1, 11, 8, tzinfo=AMSTERDAM), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        fresh = request_export(nip)
    expired.refresh_from_db()
    fresh.refresh_from_db()
    name = expired.file.name
    assert default_storage.exists(name)

    with time_machine.travel(dt.datetime(2025, 1, 11, 9, 30, tzinfo=AMSTERDAM), tick=False):
        tasks.monitoring_exports_purge.delay()

    expired.refresh_from_db()
    lost.refresh_from_db()
    assert not default_storage.exists(name) and expired.file.name == ""
    assert expired.status == ExportStatus.DONE
    assert lost.status == ExportStatus.FAILED
    assert lost.file.name == "" and not default_storage.exists(left_behind)
    assert default_storage.exists(MonitoringExport.objects.get(pk=fresh.pk).file.name)


def test_the_measure_catalogue_has_every_code_the_columns_use(nip):
    codes = {code for column in monitoring.MEASURE_COLUMNS for code, _ in column.clauses}
    assert codes <= set(MeasureType.objects.values_list("code", flat=True))
