"""Recording a task in the caller's transaction, and handing recorded tasks to the broker.

- `enqueue_on_commit`: one row in the current transaction; once it commits, that row is
  sent at once. A broker that is down costs the caller nothing: the row waits.
- `drain`: every row still waiting, oldest first (beat every minute, and a worker that
  starts). Each row is locked while it is sent (FOR UPDATE SKIP LOCKED) and marked sent
  in the same transaction, so two drains, or a drain and the after-commit send, never
  hand one row over twice. The tasks are idempotent by their own claims (row locks,
  compare-and-set), so the one window left (the broker took the message, the commit of
  sent_at failed) repeats work that then finds nothing to do.

Sent rows are kept a week to look back on, then deleted by the drain.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from outbox.models import QueuedTask

logger = logging.getLogger(__name__)

# Rows locked and sent per transaction of the drain.
BATCH = 100
KEEP_SENT = dt.timedelta(days=7)
# Publishing while the broker is away must fail fast: the after-commit send runs in the
# user's request. One quick second try covers a connection the broker just closed.
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


def enqueue_on_commit(task: str, args: Sequence[Any], kwargs: dict[str, Any]) -> QueuedTask:
    """Record the task in the current transaction and send it once that commits."""
    row = QueuedTask.objects.create(task=task, args=list(args), kwargs=dict(kwargs))
    transaction.on_commit(functools.partial(send, row.pk), robust=True)
    return row


def _publish(row: QueuedTask) -> None:
    from config.celery import app

    task = app.tasks.get(row.task)
    options = {"retry": True, "retry_policy": PUBLISH_RETRY_POLICY}
    if task is not None:
        task.apply_async(args=row.args, kwargs=row.kwargs, **options)
    else:
        app.send_task(row.task, args=row.args, kwargs=row.kwargs, **options)


def _send_locked(row: QueuedTask, now: dt.datetime) -> bool:
    """Hand one locked row to the broker and record the outcome; False when it failed."""
    row.attempts += 1
    try:
        _publish(row)
    except Exception as exc:  # whatever stops the broker, the row waits
        row.last_error = type(exc).__name__[:100]
        row.save(update_fields=["attempts", "last_error"])
        logger.warning(
            "outbox: task %s (row %s) waits for the broker: %s",
            row.task,
            row.pk,
            row.last_error,
        )
        return False
    row.sent_at = now
    row.last_error = ""
    row.save(update_fields=["attempts", "last_error", "sent_at"])
    return True


def send(pk: int) -> bool:
    """Send one recorded row if it still waits; True when it was handed over now."""
    with transaction.atomic():
        row = (
            QueuedTask.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, sent_at__isnull=True)
            .first()
        )
        if row is None:
            # Sent already (by a drain), or locked by one that is sending it now.
            return False
        return _send_locked(row, timezone.now())


def drain(*, now: dt.datetime | None = None) -> int:
    """Send every waiting row, oldest first; stop at the first the broker refuses.

    Returns how many rows were handed over. Also deletes sent rows older than a week.
    """
    sent = 0
    stopped = False
    while not stopped:
        with transaction.atomic():
            rows = list(
                QueuedTask.objects.select_for_update(skip_locked=True)
                .filter(sent_at__isnull=True)
                .order_by("pk")[:BATCH]
            )
            if not rows:
                break
            for row in rows:
                if not _send_locked(row, now or timezone.now()):
                    stopped = True
                    break
                sent += 1
        if len(rows) < BATCH:
            break
    moment = now or timezone.now()
    QueuedTask.objects.filter(sent_at__lt=moment - KEEP_SENT).delete()
    if sent:
        logger.info("outbox: %s waiting task(s) handed to the broker", sent)
    return sent
