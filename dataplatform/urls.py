"""URLs of the data platform's pages; each part has its own module."""

from __future__ import annotations

from django.urls import include, path

app_name = "dataplatform"

urlpatterns = [
    path("toestemming/", include("dataplatform.consent_urls")),
    path("afspraken/", include("dataplatform.agreement_urls")),
    path("wijkcijfers/", include("dataplatform.dashboard_urls")),
    path("wijkcijfers/", include("dataplatform.export_urls")),
]
