"""The aggregates API, included at /api/v1/aggregates/."""

from __future__ import annotations

from django.urls import path

from dataplatform import api

app_name = "dataplatform-api"

urlpatterns = [
    path("<str:level>/", api.AggregatesApi.as_view(), name="aggregates"),
]
