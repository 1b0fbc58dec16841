"""The CRM's answers to what happens in the dossier (dossier/signals.py)."""

from __future__ import annotations

from typing import Any

from crm import services


def on_dossier_submitted(sender: Any, *, dossier: Any, actor: Any, **kwargs: Any) -> None:
    services.case_dossier_submitted(household_id=dossier.household_id, actor=actor)


def on_advice_report_delivered(
    sender: Any, *, report: Any, how: str, actor: Any, **kwargs: Any
) -> None:
    services.case_report_delivered(household_id=report.dossier.household_id, how=how, actor=actor)
