"""The RVO monitoring pages: the check, the downloads, background files, access and the log."""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
import re
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from auditlog.models import LogEntry
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from nip import monitoring
from nip.models import ExportStatus, MonitoringExport
from tests import builders
from tests.nip.builders import make_application, make_measure
from tests.nip.test_monitoring import RVO_HEADERS
from tests.test_browser import log_in, serious_violations

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://x","klik")'
PERIOD = "2024-h1"


def granted(programme, **fields):
    fields.setdefault("status", "approved")
    fields.setdefault("amount_granted_eur", Decimal("1460"))
    return make_application(programme, **fields)


def home(programme, **fields):
    application = granted(programme, **fields)
    make_measure(application, "cavity_wall_insulation", area_m2=Decimal("55"), done_by="diy")
    return application


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def homes(nip):
    """Two homes of A's programme in the first half of 2024 (one with a formula for a
    street, one without a WOZ answer), and one of B's."""
    formula = home(nip.programme, dwelling=builders.make_dwelling(street=FORMULA, house_number=3))
    no_woz = home(
        nip.programme,
        dwelling=builders.make_dwelling(street="Dorpsstraat", house_number=8),
        woz_below_limit=None,
    )
    home(nip.programme_b, dwelling=builders.make_dwelling(street="Straat van B"))
    return formula, no_woz


def page_url(programme, period: str | None = PERIOD) -> str:
    url = reverse("nip:monitoring", args=[programme.pk])
    return f"{url}?period={period}" if period else url


def download_url(programme, fmt: str, period: str = PERIOD) -> str:
    return reverse("nip:monitoring-download", args=[programme.pk, period, fmt])


def create_url(programme) -> str:
    return reverse("nip:monitoring-export-create", args=[programme.pk])


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def csv_rows(response) -> list[list[str]]:
    content = body(response)
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def access_log(programme):
    return LogEntry.objects.get_for_object(programme).filter(action=LogEntry.Action.ACCESS)


# The page ----------------------------------------------------------------------------------


def test_the_page_lists_the_homes_with_missing_fields(cast, nip, login, homes):
    formula, no_woz = homes
    response = login(cast.municipality_staff).get(page_url(nip.programme))
    assert response.status_code == 200
    check = response.context["check"]
    assert (check.homes, check.incomplete) == (2, 1)
    html = response.content.decode()
    row = re.search(rf'<tr[^>]*data-application="{no_woz.pk}".*?</tr>', html, re.S)
    assert row is not None
    assert "Dorpsstraat 8" in row[0]
    assert 'data-code="woz_below_limit"' in row[0]
    assert f'data-application="{formula.pk}"' not in html
    # The downloads of the chosen period, by code.
    assert download_url(nip.programme, "xlsx") in html
    assert download_url(nip.programme, "csv") in html


def test_the_page_starts_at_the_last_period_that_has_ended(cast, nip, login):
    with time_machine.travel(dt.datetime(2025, 8, 1, 12, tzinfo=dt.UTC)):
        response = login(cast.municipality_staff).get(page_url(nip.programme, None))
    assert response.context["period"].code == "2025-h1"
    choices = [code for code, _ in response.context["period_form"].fields["period"].choices]
    assert choices == ["2025-h2", "2025-h1", "2024-h2", "2024-h1", "2023-h2", "2023-h1"]


def test_an_unknown_period_is_said_and_the_default_shown(cast, nip, login, homes):
    response = login(cast.municipality_staff).get(page_url(nip.programme, "1999-h1"))
    assert response.status_code == 200
    assert response.context["period_form"].errors
    assert response.context["period"] is not None


def test_the_page_offers_only_the_background_for_many_homes(cast, nip, login, homes, monkeypatch):
    monkeypatch.setattr(monitoring, "IN_REQUEST_MAX_HOMES", 1)
    html = login(cast.municipality_staff).get(page_url(nip.programme)).content.decode()
    assert download_url(nip.programme, "csv") not in html
    assert 'id="too-many"' in html
    assert create_url(nip.programme) in html


# Downloads made while the request waits ----------------------------------------------------


def test_the_csv_file_is_utf8_with_bom_semicolons_and_formulas_as_text(cast, nip, login, homes):
    response = login(cast.municipality_staff).get(download_url(nip.programme, "csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert b";" in body(response).splitlines()[0]
    header, *rows = csv_rows(login(cast.municipality_staff).get(download_url(nip.programme, "csv")))
    assert header == RVO_HEADERS
    by_number = {row[1]: row for row in rows}
    assert set(by_number) == {"3", "8"}
    assert by_number["3"][0] == "'" + FORMULA
    assert by_number["8"][5] == ""
    assert by_number["3"][5] == "Onder"
    # 55 m² cavity wall, done by the residents themselves.
    assert (
        by_number["3"][
            RVO_HEADERS.index("Spouwmuurisolatie (in m2), (minimaal 10 m2 per woning) dhz")
        ]
        == "55"
    )
    assert "Straat van B" not in body(response).decode("utf-8-sig")


def test_the_xlsx_file_keeps_a_formula_looking_street_as_text(cast, nip, login, homes):
    response = login(cast.municipality_staff).get(download_url(nip.programme, "xlsx"))
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(body(response))).active
    header, *rows = [list(row) for row in sheet.iter_rows()]
    assert [c.value for c in header] == RVO_HEADERS
    formula = next(row for row in rows if row[1].value == 3)
    assert (formula[0].value, formula[0].data_type) == ("'" + FORMULA, "s")
    assert (formula[1].data_type, formula[9].value) == ("n", 1460)
    assert all(c.data_type != "f" for row in rows for c in row)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_download_is_an_uncached_attachment_named_by_ids_and_period(cast, nip, login, homes, fmt):
    response = login(cast.municipality_staff).get(download_url(nip.programme, fmt))
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"] == (
        f'attachment; filename="rvo-monitoring-{nip.programme.pk}-{PERIOD}.{fmt}"'
    )


def test_every_download_is_logged_without_an_address(cast, nip, login, homes):
    client = login(cast.municipality_staff)
    body(client.get(download_url(nip.programme, "csv")))
    body(client.get(download_url(nip.programme, "xlsx")))
    entries = access_log(nip.programme).order_by("timestamp", "pk")
    assert [(e.actor, e.additional_data) for e in entries] == [
        (
            cast.municipality_staff,
            {
                "export": "nip.monitoring",
                "period": PERIOD,
                "format": fmt,
                "rows": 2,
                "background": False,
            },
        )
        for fmt in ("csv", "xlsx")
    ]
    logged = " ".join(
        f"{e.object_repr} {e.changes_text} {e.changes} {e.serialized_data} {e.additional_data}"
        for e in entries
    )
    for personal in ("Dorpsstraat", "HYPERLINK", "Teststraat", "3731"):
        assert personal not in logged


def test_a_home_without_measures_in_the_period_is_not_in_the_file(cast, nip, login, homes):
    outside = granted(nip.programme, dwelling=builders.make_dwelling(house_number=99))
    make_measure(outside, executed_on=dt.date(2024, 7, 1))
    granted(nip.programme, dwelling=builders.make_dwelling(house_number=98))
    _header, *rows = csv_rows(
        login(cast.municipality_staff).get(download_url(nip.programme, "csv"))
    )
    assert sorted(row[1] for row in rows) == ["3", "8"]


def test_the_queries_do_not_grow_with_the_number_of_homes(cast, nip, login, nip_parameters):
    client = login(cast.municipality_staff)
    # The first request of a login also notes its start and its second step in the session.
    client.get(page_url(nip.programme))

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
            body(response)
        assert response.status_code == 200
        return len(captured.captured_queries)

    for _ in range(5):
        home(nip.programme, woz_below_limit=None)
    few = [queries(download_url(nip.programme, fmt)) for fmt in ("csv", "xlsx")]
    few_page = queries(page_url(nip.programme))
    for _ in range(45):
        home(nip.programme, woz_below_limit=None)
    assert [queries(download_url(nip.programme, fmt)) for fmt in ("csv", "xlsx")] == few
    assert queries(page_url(nip.programme)) == few_page


@pytest.mark.parametrize(
    ("period", "fmt"), [("2024-h1", "pdf"), ("1999-h1", "csv"), ("2024", "csv")]
)
def test_an_unknown_file_or_period_is_not_found_and_not_logged(cast, nip, login, period, fmt):
    response = login(cast.municipality_staff).get(download_url(nip.programme, fmt, period))
    assert response.status_code == 404
    assert not access_log(nip.programme).exists()


def test_a_yearly_programme_downloads_a_year(cast, nip, login, homes):
    nip.programme.reporting_period = "year"
    nip.programme.save()
    response = login(cast.municipality_staff).get(download_url(nip.programme, "csv", "2024"))
    assert len(csv_rows(response)) == 3


def test_too_many_homes_for_the_request_go_to_the_background(cast, nip, login, homes, monkeypatch):
    monkeypatch.setattr(monitoring, "IN_REQUEST_MAX_HOMES", 1)
    response = login(cast.municipality_staff).get(download_url(nip.programme, "csv"))
    assert response.status_code == 302
    assert response["Location"] == page_url(nip.programme)
    assert not access_log(nip.programme).exists()


# Files made in the background --------------------------------------------------------------


def make_in_background(client, nip, django_capture_on_commit_callbacks, fmt="xlsx"):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            create_url(nip.programme), {"export-period": PERIOD, "export-format": fmt}
        )
    return response


def test_a_background_export_is_made_followed_and_downloaded(
    cast, nip, login, homes, media, django_capture_on_commit_callbacks
):
    client = login(cast.municipality_staff)
    response = make_in_background(client, nip, django_capture_on_commit_callbacks, fmt="csv")
    export = MonitoringExport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("nip:monitoring-export", args=[export.pk])
    assert (export.status, export.rows_total, export.requested_by) == (
        ExportStatus.DONE,
        2,
        cast.municipality_staff,
    )
    assert (export.period_start, export.period_end, export.format) == (
        dt.date(2024, 1, 1),
        dt.date(2024, 6, 30),
        "csv",
    )
    # Nothing is logged until someone downloads the file.
    assert not access_log(nip.programme).exists()

    status = client.get(response["Location"])
    download = reverse("nip:monitoring-export-download", args=[export.pk])
    assert status.status_code == 200 and download in status.content.decode()

    response = client.get(download)
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="rvo-monitoring-{nip.programme.pk}-{PERIOD}.csv"'
    )
    assert "no-store" in response["Cache-Control"]
    header, *rows = csv_rows(response)
    assert header == RVO_HEADERS and len(rows) == 2
    [entry] = access_log(nip.programme)
    assert entry.additional_data == {
        "export": "nip.monitoring",
        "period": PERIOD,
        "format": "csv",
        "rows": 2,
        "background": True,
    }


def test_the_progress_panel_polls_until_the_file_is_ready(cast, nip, login, homes, media):
    export = MonitoringExport.objects.create(
        programme=nip.programme,
        period_start=dt.date(2024, 1, 1),
        period_end=dt.date(2024, 6, 30),
        format="xlsx",
        status=ExportStatus.RUNNING,
        rows_total=10,
        rows_done=4,
    )
    client = login(cast.municipality_staff)
    url = reverse("nip:monitoring-export", args=[export.pk])
    panel = client.get(url, headers={"HX-Request": "true"})
    html = panel.content.decode()
    assert "<html" not in html
    assert f'hx-get="{url}"' in html
    assert 'value="4"' in html and 'max="10"' in html

    assert 'id="export-restarted"' not in html
    # A second run says so: its bar starts from the beginning again.
    MonitoringExport.objects.filter(pk=export.pk).update(attempts=2, rows_done=0)
    html = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="export-restarted"' in html and 'value="0"' in html
    # The task's message came back to a new run (its worker died): it takes the export over.
    monitoring.monitoring_export_make(export_id=export.pk)
    html = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-get" not in html
    assert reverse("nip:monitoring-export-download", args=[export.pk]) in html


def test_an_expired_file_is_gone_with_a_clear_message(
    cast, nip, login, homes, media, django_capture_on_commit_callbacks
):
    client = login(cast.municipality_staff)
    make_in_background(client, nip, django_capture_on_commit_callbacks)
    export = MonitoringExport.objects.get()
    download = reverse("nip:monitoring-export-download", args=[export.pk])
    # Logged in anew each time: a session left idle for a day has ended.
    with time_machine.travel(export.expires_at - dt.timedelta(minutes=1)):
        client = login(cast.municipality_staff)
        assert client.get(download).status_code == 200
    with time_machine.travel(export.expires_at + dt.timedelta(minutes=1)):
        client = login(cast.municipality_staff)
        response = client.get(download)
        assert response.status_code == 410
        assert 'id="export-gone"' in response.content.decode()
        status = client.get(reverse("nip:monitoring-export", args=[export.pk]))
        assert 'id="export-expired"' in status.content.decode()
    assert access_log(nip.programme).count() == 1


def test_a_failed_export_says_so_and_cannot_be_downloaded(cast, nip, login):
    export = MonitoringExport.objects.create(
        programme=nip.programme,
        period_start=dt.date(2024, 1, 1),
        period_end=dt.date(2024, 6, 30),
        format="csv",
        status=ExportStatus.FAILED,
    )
    client = login(cast.municipality_staff)
    status = client.get(reverse("nip:monitoring-export", args=[export.pk]))
    assert 'id="export-failed"' in status.content.decode()
    response = client.get(reverse("nip:monitoring-export-download", args=[export.pk]))
    assert response.status_code == 302
    assert not access_log(nip.programme).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"export-period": "1999-h1", "export-format": "csv"},
        {"export-period": PERIOD, "export-format": "pdf"},
        {"export-period": "", "export-format": "xlsx"},
        {},
    ],
)
def test_a_bad_background_request_says_so_and_starts_nothing(cast, nip, login, homes, data):
    response = login(cast.municipality_staff).post(create_url(nip.programme), data)
    assert response.status_code == 400
    assert not MonitoringExport.objects.exists()
    assert [str(m) for m in response.context["messages"]]
    assert response.context["export_form"].errors


# Who may ------------------------------------------------------------------------------------


def urls(nip, export) -> list[tuple[str, str]]:
    return [
        ("get", page_url(nip.programme)),
        ("get", download_url(nip.programme, "csv")),
        ("get", download_url(nip.programme, "xlsx")),
        ("post", create_url(nip.programme)),
        ("get", reverse("nip:monitoring-export", args=[export.pk])),
        ("get", reverse("nip:monitoring-export-download", args=[export.pk])),
    ]


@pytest.fixture
def finished(nip, homes, media, django_capture_on_commit_callbacks):
    staff = nip.programme.municipality.memberships.get().user
    with django_capture_on_commit_callbacks(execute=True):
        export = monitoring.monitoring_export_request(
            programme=nip.programme,
            period=monitoring.Period(dt.date(2024, 1, 1), dt.date(2024, 6, 30)),
            fmt="csv",
            actor=staff,
        )
    return export


def test_staff_of_another_municipality_find_nothing(nip, login, finished):
    client = login(nip.staff_b)
    for method, url in urls(nip, finished):
        data = {"export-period": PERIOD, "export-format": "csv"} if method == "post" else None
        assert getattr(client, method)(url, data).status_code == 404, url
    assert MonitoringExport.objects.count() == 1
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_staff_see_their_own_programme_but_not_anothers(cast, nip, login):
    client = login(cast.municipality_staff)
    assert client.get(page_url(nip.programme)).status_code == 200
    assert client.get(page_url(nip.programme_b)).status_code == 404


@pytest.mark.parametrize("who", ["coordinator", "alice", "coordinator_b", "resident"])
def test_people_of_initiatives_and_residents_are_refused(cast, nip, login, finished, who):
    client = login(getattr(cast, who))
    for method, url in urls(nip, finished):
        data = {"export-period": PERIOD, "export-format": "csv"} if method == "post" else None
        assert getattr(client, method)(url, data).status_code == 403, url
    assert MonitoringExport.objects.count() == 1
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_anonymous_visitors_are_sent_to_the_login(client, nip, finished):
    for method, url in urls(nip, finished):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert "/login/" in response["Location"]
    assert MonitoringExport.objects.count() == 1
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_the_export_urls_hold_no_address(nip, finished):
    for _method, url in urls(nip, finished):
        assert "straat" not in url.lower() and "3731" not in url


def test_the_page_lists_the_files_made_in_the_background(cast, nip, login, finished):
    html = login(cast.municipality_staff).get(page_url(nip.programme)).content.decode()
    assert reverse("nip:monitoring-export", args=[finished.pk]) in html
    assert timezone.localtime(finished.created_at).strftime("%H:%M") in html


# In a real browser ---------------------------------------------------------------------------


@pytest.fixture
def measure_catalogue(db) -> None:
    """The measure catalogue the migration seeds, back after a transactional test's flush."""
    seed = importlib.import_module("dossier.migrations.0003_seed_measure_catalogue")
    seed.seed(apps, None)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_monitoring_fits_a_tablet_passes_axe_and_makes_a_file(
    browser_page, live_server, cast, measure_catalogue, nip, media
):
    # A long street must not make the check's table wider than a tablet.
    home(
        nip.programme,
        dwelling=builders.make_dwelling(
            street="Burgemeester van Oldenbarnevelt-Schimmelpenninckstraat"
        ),
        woz_below_limit=None,
    )
    home(nip.programme)
    page = browser_page
    page.set_viewport_size({"width": 820, "height": 1180})
    log_in(page, live_server, cast.municipality_staff.email)
    page.goto(live_server.url + page_url(nip.programme))

    assert page.get_by_role("heading", level=1).count() == 1
    assert page.locator("#check-table tbody tr").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert serious_violations(page) == []
    with page.expect_download() as download:
        page.locator(f'a[href="{download_url(nip.programme, "csv")}"]').click()
    assert download.value.suggested_filename == f"rvo-monitoring-{nip.programme.pk}-{PERIOD}.csv"

    page.locator("#export-form button[type=submit]").click()
    page.locator("#export-download").wait_for()
    assert serious_violations(page) == []
    with page.expect_download() as download:
        page.locator("#export-download").click()
    assert download.value.suggested_filename == f"rvo-monitoring-{nip.programme.pk}-{PERIOD}.xlsx"
