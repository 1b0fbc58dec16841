"""The NIP API under /api/v1/nip/ (namespace "nip-api")."""

from __future__ import annotations

from django.urls import path

from nip import api

app_name = "nip-api"

urlpatterns = [
    path("eligibility/", api.EligibilityApi.as_view(), name="eligibility"),
]
