"""The NIP API under /api/v1/nip/ (namespace "nip-api")."""

from __future__ import annotations

app_name = "nip-api"

urlpatterns: list = []
