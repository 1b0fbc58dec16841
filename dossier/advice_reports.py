"""Advice reports: asking for one, making its PDF in a task, and sending or printing it.

The figures are fixed when the report is asked for, in the request; the task only turns
them into a PDF. Each run of the task claims the report with a compare-and-set on
`attempts`, so a task that is delivered twice (a worker killed after it started, a retry
while the first run still works) never leaves two different PDFs or a stale status.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Max, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import access
from accounts.access import Action
from dossier import advice, reports, signals, tasks
from dossier.models import AdviceReport, Delivery, Dossier, ParameterSet, ReportStatus
from dossier.models.report import report_path

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# A report still "waiting" or "being made" after this long has lost its worker; the
# coach may then ask again instead of waiting forever.
STUCK_AFTER_MINUTES = 15


# Selectors -----------------------------------------------------------------------------


def report_list(*, dossier: Dossier, viewer: User) -> QuerySet[AdviceReport]:
    """The dossier's reports the viewer may see; residents see finished ones only."""
    reports_qs = AdviceReport.objects.filter(dossier=dossier).visible_to(viewer)
    if not access.is_staff_viewer(viewer, residents=dossier.household.residents.all()):
        reports_qs = reports_qs.filter(status=ReportStatus.DONE)
    return reports_qs.select_related("created_by").order_by("-number")


def report_get(*, dossier: Dossier, viewer: User, pk: int, write: bool = False) -> AdviceReport:
    return access.get_for(
        viewer,
        report_list(dossier=dossier, viewer=viewer),
        action=Action.CHANGE if write else Action.VIEW,
        pk=pk,
    )


def recipients(*, dossier: Dossier) -> list[str]:
    """The e-mail addresses of the residents with an active login, in a fixed order."""
    return sorted(
        user.email for user in dossier.household.residents.all() if user.is_active and user.email
    )


def is_stuck(report: AdviceReport, *, now: datetime | None = None) -> bool:
    if not report.in_progress:
        return False
    since = report.started_at or report.created_at
    return (now or timezone.now()) - since > timedelta(minutes=STUCK_AFTER_MINUTES)


def to_print(*, viewer: User) -> QuerySet[AdviceReport]:
    """Finished reports for residents without e-mail that nobody has printed yet."""
    return AdviceReport.objects.filter(
        status=ReportStatus.DONE, delivery=Delivery.PRINT, printed_at__isnull=True
    ).visible_to(viewer, Action.CHANGE)


# Services ------------------------------------------------------------------------------


def _in_progress(dossier: Dossier) -> AdviceReport | None:
    return dossier.reports.filter(status__in=(ReportStatus.QUEUED, ReportStatus.RUNNING)).first()


def report_request(
    *, dossier: Dossier, actor: User, summary: str = "", delivery: str = Delivery.EMAIL
) -> AdviceReport:
    """Fix today's figures in a new report version and have a worker make its PDF.

    A report that is already being made is returned instead of a second one, so a double
    click or a second tab never makes two.
    """
    if delivery not in Delivery.values:
        raise ValidationError(_("Choose how the resident receives the report."), code="delivery")
    with transaction.atomic():
        # Numbers are handed out one at a time per dossier.
        Dossier.objects.select_for_update().filter(pk=dossier.pk).exists()
        running = _in_progress(dossier)
        if running is not None:
            return running
        if delivery == Delivery.EMAIL and not recipients(dossier=dossier):
            raise ValidationError(
                _("The resident has no e-mail address here: choose to print the report."),
                code="delivery",
            )
        with translation.override(settings.LANGUAGE_CODE):
            result = advice.dossier_advice(viewer=actor, pk=dossier.pk)
            figures = advice.report_figures(
                result, coach_name=actor.get_full_name() or actor.first_name
            )
        # A set that made a kept report can no longer change: a new version is a copy.
        ParameterSet.objects.filter(pk=result.parameter_set.pk, locked=False).update(locked=True)
        result.parameter_set.locked = True
        number = (dossier.reports.aggregate(last=Max("number"))["last"] or 0) + 1
        try:
            with transaction.atomic():
                report = AdviceReport.objects.create(
                    dossier=dossier,
                    number=number,
                    parameter_set=result.parameter_set,
                    figures=figures,
                    summary=summary.strip()[:4000],
                    delivery=delivery,
                    created_by=actor,
                )
        except IntegrityError:
            # Another request for this dossier won the race (SQLite has no row lock).
            running = _in_progress(dossier)
            if running is None:
                raise
            return running
        tasks.advice_report_render.delay_on_commit(report.pk)
    return report


def report_retry(*, report: AdviceReport, actor: User) -> AdviceReport:
    """Make the PDF of a failed (or stuck) report again, from the same figures."""
    if not (report.status == ReportStatus.FAILED or is_stuck(report)):
        raise ValidationError(_("This report does not need to be made again."), code="state")
    with transaction.atomic():
        try:
            with transaction.atomic():
                updated = AdviceReport.objects.filter(
                    pk=report.pk, status=report.status, attempts=report.attempts
                ).update(status=ReportStatus.QUEUED, error="", started_at=None)
        except IntegrityError:
            raise ValidationError(
                _("Another report of this dossier is being made; wait until it is ready."),
                code="busy",
            ) from None
        if updated:
            tasks.advice_report_render.delay_on_commit(report.pk)
    report.refresh_from_db()
    return report


@transaction.atomic
def report_mark_printed(*, report: AdviceReport, actor: User) -> AdviceReport:
    if report.status != ReportStatus.DONE:
        raise ValidationError(_("The report is not ready yet."), code="state")
    printed = AdviceReport.objects.filter(pk=report.pk, printed_at__isnull=True).update(
        printed_at=timezone.now()
    )
    report.refresh_from_db()
    if printed:
        signals.advice_report_delivered.send(
            sender=AdviceReport, report=report, how=Delivery.PRINT, actor=actor
        )
    return report


def _finish(pk: int, attempt: int, **fields: object) -> int:
    return AdviceReport.objects.filter(pk=pk, attempts=attempt, status=ReportStatus.RUNNING).update(
        finished_at=timezone.now(), **fields
    )


def report_render(*, report_id: int) -> AdviceReport | None:
    """Make the PDF of a waiting report (the task's work); None when there is nothing to do."""
    claimed = AdviceReport.objects.filter(
        pk=report_id, status__in=(ReportStatus.QUEUED, ReportStatus.RUNNING)
    ).update(
        status=ReportStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=timezone.now(),
        error="",
    )
    if not claimed:
        # Finished, failed and not retried, or deleted: a late or repeated delivery.
        return None
    report = AdviceReport.objects.select_related("dossier__household__initiative").get(pk=report_id)
    attempt = report.attempts
    try:
        pdf, pages = reports.advice_report_pdf(
            figures=report.figures,
            organisation=report.dossier.household.initiative,
            number=report.number,
            summary=report.summary,
        )
    except Exception as exc:
        # The exception's text may quote the report; the log gets its kind only.
        logger.error("advice report %s failed: %s", report_id, type(exc).__name__)
        _finish(report_id, attempt, status=ReportStatus.FAILED, error="render_failed")
        return None
    name = default_storage.save(report_path(report, ""), ContentFile(pdf))
    try:
        with transaction.atomic():
            old = report.pdf.name
            if not _finish(report_id, attempt, status=ReportStatus.DONE, pdf=name, pages=pages):
                # A newer run took the report over; its PDF is the one that counts.
                default_storage.delete(name)
                return None
            if old and old != name:
                transaction.on_commit(lambda: default_storage.delete(old))
            if report.delivery == Delivery.EMAIL:
                tasks.advice_report_send.delay_on_commit(report_id)
    except BaseException:
        default_storage.delete(name)
        raise
    report.refresh_from_db()
    return report


def report_send(*, report_id: int) -> bool:
    """Mail a finished report to the residents, once; True when it was sent now."""
    with transaction.atomic():
        report = (
            AdviceReport.objects.select_for_update()
            .filter(pk=report_id, status=ReportStatus.DONE, sent_at__isnull=True)
            .select_related("dossier__household__initiative")
            .first()
        )
        if report is None:
            return False
        to = recipients(dossier=report.dossier)
        if not to:
            # The resident's login went away since the request: print it instead.
            report.delivery = Delivery.PRINT
            report.save(update_fields=["delivery"])
            return False
        initiative = report.dossier.household.initiative
        context = {
            "initiative": initiative.name,
            "coach_name": report.figures.get("coach_name", ""),
            "link": settings.SITE_URL
            + reverse("dossier:dossier-reports", kwargs={"pk": report.dossier_id}),
        }
        with translation.override(settings.LANGUAGE_CODE):
            subject = render_to_string("emails/advice-report-subject.txt", context).strip()
            body = render_to_string("emails/advice-report-body.txt", context)
        message = EmailMessage(
            subject, body, to=to, headers={"Message-ID": report_message_id(report)}
        )
        with report.pdf.open("rb") as handle:
            message.attach(report_filename(report), handle.read(), "application/pdf")
        # Sent inside the row lock: a second run waits, then finds sent_at set. A crash
        # between the mail server's yes and the commit can still send it twice; a
        # duplicate report in the inbox is better than none, and its Message-ID, the
        # same on every attempt, lets a mail system that already has it drop it.
        message.send()
        report.sent_at = timezone.now()
        report.save(update_fields=["sent_at"])
        signals.advice_report_delivered.send(
            sender=AdviceReport, report=report, how=Delivery.EMAIL, actor=None
        )
    return True


def report_message_id(report: AdviceReport) -> str:
    """The Message-ID of the report's mail: the same on every attempt, ids only."""
    host = urlsplit(settings.SITE_URL).hostname or "woningdossier"
    return f"<adviesrapport-{report.pk}-{report.number}@{host}>"


def report_filename(report: AdviceReport) -> str:
    # Ids only: the address would put personal data in every download folder's listing.
    return f"adviesrapport-{report.dossier_id}-{report.number}.pdf"
