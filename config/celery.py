from __future__ import annotations

import logging
import os
import smtplib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.signals import worker_ready
from django.db import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logger = logging.getLogger(__name__)


class OutboxTask(DjangoTask):
    """Every task of the product: `delay_on_commit` goes through the outbox.

    With a broker, the task is recorded in the caller's transaction (outbox.QueuedTask)
    and handed to the broker once that commits; a broker that is away then costs the
    caller nothing, and the drain (beat, and every worker that starts) sends it later,
    once. In-process (tests, `make run` without a broker: task_always_eager) it runs after
    the commit, exactly as Celery's own delay_on_commit.
    """

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        if self.app.conf.task_always_eager:
            super().delay_on_commit(*args, **kwargs)
            return
        # Imported here: this module is loaded before Django's apps are.
        from outbox import relay

        relay.enqueue_on_commit(self.name, args, kwargs)


app = Celery("woningdossier", task_cls=OutboxTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Sent by every worker once it is ready: what waited in the outbox while the broker was
# away, and the jobs whose worker died (their lease ran out) are taken up again now
# rather than at the next beat, or after the broker's hour of visibility timeout.
WORKER_READY_TASKS = (
    "outbox.tasks.drain",
    "dossier.tasks.advice_reports_sweep",
    "nip.tasks.monitoring_exports_sweep",
    "dataplatform.tasks.deliveries_send",
)


@worker_ready.connect(dispatch_uid="config-worker-ready")
def _worker_ready(sender: Any = None, **kwargs: Any) -> None:
    for name in WORKER_READY_TASKS:
        try:
            app.send_task(name)
        except Exception as exc:  # beat sends them again within a minute
            logger.warning("could not send %s on worker start: %s", name, type(exc).__name__)


@contextmanager
def lease_kept(renew: Callable[[], object], *, every: float) -> Iterator[None]:
    """Call `renew` every `every` seconds, in a thread, while the block runs.

    A job that holds a lease (a report, a monitoring export) keeps it while it works, so
    a slow job is never taken for one whose worker died. The thread has its own database
    connection, closed when the block ends. In-process (tests, `make run` without a
    broker) there is no other worker to take a job over, and no lease to keep.
    """
    if app.conf.task_always_eager:
        yield
        return
    stop = threading.Event()

    def keep() -> None:
        from django.db import connections

        try:
            while not stop.wait(every):
                try:
                    renew()
                except Exception as exc:  # the next renewal may work
                    logger.warning("lease not renewed: %s", type(exc).__name__)
        finally:
            connections.close_all()

    thread = threading.Thread(target=keep, name="lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


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
