"""Background work of the dossier. Tasks take ids, load, call a service and own retries.

Their messages pass through the broker and its logs, so they carry ids only: never an
e-mail address, a name or an address.
"""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.contrib.auth import get_user_model

# services enqueues this module's tasks and the tasks call services: both import the
# module, not names from it, so the cycle resolves whichever is imported first.
from dossier import services

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    # A mail server that is down, slow or busy for a while (SMTPException is an OSError,
    # as are refused and timed-out connections) is worth trying again.
    autoretry_for=(OSError,),
    # A refused recipient stays refused: retrying only repeats the bounce.
    dont_autoretry_for=(smtplib.SMTPRecipientsRefused,),
    retry_backoff=30,
    retry_backoff_max=60 * 60,
    retry_jitter=True,
    max_retries=8,
)
def resident_invitation_send(user_id: int) -> None:
    """Mail the invited resident with this id the link to their dossier."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        # Removed or deactivated between the invitation and now: nothing to send.
        logger.info("invitation not sent: user %s is gone or inactive", user_id)
        return
    services.invitation_send(user=user)
