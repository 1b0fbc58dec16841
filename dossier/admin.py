from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dossier import services
from dossier.calculations import Parameter, ParameterError, Parameters
from dossier.models import Dwelling, MeasureType, ParameterSet, ParameterValue

# Households hold personal data and are reached through the application, where access
# is checked and logged; the administrator keeps only the address reference data here.


@admin.register(Dwelling)
class DwellingAdmin(admin.ModelAdmin):
    list_display = ["postcode", "house_number", "house_letter", "house_number_addition", "city"]
    search_fields = ["postcode", "street", "city"]
    list_filter = ["dwelling_type", "municipality_code"]


@admin.register(MeasureType)
class MeasureTypeAdmin(admin.ModelAdmin):
    """The measure catalogue is reference data the administrator keeps."""

    list_display = ["name", "code", "category", "component", "isde_eligible", "nip_eligible"]
    list_editable = ["isde_eligible", "nip_eligible"]
    list_filter = ["category", "is_active"]
    search_fields = ["name", "code"]
    ordering = ["sort_order", "code"]


class ParameterValueForm(forms.ModelForm):
    """One value, checked together with the rest of its set (the core refuses a broken set)."""

    class Meta:
        model = ParameterValue
        fields = ["parameter_set", "key", "value", "unit", "source", "verified"]

    def clean(self) -> dict:
        data = super().clean()
        parameter_set = data.get("parameter_set") or getattr(self.instance, "parameter_set", None)
        if parameter_set is None or "value" not in data:
            return data
        if parameter_set.locked:
            raise ValidationError(_("This parameter set is locked; copy it to a new version."))
        key = data.get("key", self.instance.key)
        rows = [
            Parameter(key=row.key, value=row.value)
            for row in parameter_set.values.exclude(pk=self.instance.pk)
        ]
        rows.append(Parameter(key=key, value=data["value"]))
        try:
            Parameters.from_rows(version=parameter_set.version, valid_from="", rows=rows)
        except ParameterError as error:
            raise ValidationError(str(error)) from error
        return data


def _locked(obj: ParameterSet | ParameterValue | None) -> bool:
    if isinstance(obj, ParameterValue):
        return obj.parameter_set.locked
    return bool(obj and obj.locked)


@admin.register(ParameterValue)
class ParameterValueAdmin(admin.ModelAdmin):
    """The figures of one set, searchable by key, editable in the list while unlocked."""

    form = ParameterValueForm
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
class ParameterSetAdmin(admin.ModelAdmin):
    """Every figure of the calculation core, versioned: a kept report names its version."""

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
