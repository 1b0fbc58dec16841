from __future__ import annotations

from django.contrib import admin

from dossier.models import Dwelling, MeasureType

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
