"""The outbox, read-only: what waits for the broker and what was handed over lately."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from outbox.models import QueuedTask


@admin.register(QueuedTask)
class QueuedTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "args", "created_at", "sent_at", "attempts", "last_error"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter), "task"]
    ordering = ["-id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: QueuedTask | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: QueuedTask | None = None) -> bool:
        return False
