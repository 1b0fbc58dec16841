"""The NIP parameters per year are reference data the administrator keeps.

Programmes, applications and their money belong to a municipality and are worked on in
the application, where access is checked and logged; they are not in the admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from nip import services
from nip.models import ParameterSet, ParameterValue


def _locked(obj: ParameterSet | ParameterValue | None) -> bool:
    if isinstance(obj, ParameterValue):
        return obj.parameter_set.locked
    return bool(obj and obj.locked)


@admin.register(ParameterValue)
class NipParameterValueAdmin(admin.ModelAdmin):
    """The figures of one set; an empty value is a figure still to be found (shown as missing)."""

    list_display = ["key", "value", "unit", "verified", "source", "parameter_set"]
    list_editable = ["value", "verified"]
    list_filter = ["parameter_set", "verified"]
    list_select_related = ["parameter_set"]
    search_fields = ["key", "source"]
    list_per_page = 50

    def has_change_permission(
        self, request: HttpRequest, obj: ParameterValue | None = None
    ) -> bool:
        return not _locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(
        self, request: HttpRequest, obj: ParameterValue | None = None
    ) -> bool:
        return not _locked(obj) and super().has_delete_permission(request, obj)


@admin.register(ParameterSet)
class NipParameterSetAdmin(admin.ModelAdmin):
    """The NIP figures per period: each decision names the version it used."""

    list_display = ["version", "valid_from", "locked", "description"]
    readonly_fields = ["locked", "created_at"]
    actions = ["copy_to_new_version"]

    def has_change_permission(self, request: HttpRequest, obj: ParameterSet | None = None) -> bool:
        return not _locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ParameterSet | None = None) -> bool:
        return not _locked(obj) and super().has_delete_permission(request, obj)

    @admin.action(description=_("Copy to a new version (valid from tomorrow)"))
    def copy_to_new_version(self, request: HttpRequest, queryset) -> None:
        for original in queryset:
            copy = services.parameter_set_copy(parameter_set=original)
            self.message_user(
                request, _("Copied to version %(version)s.") % {"version": copy.version}
            )
