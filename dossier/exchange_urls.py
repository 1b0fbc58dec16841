"""URLs of messages, documents and photos; dossier/urls.py includes them in its namespace."""

from __future__ import annotations

urlpatterns: list = []
