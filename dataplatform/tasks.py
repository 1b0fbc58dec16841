"""Background work of the data platform. Tasks take ids, load, call a service.

Their messages pass through the broker and its logs, so they carry ids only: an
organisation's at most. Retries of a delivery are not Celery's: the outbox row keeps its
own attempts and next attempt (dataplatform/delivery.py), so a lost task loses nothing.
"""

from __future__ import annotations

from celery import shared_task

# delivery enqueues this module's tasks and the tasks call it: both import the module,
# not names from it, so the cycle resolves whichever is imported first.
from dataplatform import delivery


@shared_task
def deliveries_send() -> None:
    """Beat's job every minute (and after a publication): send the deliveries that are due."""
    delivery.deliveries_send()


@shared_task
def publications_make() -> None:
    """Beat's daily job: make a publication for every recipient, then send them.

    First every household's row in the aggregates is counted again (dataplatform.shared),
    so that a change no signal reported is in the publication too.
    """
    # Imported here: dataplatform.publication imports the aggregation, which this module
    # does not need just to send what is already made.
    from dataplatform import publication, shared

    shared.shared_households_check()
    publication.publications_make()
    deliveries_send.delay_on_commit()


@shared_task
def publication_make_now(recipient_id: int) -> None:
    """One recipient's publication now, then send it: the administrator recorded or changed
    an agreement, or asked for it, and should not have to wait for the night."""
    from accounts.models import Organisation
    from dataplatform import publication

    recipient = Organisation.objects.filter(
        pk=recipient_id, is_active=True, kind__in=publication.RECIPIENT_KINDS
    ).first()
    if recipient is None:
        return
    if publication.publication_make(recipient=recipient) is not None:
        deliveries_send.delay_on_commit()
