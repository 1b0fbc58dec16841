from __future__ import annotations

from celery import shared_task


# A first run over years of audit entries, or a night with many households to erase,
# may take longer than the default five minutes. Stopping half-way is safe (each removal
# commits with its proof), so the limits only bound a run that hangs.
@shared_task(soft_time_limit=30 * 60, time_limit=35 * 60)
def retention_purge() -> None:
    """Beat's daily job: anonymise or delete what each retention period says has expired."""
    from privacy import retention

    retention.purge()
