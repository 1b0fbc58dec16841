"""The consent pages: a household's consents and the coordinator's overview."""

from __future__ import annotations

from django.urls import path

from dataplatform import consent_views

urlpatterns = [
    path("", consent_views.consent_overview, name="consent-overview"),
    path("<int:household_pk>/", consent_views.consent_page, name="consent"),
]
