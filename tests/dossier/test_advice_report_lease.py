"""A report whose worker died is taken up again once its lease runs out, and only then.

The real kill (SIGKILL of the whole worker, with the broker's hour of visibility timeout)
is in tests/test_worker_faults.py; here the dead run is a row left as a dead worker
leaves it, and the sweep runs in-process.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import threading
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from config.celery import app, lease_kept
from dossier import advice_reports, tasks
from dossier.models import AdviceReport, Delivery, Dossier, ReportStatus
from tests.dossier.test_advice_reports import SITE, files_in, prepare, reports_url

pytestmark = pytest.mark.django_db

LEASE = dt.timedelta(seconds=120)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SITE_URL = SITE
    return settings.MEDIA_ROOT


@pytest.fixture
def make_report(cast, django_capture_on_commit_callbacks):
    def make(*, delivery=Delivery.EMAIL):
        with django_capture_on_commit_callbacks(execute=True):
            report = advice_reports.report_request(
                dossier=Dossier.objects.get(pk=cast.household_a.dossier.pk),
                actor=cast.alice,
                delivery=delivery,
            )
        report.refresh_from_db()
        return report

    return make


@pytest.fixture
def waiting(cast, make_report):
    """A report asked for whose task has not run yet."""
    prepare(cast.household_a)
    with mock.patch.object(tasks.advice_report_render, "apply_async"):
        return make_report()


def died_while_making(report: AdviceReport, *, at: dt.datetime) -> None:
    """The row as a run leaves it when its worker is killed while it makes the PDF."""
    AdviceReport.objects.filter(pk=report.pk).update(
        status=ReportStatus.RUNNING, attempts=1, started_at=at, lease_until=at + LEASE
    )


def sweep(now: dt.datetime, django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=True):
        return advice_reports.reports_sweep(now=now)


def test_a_report_whose_worker_died_is_made_and_mailed_once_after_its_lease(
    cast,
    waiting,
    media,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    start = timezone.now()
    died_while_making(waiting, at=start)

    # While the lease runs, the run may be alive: nothing is taken up, nor called stuck.
    assert sweep(start + LEASE - dt.timedelta(seconds=1), django_capture_on_commit_callbacks) == 0
    waiting.refresh_from_db()
    assert not advice_reports.is_stuck(waiting, now=start + LEASE - dt.timedelta(seconds=1))
    assert waiting.status == ReportStatus.RUNNING

    later = start + LEASE + dt.timedelta(seconds=1)
    assert advice_reports.is_stuck(waiting, now=later)
    with time_machine.travel(later, tick=False):
        assert sweep(later, django_capture_on_commit_callbacks) == 1
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == (ReportStatus.DONE, 2)
    assert waiting.sent_at is not None
    assert files_in(media) == [media / waiting.pdf.name]
    assert [m.to for m in mailoutbox] == [[cast.resident.email]]

    # Done: later sweeps, and the dead worker's message coming back, do nothing.
    assert sweep(later + 10 * LEASE, django_capture_on_commit_callbacks) == 0
    tasks.advice_report_render.apply(args=[waiting.pk])
    tasks.advice_report_send.apply(args=[waiting.pk])
    waiting.refresh_from_db()
    assert waiting.attempts == 2 and len(mailoutbox) == 1


def test_a_report_being_made_keeps_its_lease_while_its_worker_works(waiting):
    claimed_at = timezone.now()
    renewed = threading.Event()
    seen: list[dt.datetime] = []

    def make_pdf(**kwargs):
        report = AdviceReport.objects.get(pk=waiting.pk)
        seen.append(report.lease_until)
        return b"%PDF-1.7 stand-in", 1

    with mock.patch.object(advice_reports.reports, "advice_report_pdf", side_effect=make_pdf):
        advice_reports.report_render(report_id=waiting.pk)
    # Claimed with a lease of JOB_LEASE_SECONDS from the start of the run.
    assert seen and seen[0] >= claimed_at + LEASE

    # The renewal runs beside the work, as often as asked, until the work is over.
    calls: list[int] = []

    def renew() -> None:
        calls.append(1)
        if len(calls) >= 3:
            renewed.set()

    app.conf.task_always_eager = False
    try:
        with lease_kept(renew, every=0.01):
            assert renewed.wait(30)
    finally:
        app.conf.task_always_eager = True
    after = len(calls)
    renewed.clear()
    assert not renewed.wait(0.05) and len(calls) == after


def test_the_retry_button_comes_with_the_stuck_state_and_gives_a_new_lease(
    cast, waiting, django_capture_on_commit_callbacks
):
    start = timezone.now()
    died_while_making(waiting, at=start)
    waiting.refresh_from_db()
    with pytest.raises(ValidationError):
        advice_reports.report_retry(report=waiting, actor=cast.alice)

    with time_machine.travel(start + LEASE + dt.timedelta(seconds=1), tick=False):
        assert advice_reports.is_stuck(waiting)
        with mock.patch.object(tasks.advice_report_render, "apply_async"):
            retried = advice_reports.report_retry(report=waiting, actor=cast.alice)
        assert retried.status == ReportStatus.QUEUED
        assert retried.lease_until > timezone.now()
        assert not advice_reports.is_stuck(retried)


def test_a_finished_report_whose_mail_did_not_go_out_is_mailed_after_its_lease(
    cast, waiting, mailoutbox, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.advice_report_send, "apply_async"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        advice_reports.report_render(report_id=waiting.pk)
    waiting.refresh_from_db()
    assert waiting.status == ReportStatus.DONE and waiting.sent_at is None
    finished = waiting.finished_at

    assert (
        sweep(finished + LEASE - dt.timedelta(seconds=1), django_capture_on_commit_callbacks) == 0
    )
    assert mailoutbox == []
    assert (
        sweep(finished + LEASE + dt.timedelta(seconds=1), django_capture_on_commit_callbacks) == 1
    )
    assert [m.to for m in mailoutbox] == [[cast.resident.email]]
    assert sweep(finished + 3 * LEASE, django_capture_on_commit_callbacks) == 0
    assert len(mailoutbox) == 1


def test_a_mail_that_failed_is_left_to_its_own_retries_for_an_hour(
    cast, waiting, settings, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.advice_report_send, "apply_async"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        advice_reports.report_render(report_id=waiting.pk)
    failed_at = timezone.now()
    with (
        mock.patch.object(
            advice_reports.EmailMessage, "send", side_effect=smtplib.SMTPServerDisconnected()
        ),
        mock.patch.object(tasks.advice_report_send, "retry", side_effect=RuntimeError("retry")),
        pytest.raises(RuntimeError),
    ):
        tasks.advice_report_send.run(waiting.pk)
    waiting.refresh_from_db()
    assert waiting.lease_until >= failed_at + advice_reports.SEND_FAILED_LEASE
    with mock.patch.object(tasks.advice_report_send, "apply_async") as sent:
        assert sweep(failed_at + dt.timedelta(minutes=30), django_capture_on_commit_callbacks) == 0
        assert sweep(failed_at + dt.timedelta(minutes=61), django_capture_on_commit_callbacks) == 1
    assert sent.call_count == 1


def test_a_report_on_paper_holds_no_lease_once_made(waiting):
    AdviceReport.objects.filter(pk=waiting.pk).update(delivery=Delivery.PRINT)
    advice_reports.report_render(report_id=waiting.pk)
    waiting.refresh_from_db()
    assert waiting.status == ReportStatus.DONE and waiting.lease_until is None
    assert advice_reports.reports_sweep(now=timezone.now() + 100 * LEASE) == 0


def test_the_page_offers_a_retry_once_the_lease_ran_out_and_the_retry_makes_it(
    cast, login, waiting, django_capture_on_commit_callbacks
):
    start = timezone.now()
    died_while_making(waiting, at=start)
    retry = reverse("dossier:report-retry", args=[waiting.dossier_id, waiting.pk])
    client = login(cast.alice)

    with time_machine.travel(start + LEASE - dt.timedelta(seconds=1), tick=False):
        page = client.get(reports_url(cast.household_a))
        assert page.status_code == 200
        assert retry not in page.content.decode()
        # Asked for anyway (an old tab): refused while the worker may still be at it.
        client.post(retry)
        waiting.refresh_from_db()
        assert (waiting.status, waiting.attempts) == (ReportStatus.RUNNING, 1)

    with time_machine.travel(start + LEASE + dt.timedelta(seconds=1), tick=False):
        page = client.get(reports_url(cast.household_a))
        assert retry in page.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(retry)
        assert response.status_code in (200, 302)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == (ReportStatus.DONE, 2)
