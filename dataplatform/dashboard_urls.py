"""The neighbourhood figures for municipality staff and province analysts."""

from __future__ import annotations

from django.urls import path

from dataplatform import dashboard_views

urlpatterns = [
    path("", dashboard_views.dashboard, name="dashboard"),
]
