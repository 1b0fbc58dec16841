"""Retention settings and the proof of removals, for the administrator to read only.

An initiative sets its own periods on its retention page; the proof of a removal is
evidence, so nobody changes or deletes it here, the administrator included.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from privacy.models import Removal, RetentionSetting


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RetentionSetting)
class RetentionSettingAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "category", "days", "updated_at"]
    list_filter = ["category"]
    list_select_related = ["organisation"]


@admin.register(Removal)
class RemovalAdmin(ReadOnlyAdmin):
    list_display = ["performed_at", "reason", "rule", "organisation", "household_id"]
    list_filter = ["reason", "rule"]
    list_select_related = ["organisation"]
    date_hierarchy = "performed_at"
    # Removing a row is a deletion of proof: no bulk action either.
    actions = None
