"""The data platform's downloads, included under wijkcijfers/."""

from __future__ import annotations

from django.urls import path

from dataplatform import export_views

urlpatterns = [
    path("adressen/", export_views.address_export_view, name="address-export"),
    path("<str:level>.csv", export_views.aggregates_csv, name="aggregates-csv"),
]
