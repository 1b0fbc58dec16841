"""URLs of the CRM pages."""

from __future__ import annotations

app_name = "crm"

urlpatterns: list = []
