"""URLs of the NIP pages for municipality staff; each part has its own module."""

from __future__ import annotations

from django.urls import include, path

app_name = "nip"

urlpatterns = [
    path("nip/", include("nip.programme_urls")),
    path("nip/", include("nip.application_urls")),
    path("nip/", include("nip.export_urls")),
]
