"""Prefill a dwelling from the open-data tables (BAG, EP-Online, CBS areas)."""

from __future__ import annotations

from typing import Any

from dossier.models import Dwelling


def on_dwelling_prefill(sender: Any, *, dwelling: Dwelling, **kwargs: Any) -> None:
    """dossier.signals.dwelling_prefill: fill the dwelling from open data, once."""
