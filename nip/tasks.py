"""Background work of the NIP. Tasks take ids, load, call a service and own retries.

Their messages pass through the broker and its logs, so they carry ids only: never an
address or a name.
"""

from __future__ import annotations

from celery import shared_task

# monitoring enqueues this module's tasks and the tasks call it: both import the module,
# not names from it, so the cycle resolves whichever is imported first.
from nip import monitoring


@shared_task
def monitoring_export_make(export_id: str) -> None:
    """Make the RVO monitoring file of the export with this id.

    No automatic retry: a failure marks the export failed, and staff start a new one. A
    worker that dies hands the message back, and the next run takes the export over.
    """
    monitoring.monitoring_export_make(export_id=export_id)


@shared_task
def monitoring_exports_purge() -> None:
    """Beat's hourly job: delete the files of monitoring exports that have expired."""
    monitoring.monitoring_exports_purge()


@shared_task
def monitoring_exports_sweep() -> None:
    """Beat's job every minute, and a worker's when it starts: exports whose worker died
    (their lease ran out) are made again."""
    monitoring.monitoring_exports_sweep()
