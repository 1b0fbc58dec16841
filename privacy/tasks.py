from __future__ import annotations

from celery import shared_task


@shared_task
def retention_purge() -> None:
    """Anonymise or delete what each initiative's retention periods say has expired."""
    from privacy import retention

    retention.purge()
