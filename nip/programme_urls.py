"""URLs of the NIP's programme pages (included by nip/urls.py, namespace "nip")."""

from __future__ import annotations

urlpatterns: list = []
