"""Builders for NIP test data: applications with their answers, money and measures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from dossier.models import Dwelling, MeasureType
from nip.models import Application, Commitment, ExecutedMeasure, Programme
from tests import builders


def make_application(
    programme: Programme,
    *,
    dwelling: Dwelling | None = None,
    commitments: dict[str, str] | None = None,
    **fields: Any,
) -> Application:
    """An application with eligible answers; `commitments` {source: amount} grants money."""
    fields.setdefault("intake_channel", "municipality")
    fields.setdefault("owner_occupied", True)
    fields.setdefault("energy_label", "E")
    fields.setdefault("build_year", 1965)
    fields.setdefault("dwelling_type", "terraced")
    fields.setdefault("woz_below_limit", True)
    fields.setdefault("income_below_threshold", False)
    fields.setdefault("group", "partial")
    if dwelling is None:
        codes = list(programme.municipality.municipalities.values_list("code", flat=True))
        dwelling = builders.make_dwelling(municipality_code=codes[0] if codes else "GM0310")
    if commitments:
        fields.setdefault("status", "approved")
        fields.setdefault("amount_granted_eur", sum(Decimal(a) for a in commitments.values()))
    application = Application.objects.create(programme=programme, dwelling=dwelling, **fields)
    for source, amount in (commitments or {}).items():
        Commitment.objects.create(
            application=application, source=source, amount_eur=Decimal(amount)
        )
    return application


def make_measure(application: Application, code: str = "cavity_wall_insulation", **fields: Any):
    fields.setdefault("area_m2", Decimal("60"))
    if code.endswith("insulation"):
        fields.setdefault("rd_value", Decimal("1.3"))
    elif code.endswith(("glass", "panels", "doors")):
        fields.setdefault("u_value", Decimal("1.1"))
    fields.setdefault("executed_on", dt.date(2024, 5, 1))
    fields.setdefault("done_by", "third_party")
    fields.setdefault("cost_eur", Decimal("2350"))
    return ExecutedMeasure.objects.create(
        application=application, measure_type=MeasureType.objects.get(code=code), **fields
    )
