"""Background work of the CRM. Tasks take ids, load, call a service and own retries.

Their messages pass through the broker and its logs, so they carry ids only.
"""

from __future__ import annotations

from celery import shared_task

from config.celery import MAIL_TASK_OPTIONS

# services enqueues this module's tasks and the tasks call services: both import the
# module, not names from it, so the cycle resolves whichever is imported first.
from crm import importing, reminders, services, signup


@shared_task(**MAIL_TASK_OPTIONS)
def coach_assignment_mail(event_id: int) -> None:
    """Mail the coach of the assignment with this timeline id that the case is theirs."""
    services.coach_assignment_mail_send(event_id=event_id)


@shared_task(**MAIL_TASK_OPTIONS)
def signup_confirmation_mail(case_id: int) -> None:
    """Confirm to the person who signed up (case with this id) that the sign-up arrived."""
    signup.signup_confirmation_send(case_id=case_id)


@shared_task
def dossier_reminders() -> None:
    """Beat's daily job: remind the residents invited a week ago who have not finished yet."""
    reminders.dossier_reminders()


@shared_task
def follow_ups() -> None:
    """Beat's daily job: start the follow-up of the cases whose report went out three months ago."""
    reminders.follow_ups()


@shared_task(**MAIL_TASK_OPTIONS)
def dossier_reminder_mail(task_id: int) -> None:
    """Mail the reminder of the task with this id to the household's residents."""
    reminders.dossier_reminder_send(task_id=task_id)


@shared_task(**MAIL_TASK_OPTIONS)
def follow_up_mail(task_id: int) -> None:
    """Ask the household of the follow-up task with this id which measures they took."""
    reminders.follow_up_send(task_id=task_id)


@shared_task
def import_uploads_purge() -> None:
    """Beat's hourly job: delete uploaded resident lists older than a day."""
    importing.import_uploads_purge()
