"""The outbox: background work recorded in the transaction that asked for it.

`config.celery.OutboxTask.delay_on_commit` writes one row per task in the caller's
transaction; after the commit the row is handed to the broker (outbox.relay). A row the
broker could not take waits here and is sent by the drain (every minute, and when a
worker starts). A row rolled back with its transaction was never asked for.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class QueuedTask(models.Model):
    # The task's name and its arguments: ids only, as every task message (never a name,
    # an address or an e-mail: the row is read by the admin and lands in the broker).
    task = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("handed to the queue at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # The kind of the last error only (an exception's text may quote a URL with a password).
    last_error = models.CharField(_("last error"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("queued task")
        verbose_name_plural = _("queued tasks")
        ordering = ["pk"]
        indexes = [
            # The drain reads the waiting rows in order; sent rows are only purged.
            models.Index(fields=["id"], condition=Q(sent_at__isnull=True), name="outbox_waiting"),
            models.Index(fields=["sent_at"], name="outbox_sent_at"),
        ]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"
