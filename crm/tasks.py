"""Background work of the CRM. Tasks take ids, load, call a service and own retries.

Their messages pass through the broker and its logs, so they carry ids only.
"""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.db import OperationalError

# services enqueues this module's tasks and the tasks call services: both import the
# module, not names from it, so the cycle resolves whichever is imported first.
from crm import services, signup


@shared_task(
    acks_late=True,
    # A mail server that is down, slow or busy for a while (SMTPException is an OSError,
    # as are refused and timed-out connections) is worth trying again.
    autoretry_for=(OSError, OperationalError),
    # A refused recipient stays refused: retrying only repeats the bounce.
    dont_autoretry_for=(smtplib.SMTPRecipientsRefused,),
    retry_backoff=30,
    retry_backoff_max=60 * 60,
    retry_jitter=True,
    max_retries=8,
)
def coach_assignment_mail(event_id: int) -> None:
    """Mail the coach of the assignment with this timeline id that the case is theirs."""
    services.coach_assignment_mail_send(event_id=event_id)


@shared_task(
    acks_late=True,
    autoretry_for=(OSError, OperationalError),
    dont_autoretry_for=(smtplib.SMTPRecipientsRefused,),
    retry_backoff=30,
    retry_backoff_max=60 * 60,
    retry_jitter=True,
    max_retries=8,
)
def signup_confirmation_mail(case_id: int) -> None:
    """Confirm to the person who signed up (case with this id) that the sign-up arrived."""
    signup.signup_confirmation_send(case_id=case_id)
