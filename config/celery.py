from __future__ import annotations

import os
import smtplib

from celery import Celery
from django.db import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("woningdossier")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The options of every task that sends mail. A mail server that is down, slow or busy
# for a while (SMTPException is an OSError, as are refused and timed-out connections),
# or the database away for a moment, is worth trying again; a refused recipient stays
# refused, so retrying would only repeat the bounce. acks_late and reject_on_worker_lost
# are the settings' defaults for every task.
MAIL_TASK_OPTIONS = {
    "autoretry_for": (OSError, OperationalError),
    "dont_autoretry_for": (smtplib.SMTPRecipientsRefused,),
    "retry_backoff": 30,
    "retry_backoff_max": 60 * 60,
    "retry_jitter": True,
    "max_retries": 8,
}
