"""Background work of the dossier. Tasks take ids, load, call a service and own retries.

Their messages pass through the broker and its logs, so they carry ids only: never an
e-mail address, a name or an address.
"""

from __future__ import annotations

import contextlib
import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import OperationalError

from config.celery import MAIL_TASK_OPTIONS

# services enqueues this module's tasks and the tasks call services: both import the
# module, not names from it, so the cycle resolves whichever is imported first.
from dossier import advice_reports, exchange, services

logger = logging.getLogger(__name__)


@shared_task(**MAIL_TASK_OPTIONS)
def resident_invitation_send(user_id: int) -> None:
    """Mail the invited resident with this id the link to their dossier."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        # Removed or deactivated between the invitation and now: nothing to send.
        logger.info("invitation not sent: user %s is gone or inactive", user_id)
        return
    services.invitation_send(user=user)


@shared_task(
    acks_late=True,
    # A worker that dies mid-report (killed, out of memory) hands the task back to the
    # broker; the report's compare-and-set makes the second run the only one that counts.
    reject_on_worker_lost=True,
    # The database or the file storage away for a moment is worth another try.
    autoretry_for=(OperationalError, OSError),
    retry_backoff=10,
    retry_backoff_max=10 * 60,
    retry_jitter=True,
    max_retries=5,
)
def advice_report_render(report_id: int) -> None:
    """Make the PDF of the advice report with this id from the figures it keeps."""
    advice_reports.report_render(report_id=report_id)


@shared_task(**MAIL_TASK_OPTIONS)
def advice_report_send(report_id: int) -> None:
    """Mail the finished advice report with this id to the residents, once."""
    try:
        advice_reports.report_send(report_id=report_id)
    except Exception:
        # This task's retries own the mail for a while; the sweep waits for them.
        with contextlib.suppress(Exception):
            advice_reports.report_send_failed(report_id=report_id)
        raise


@shared_task
def advice_reports_sweep() -> None:
    """Beat's job every minute, and a worker's when it starts: reports whose worker died
    (their lease ran out) are made or mailed again."""
    advice_reports.reports_sweep()


@shared_task(**MAIL_TASK_OPTIONS)
def message_notification_send(message_id: int, user_id: int) -> None:
    """Tell the person with this id that the dossier of this message has a new message."""
    exchange.message_notification_send(message_id=message_id, user_id=user_id)
