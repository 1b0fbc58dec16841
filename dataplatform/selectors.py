"""Reads of the data platform shared by its pages and API."""

from __future__ import annotations

from dataplatform.models import Publication


def latest_publication(recipient_id: int) -> Publication | None:
    """The newest publication made for an organisation, or None before the first."""
    return Publication.objects.filter(recipient_id=recipient_id).order_by("-created_at").first()
