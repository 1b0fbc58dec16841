"""URLs of the import of an initiative's existing residents (under /aanmeldingen/importeren/)."""

from __future__ import annotations

urlpatterns: list = []
