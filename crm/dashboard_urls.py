"""URLs of the initiative's dashboard and its case exports (under /initiatief/)."""

from __future__ import annotations

urlpatterns: list = []
