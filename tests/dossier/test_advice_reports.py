"""Advice reports: asked for on the page, made by a task, kept per version, sent or printed."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pypdf import PdfReader

from dossier import advice_reports, reports, tasks
from dossier.models import (
    AdviceReport,
    BuildingComponent,
    Delivery,
    Dossier,
    DossierMeasure,
    ParameterSet,
    ReportStatus,
)

pytestmark = pytest.mark.django_db

SITE = "https://woningdossier.example.nl"
SUMMARY = 'Beste familie, <script>alert("x")</script> & <b>tot ziens</b>'


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SITE_URL = SITE
    return settings.MEDIA_ROOT


def files_in(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def prepare(household) -> Dossier:
    """A corner house from 1965 with advice on three measures."""
    dossier = Dossier.objects.get(pk=household.dossier.pk)
    dossier.dwelling_type = "corner"
    dossier.build_year = 1965
    dossier.floor_area_m2 = 120
    dossier.gas_m3_per_year = 1900
    dossier.heating_system = "hr_boiler"
    dossier.ownership = "owner"
    dossier.save()
    BuildingComponent.objects.filter(dossier=dossier).update(insulation="none")
    advice = {
        "floor_insulation": ("high", "Kruipruimte is droog & goed bereikbaar."),
        "cavity_wall_insulation": ("high", "Laat eerst de spouw <b>inspecteren</b>."),
        "hr_glass": ("medium", ""),
    }
    for code, (priority, note) in advice.items():
        DossierMeasure.objects.filter(dossier=dossier, measure_type__code=code).update(
            advice_priority=priority, advice_note=note
        )
    return dossier


@pytest.fixture
def make_report(cast, django_capture_on_commit_callbacks):
    """Ask for a report as Alice; what waits for the commit (the task) runs as it would."""

    def make(*, delivery=Delivery.EMAIL, summary=SUMMARY, actor=None):
        with django_capture_on_commit_callbacks(execute=True):
            report = advice_reports.report_request(
                dossier=Dossier.objects.get(pk=cast.household_a.dossier.pk),
                actor=actor or cast.alice,
                summary=summary,
                delivery=delivery,
            )
        report.refresh_from_db()
        return report

    return make


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def reports_url(household) -> str:
    return reverse("dossier:dossier-reports", args=[household.dossier.pk])


# Asking for a report ---------------------------------------------------------------------


def test_it_keeps_the_figures_of_the_day_and_locks_the_parameters(cast, make_report):
    prepare(cast.household_a)
    with mock.patch.object(tasks.advice_report_render, "apply_async") as apply_async:
        report = make_report()

    assert report.number == 1 and report.status == ReportStatus.QUEUED
    assert report.parameter_set.locked
    figures = report.figures
    assert figures["parameters"]["version"] == report.parameter_set.version
    # Advised in order of priority: the two "do this first" measures before the glass.
    assert [m["code"] for m in figures["advised"]][-1] == "hr_glass"
    assert {m["code"] for m in figures["advised"][:2]} == {
        "floor_insulation",
        "cavity_wall_insulation",
    }
    first = figures["advised"][0]["figures"]
    assert first["net_cost_eur"]["value"] > 0 and first["net_cost_eur"]["formula"]
    assert figures["home"]["address"] == cast.household_a.dwelling.street_line
    assert figures["home"]["dwelling_type"] == "hoekwoning"
    # The task message carries the report's id and nothing else.
    apply_async.assert_called_once()
    args, kwargs = apply_async.call_args.args[:2]
    assert tuple(args) == (report.pk,) and not kwargs
    message = json.dumps([list(args), kwargs or {}])
    assert cast.household_a.dwelling.street not in message
    assert "Familie" not in message


def test_a_kept_report_does_not_change_when_the_dossier_or_parameters_do(cast, make_report):
    prepare(cast.household_a)
    report = make_report()
    kept = json.dumps(report.figures, sort_keys=True)

    Dossier.objects.filter(pk=report.dossier_id).update(floor_area_m2=300, gas_m3_per_year=4000)
    # A locked set refuses changes: an administrator has to copy it to a new version.
    value = report.parameter_set.values.first()
    with pytest.raises(ValidationError):
        value.full_clean()

    report.refresh_from_db()
    assert json.dumps(report.figures, sort_keys=True) == kept


def test_a_double_submit_makes_one_report(cast, make_report):
    prepare(cast.household_a)
    with mock.patch.object(tasks.advice_report_render, "apply_async") as apply_async:
        first = make_report()
        second = make_report(summary="andere tekst")

    assert second.pk == first.pk
    assert AdviceReport.objects.count() == 1
    assert apply_async.call_count == 1


def test_each_new_report_is_a_new_version_and_the_old_ones_stay(cast, make_report):
    prepare(cast.household_a)
    first = make_report()
    Dossier.objects.filter(pk=first.dossier_id).update(gas_m3_per_year=1200)

    second = make_report()

    first.refresh_from_db()
    assert (first.number, second.number) == (1, 2)
    assert first.status == second.status == ReportStatus.DONE
    assert first.pdf.name != second.pdf.name
    assert first.figures["home"]["gas_m3_per_year"] == 1900
    assert second.figures["home"]["gas_m3_per_year"] == 1200


def test_it_refuses_e_mail_for_a_household_without_an_address(cast, make_report):
    prepare(cast.household_a)
    cast.household_a.residents.clear()

    with pytest.raises(ValidationError) as refused:
        make_report(delivery=Delivery.EMAIL)

    assert "print" in refused.value.messages[0]
    assert AdviceReport.objects.count() == 0


# Making the PDF ----------------------------------------------------------------------------


def test_the_task_makes_a_pdf_with_the_home_the_advice_and_escaped_text(cast, media, make_report):
    prepare(cast.household_a)

    report = make_report()

    report.refresh_from_db()
    assert report.status == ReportStatus.DONE, report.error
    assert report.attempts == 1 and report.finished_at and report.error == ""
    data = report.pdf.read()
    assert data.startswith(b"%PDF-")
    assert b"/EmbeddedFile" not in data
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == report.pages >= 2
    text = pdf_text(data)
    flat = re.sub(r"\s+", " ", text)
    assert cast.household_a.dwelling.street_line in flat
    assert "Vloerisolatie" in flat and "Spouwmuurisolatie" in flat
    # What the coach typed is printed as text: the markup shows, it does not act.
    assert '<script>alert("x")</script>' in flat
    assert "<b>inspecteren</b>" in flat
    assert "Energie A" in flat
    # Stored under a random name, outside anything a URL serves directly.
    assert files_in(media) == [Path(report.pdf.path)]
    assert "dossiers/reports/" in report.pdf.name
    assert cast.household_a.dwelling.street.lower() not in report.pdf.name.lower()


def test_a_failed_render_says_so_and_a_retry_makes_the_same_report(
    cast, caplog, make_report, django_capture_on_commit_callbacks
):
    prepare(cast.household_a)
    with mock.patch.object(reports, "render_pdf_pages", side_effect=RuntimeError("Kastanje")):
        report = make_report()

    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED and report.error == "render_failed"
    assert not report.pdf
    # The log names the report and the kind of error, not the text it carried.
    assert f"advice report {report.pk} failed: RuntimeError" in caplog.text
    assert "Kastanje" not in caplog.text

    with django_capture_on_commit_callbacks(execute=True):
        retried = advice_reports.report_retry(report=report, actor=cast.alice)
    retried.refresh_from_db()

    assert retried.status == ReportStatus.DONE
    assert retried.attempts == 2 and retried.number == 1
    assert retried.pdf.read().startswith(b"%PDF-")


def test_a_retry_of_a_report_that_is_fine_is_refused(cast, make_report):
    prepare(cast.household_a)
    report = make_report()

    with pytest.raises(ValidationError):
        advice_reports.report_retry(report=report, actor=cast.alice)


def test_a_repeated_delivery_of_the_task_does_nothing_twice(cast, media, mailoutbox, make_report):
    prepare(cast.household_a)
    report = make_report()
    report.refresh_from_db()
    before = files_in(media)

    tasks.advice_report_render.apply(args=[report.pk])
    tasks.advice_report_send.apply(args=[report.pk])

    after = AdviceReport.objects.get(pk=report.pk)
    assert (after.attempts, after.pdf.name) == (1, report.pdf.name)
    assert files_in(media) == before
    assert len(mailoutbox) == 1


def test_a_run_overtaken_by_a_newer_one_throws_its_pdf_away(cast, media, make_report):
    prepare(cast.household_a)
    with mock.patch.object(tasks.advice_report_render, "apply_async"):
        report = make_report()
    real = reports.render_pdf_pages

    def slow_render(*args, **kwargs):
        # While this run renders, the coach retries a "stuck" report and a second run
        # claims it: the first run's result no longer counts.
        AdviceReport.objects.filter(pk=report.pk).update(attempts=7)
        return real(*args, **kwargs)

    with mock.patch.object(reports, "render_pdf_pages", side_effect=slow_render):
        assert advice_reports.report_render(report_id=report.pk) is None

    report.refresh_from_db()
    assert report.status == ReportStatus.RUNNING and not report.pdf
    assert files_in(media) == []


# Delivery --------------------------------------------------------------------------------


def test_it_mails_the_resident_the_pdf_once(cast, mailoutbox, make_report):
    prepare(cast.household_a)

    report = make_report()

    report.refresh_from_db()
    assert report.sent_at is not None
    assert [m.to for m in mailoutbox] == [[cast.resident.email]]
    mail = mailoutbox[0]
    assert "Energie A" in mail.subject
    name, content, mime = mail.attachments[0]
    assert (name, mime) == (f"adviesrapport-{report.dossier_id}-1.pdf", "application/pdf")
    assert content == report.pdf.open("rb").read()
    assert SITE + reports_url(cast.household_a) in mail.body
    assert advice_reports.report_send(report_id=report.pk) is False
    assert len(mailoutbox) == 1


def test_a_report_on_paper_waits_in_the_print_list_until_marked(cast, mailoutbox, make_report):
    prepare(cast.household_a)

    report = make_report(delivery=Delivery.PRINT)

    assert mailoutbox == []
    assert list(advice_reports.to_print(viewer=cast.alice)) == [report]
    assert list(advice_reports.to_print(viewer=cast.charlie)) == []
    advice_reports.report_mark_printed(report=report, actor=cast.alice)
    assert list(advice_reports.to_print(viewer=cast.alice)) == []


# Pages -------------------------------------------------------------------------------------


def test_the_coach_asks_for_a_report_on_the_page_and_sees_it_ready(
    cast, login, mailoutbox, django_capture_on_commit_callbacks
):
    prepare(cast.household_a)
    client = login(cast.alice)

    page = client.get(reports_url(cast.household_a))
    assert page.status_code == 200
    assert cast.resident.email in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reports_url(cast.household_a), {"summary": SUMMARY, "delivery": "email"}
        )
    response = client.get(response["Location"])

    html = response.content.decode()
    report = AdviceReport.objects.get()
    assert report.summary == SUMMARY and report.created_by == cast.alice
    assert reverse("dossier:report-file", args=[report.dossier_id, report.pk]) in html
    # Ready: the list stops asking the server.
    assert "hx-trigger" not in html.split('id="report-list"')[1].split(">")[0]
    assert len(mailoutbox) == 1


def test_the_list_polls_while_a_report_is_being_made(cast, login, make_report):
    prepare(cast.household_a)
    with mock.patch.object(tasks.advice_report_render, "apply_async"):
        make_report()

    response = login(cast.alice).get(
        reverse("dossier:report-progress", args=[cast.household_a.dossier.pk]),
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="report-list"')
    assert 'hx-trigger="every 3s"' in html
    assert "<html" not in html


def test_an_invalid_request_changes_nothing(cast, login):
    prepare(cast.household_a)

    response = login(cast.alice).post(
        reports_url(cast.household_a), {"summary": "x" * 4001, "delivery": "fax"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "utrecht-form-field-error-message" in html or "errorlist" in html
    assert AdviceReport.objects.count() == 0


def test_the_resident_sees_finished_reports_and_downloads_them(cast, login, make_report):
    prepare(cast.household_a)
    done = make_report()
    with mock.patch.object(tasks.advice_report_render, "apply_async"):
        Dossier.objects.filter(pk=done.dossier_id).update(gas_m3_per_year=1000)
        waiting = make_report()
    client = login(cast.resident)

    page = client.get(reports_url(cast.household_a))
    download = client.get(reverse("dossier:report-file", args=[done.dossier_id, done.pk]))
    unfinished = client.get(reverse("dossier:report-file", args=[done.dossier_id, waiting.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Make the report" not in html and "Rapport maken" not in html
    assert f"/rapporten/{done.pk}/pdf/" in html and f"/rapporten/{waiting.pk}/" not in html
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert "no-store" in download["Cache-Control"]
    assert f'filename="adviesrapport-{done.dossier_id}-1.pdf"' in download["Content-Disposition"]
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    assert unfinished.status_code == 404


def test_a_resident_cannot_make_retry_or_mark_a_report(cast, login, make_report):
    prepare(cast.household_a)
    report = make_report(delivery=Delivery.PRINT)
    client = login(cast.resident)
    pk = cast.household_a.dossier.pk

    made = client.post(reports_url(cast.household_a), {"delivery": "print"})
    printed = client.post(reverse("dossier:report-printed", args=[pk, report.pk]))

    assert made.status_code == printed.status_code == 403
    assert AdviceReport.objects.count() == 1
    report.refresh_from_db()
    assert report.printed_at is None


@pytest.mark.parametrize("who", ["charlie", "coordinator_b", "bob", "municipality_staff"])
def test_reports_are_not_found_for_others(cast, login, who, make_report):
    prepare(cast.household_a)
    report = make_report(delivery=Delivery.PRINT)
    AdviceReport.objects.filter(pk=report.pk).update(status=ReportStatus.FAILED)
    client = login(getattr(cast, who))
    pk = cast.household_a.dossier.pk

    responses = [
        client.get(reports_url(cast.household_a)),
        client.post(reports_url(cast.household_a), {"delivery": "print"}),
        client.get(reverse("dossier:report-progress", args=[pk])),
        client.get(reverse("dossier:report-file", args=[pk, report.pk])),
        client.post(reverse("dossier:report-retry", args=[pk, report.pk])),
        client.post(reverse("dossier:report-printed", args=[pk, report.pk])),
    ]

    assert [r.status_code for r in responses] == [404] * 6
    assert AdviceReport.objects.count() == 1
    assert AdviceReport.objects.get().status == ReportStatus.FAILED


def test_anonymous_visitors_are_sent_to_the_login(cast, client, make_report):
    prepare(cast.household_a)
    report = make_report(delivery=Delivery.PRINT)
    pk = cast.household_a.dossier.pk

    responses = [
        client.get(reports_url(cast.household_a)),
        client.post(reports_url(cast.household_a), {"delivery": "print"}),
        client.get(reverse("dossier:report-progress", args=[pk])),
        client.get(reverse("dossier:report-file", args=[pk, report.pk])),
        client.post(reverse("dossier:report-retry", args=[pk, report.pk])),
        client.post(reverse("dossier:report-printed", args=[pk, report.pk])),
    ]

    assert all(r.status_code == 302 and "/login/" in r["Location"] for r in responses)
    assert AdviceReport.objects.count() == 1


def test_the_coordinator_retries_a_failed_report_from_the_page(
    cast, login, make_report, django_capture_on_commit_callbacks
):
    prepare(cast.household_a)
    with mock.patch.object(reports, "render_pdf_pages", side_effect=RuntimeError):
        report = make_report()
    client = login(cast.coordinator)
    page = client.get(reports_url(cast.household_a)).content.decode()
    assert "Try again" in page or "Opnieuw proberen" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("dossier:report-retry", args=[report.dossier_id, report.pk]),
            headers={"HX-Request": "true"},
        )

    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="report-list"')
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE


def test_the_coach_marks_a_paper_report_as_printed(cast, login, make_report):
    prepare(cast.household_a)
    report = make_report(delivery=Delivery.PRINT)

    response = login(cast.alice).post(
        reverse("dossier:report-printed", args=[report.dossier_id, report.pk])
    )

    assert response.status_code == 302
    report.refresh_from_db()
    assert report.printed_at is not None
    assert ParameterSet.objects.get(pk=report.parameter_set_id).locked
