from __future__ import annotations

from django.urls import path

from privacy import retention_views

urlpatterns = [
    path(
        "bewaartermijnen/<slug:slug>/",
        retention_views.retention_settings,
        name="retention-settings",
    ),
    path(
        "bewaartermijnen/<slug:slug>/verwijderingen.csv",
        retention_views.retention_removals_csv,
        name="retention-removals-csv",
    ),
]
