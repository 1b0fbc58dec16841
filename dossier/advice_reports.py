"""Advice reports: asking for one, making its PDF in a task, and sending or printing it.

The figures are fixed when the report is asked for, in the request; the task only turns
them into a PDF. Each run of the task claims the report with a compare-and-set on
`attempts`, so a task that is delivered twice (a worker killed after it started, a retry
while the first run still works) never leaves two different PDFs or a stale status.

A report in progress holds a lease (`lease_until`): a waiting report for STUCK_AFTER, a
report being made for JOB_LEASE_SECONDS, renewed by its worker while the PDF is made, and
a finished report whose mail has not gone out yet for as long as that mail may take.
When the lease runs out, the worker is taken for dead: the sweep (every minute, and when
a worker starts) has the report made or mailed again, long before the broker would hand
the dead worker's message back (after its hour of visibility timeout). The page calls the
same report "stuck" and offers to make it again.
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
from django.db.models import F, Max, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import access
from accounts.access import Action
from config.celery import lease_kept
from dossier import advice, reports, signals, tasks
from dossier.models import AdviceReport, Delivery, Dossier, ParameterSet, ReportStatus
from dossier.models.report import report_path

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# A report still waiting for a worker after this long has lost its task; the sweep sends
# it again and the coach may ask again instead of waiting forever.
STUCK_AFTER_MINUTES = 15
QUEUED_LEASE = timedelta(minutes=STUCK_AFTER_MINUTES)
# A mail that failed is retried by its task for up to an hour (config.celery
# MAIL_TASK_OPTIONS); the sweep leaves it to those retries that long, and gives up on a
# report that has not gone out a day after it was made.
SEND_FAILED_LEASE = timedelta(hours=1)
SEND_SWEEP_WINDOW = timedelta(days=1)


def job_lease() -> timedelta:
    """How long a running report is held by its worker without a sign of life."""
    return timedelta(seconds=settings.JOB_LEASE_SECONDS)


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
    """Waiting or being made, and its worker has not shown life within the lease."""
    if not report.in_progress:
        return False
    now = now or timezone.now()
    if report.lease_until is not None:
        return report.lease_until < now
    since = report.started_at or report.created_at
    return now - since > QUEUED_LEASE


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
                    lease_until=timezone.now() + QUEUED_LEASE,
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
                ).update(
                    status=ReportStatus.QUEUED,
                    error="",
                    started_at=None,
                    lease_until=timezone.now() + QUEUED_LEASE,
                )
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


def _this_run(pk: int, attempt: int) -> QuerySet[AdviceReport]:
    """The report while this run still owns it: a later run takes it over."""
    return AdviceReport.objects.filter(pk=pk, attempts=attempt, status=ReportStatus.RUNNING)


def _finish(pk: int, attempt: int, **fields: object) -> int:
    return _this_run(pk, attempt).update(finished_at=timezone.now(), **fields)


def report_render(*, report_id: int) -> AdviceReport | None:
    """Make the PDF of a waiting report (the task's work); None when there is nothing to do."""
    now = timezone.now()
    claimed = AdviceReport.objects.filter(
        pk=report_id, status__in=(ReportStatus.QUEUED, ReportStatus.RUNNING)
    ).update(
        status=ReportStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        lease_until=now + job_lease(),
        error="",
    )
    if not claimed:
        # Finished, failed and not retried, or deleted: a late or repeated delivery.
        return None
    report = AdviceReport.objects.select_related("dossier__household__initiative").get(pk=report_id)
    attempt = report.attempts

    def renew() -> None:
        _this_run(report_id, attempt).update(lease_until=timezone.now() + job_lease())

    try:
        # The lease is renewed while the PDF is made, however long that takes.
        with lease_kept(renew, every=job_lease().total_seconds() / 4):
            pdf, pages = reports.advice_report_pdf(
                figures=report.figures,
                organisation=report.dossier.household.initiative,
                number=report.number,
                summary=report.summary,
            )
    except Exception as exc:
        # The exception's text may quote the report; the log gets its kind only.
        logger.error("advice report %s failed: %s", report_id, type(exc).__name__)
        _finish(
            report_id, attempt, status=ReportStatus.FAILED, error="render_failed", lease_until=None
        )
        return None
    name = default_storage.save(report_path(report, ""), ContentFile(pdf))
    # A report to mail holds the lease of its mail: the sweep mails it should the worker
    # die before the mail went out.
    sending = timezone.now() + job_lease() if report.delivery == Delivery.EMAIL else None
    try:
        with transaction.atomic():
            old = report.pdf.name
            done = _finish(
                report_id,
                attempt,
                status=ReportStatus.DONE,
                pdf=name,
                pages=pages,
                lease_until=sending,
            )
            if not done:
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


def report_send_failed(*, report_id: int) -> None:
    """The mail of this report failed: its task's retries own it for the next hour."""
    AdviceReport.objects.filter(
        pk=report_id, status=ReportStatus.DONE, sent_at__isnull=True
    ).update(lease_until=timezone.now() + SEND_FAILED_LEASE)


def reports_sweep(*, now: datetime | None = None) -> int:
    """Make or mail again the reports whose worker died; return how many were sent again.

    A report's lease runs out only when no worker shows life for it: one being made
    renews it, one being mailed holds its row lock (skipped here). Each report taken
    gets a new lease in the same transaction as its task, so the next sweep leaves it to
    that task. The claims of the tasks make sure that a late original and the new run
    never both finish: one PDF, one mail.
    """
    now = now or timezone.now()
    expired = Q(lease_until__lt=now) | Q(
        lease_until__isnull=True, created_at__lt=now - QUEUED_LEASE
    )
    with transaction.atomic():
        to_make = list(
            AdviceReport.objects.select_for_update(skip_locked=True)
            .filter(expired, status__in=(ReportStatus.QUEUED, ReportStatus.RUNNING))
            .values_list("pk", "status")
        )
        to_mail = list(
            AdviceReport.objects.select_for_update(skip_locked=True)
            .filter(
                expired,
                status=ReportStatus.DONE,
                delivery=Delivery.EMAIL,
                sent_at__isnull=True,
                finished_at__gte=now - SEND_SWEEP_WINDOW,
            )
            .values_list("pk", flat=True)
        )
        for pk, status in to_make:
            lease = QUEUED_LEASE if status == ReportStatus.QUEUED else job_lease()
            AdviceReport.objects.filter(pk=pk).update(lease_until=now + lease)
            tasks.advice_report_render.delay_on_commit(pk)
        for pk in to_mail:
            AdviceReport.objects.filter(pk=pk).update(lease_until=now + job_lease())
            tasks.advice_report_send.delay_on_commit(pk)
    if to_make or to_mail:
        logger.warning(
            "advice reports taken up again after their worker was lost: %s made, %s mailed",
            len(to_make),
            len(to_mail),
        )
    return len(to_make) + len(to_mail)


def report_message_id(report: AdviceReport) -> str:
    """The Message-ID of the report's mail: the same on every attempt, ids only."""
    host = urlsplit(settings.SITE_URL).hostname or "woningdossier"
    return f"<adviesrapport-{report.pk}-{report.number}@{host}>"


def report_filename(report: AdviceReport) -> str:
    # Ids only: the address would put personal data in every download folder's listing.
    return f"adviesrapport-{report.dossier_id}-{report.number}.pdf"
