"""The dossier API under /api/v1/."""

from __future__ import annotations

from django.db import transaction
from django.urls import path

from dossier import advice_api, api

app_name = "dossier-api"

urlpatterns = [
    path("dossiers/", api.DossierListApi.as_view(), name="dossier-list"),
    path("dossiers/<int:pk>/", api.DossierDetailApi.as_view(), name="dossier-detail"),
    path(
        "dossiers/<int:pk>/sections/<str:section>/",
        api.DossierSectionUpdateApi.as_view(),
        name="dossier-section-update",
    ),
    # Stores nothing: no request transaction, so on SQLite it never waits for the write lock.
    path(
        "advice/calculate/",
        transaction.non_atomic_requests(advice_api.AdviceCalculateApi.as_view()),
        name="advice-calculate",
    ),
]
