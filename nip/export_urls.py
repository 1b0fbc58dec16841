"""URLs of the NIP's RVO monitoring (included by nip/urls.py under /nip/, namespace "nip").

A programme's pages live under /nip/<programme>/, as its other pages do.

Periods are named by codes ("2024-h1", "2024") and background exports by a random id:
no address or name is ever part of these URLs.
"""

from __future__ import annotations

from django.urls import path

from nip import export_views

urlpatterns = [
    path("<int:pk>/monitoring/", export_views.monitoring_page, name="monitoring"),
    # period: a code of monitoring.periods(); fmt: xlsx or csv.
    path(
        "<int:pk>/monitoring/<slug:period>.<slug:fmt>",
        export_views.monitoring_download,
        name="monitoring-download",
    ),
    path(
        "<int:pk>/monitoring/bestanden/",
        export_views.monitoring_export_create,
        name="monitoring-export-create",
    ),
    path(
        "monitoring/<uuid:export>/",
        export_views.monitoring_export,
        name="monitoring-export",
    ),
    path(
        "monitoring/<uuid:export>/download/",
        export_views.monitoring_export_download,
        name="monitoring-export-download",
    ),
]
