"""The dossier API under /api/v1/."""

from __future__ import annotations

app_name = "dossier-api"

urlpatterns: list = []
