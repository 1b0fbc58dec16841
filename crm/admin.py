"""Administration of the sign-up: each initiative's form settings and privacy statements."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from crm.models import PrivacyStatement, SignupSettings


@admin.register(SignupSettings)
class SignupSettingsAdmin(admin.ModelAdmin):
    list_display = ["initiative", "is_open", "asks_membership"]
    list_filter = ["is_open"]
    fields = ["initiative", "is_open", "asks_membership", "intro", "embedding_sites"]


@admin.register(PrivacyStatement)
class PrivacyStatementAdmin(admin.ModelAdmin):
    list_display = ["initiative", "version", "valid_from"]
    list_filter = ["initiative"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Residents agreed to the text of a version in force: it can no longer change.
        if obj is not None and obj.valid_from <= timezone.now():
            return ["initiative", "version", "text", "valid_from"]
        return []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.valid_from <= timezone.now():
            return False
        return super().has_delete_permission(request, obj)
