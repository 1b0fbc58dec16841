"""URLs of the initiative's dashboard and its case exports (under /initiatief/)."""

from __future__ import annotations

from django.urls import path

from crm import dashboard_views

urlpatterns = [
    path("", dashboard_views.dashboard_start, name="dashboard"),
    path("<int:pk>/", dashboard_views.initiative_dashboard, name="initiative-dashboard"),
    # variant: met-adres or zonder-adres; fmt: csv or xlsx.
    path(
        "<int:pk>/export/<slug:variant>.<slug:fmt>",
        dashboard_views.case_export,
        name="case-export",
    ),
]
