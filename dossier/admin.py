from __future__ import annotations

from django.contrib import admin

from dossier.models import Dwelling

# Households hold personal data and are reached through the application, where access
# is checked and logged; the administrator keeps only the address reference data here.


@admin.register(Dwelling)
class DwellingAdmin(admin.ModelAdmin):
    list_display = ["postcode", "house_number", "house_letter", "house_number_addition", "city"]
    search_fields = ["postcode", "street", "city"]
    list_filter = ["dwelling_type", "municipality_code"]
