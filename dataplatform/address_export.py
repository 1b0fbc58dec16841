"""The address-level export for a municipality: homes whose sharing two locks allow it.

A home is in the export only when BOTH hold on the day of the export:
- its household's initiative has a sharing agreement in force with this municipality at
  address level (an agreement at postcode-6 or a coarser level is not enough), and
- the household itself has an active consent for Purpose.ADDRESS_LEVEL (not withdrawn).
Either one alone is never enough. Only the homes in the municipality's own municipalities
(by the dwelling's CBS code) are included.

What it holds: the address, the BAG id and house characteristics from the house dossier
(dwelling type, build year, floor area, energy label and its kind, how well each part of
the shell is insulated, the measures done and wanted). Never names, e-mail addresses,
phone numbers, energy use, income, WOZ, notes or anything else a resident or coach typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils.translation import gettext as _

from accounts.models import Organisation
from dataplatform.agreements import initiatives_sharing
from dataplatform.models import ConsentRecord, Level, Purpose
from dossier.models import (
    BuildingComponent,
    ComponentKind,
    DossierMeasure,
    DwellingType,
    Household,
    MeasureStatus,
)
from dossier.models.house import Insulation, LabelKind

if TYPE_CHECKING:
    from accounts.exports import Cell

SHEET = "Adressen"
# Rows are read from the database in chunks of this many households.
CHUNK = 500


def address_households(*, recipient: Organisation, on: dt.date) -> QuerySet[Household]:
    """The households whose home may reach `recipient` with its address on `on`.

    Only a municipality receives address-level data; for any other organisation this is
    empty.
    """
    if recipient.kind != Organisation.Kind.MUNICIPALITY:
        return Household.objects.none()
    initiative_ids = initiatives_sharing(recipient=recipient, level=Level.ADDRESS, on=on)
    codes = list(recipient.municipalities.values_list("code", flat=True))
    consent = ConsentRecord.objects.filter(
        household=OuterRef("pk"), purpose=Purpose.ADDRESS_LEVEL, withdrawn_at__isnull=True
    )
    return (
        Household.objects.filter(
            Exists(consent),
            initiative_id__in=initiative_ids,
            dwelling__municipality_code__in=codes,
            dossier__isnull=False,
        )
        .select_related("dwelling", "dossier")
        .order_by(
            "dwelling__postcode",
            "dwelling__house_number",
            "dwelling__house_letter",
            "dwelling__house_number_addition",
            "pk",
        )
    )


def header() -> list[str]:
    return [
        _("Postcode"),
        _("House number"),
        _("House letter"),
        _("Addition"),
        _("Street"),
        _("City"),
        _("BAG id"),
        _("Dwelling type"),
        _("Build year"),
        _("Usable area (m²)"),
        _("Energy label"),
        _("Kind of label"),
        *(_("Insulation: %(part)s") % {"part": kind.label} for kind in ComponentKind),
        _("Measures done"),
        _("Measures wanted"),
    ]


def _label(choices: type, value: str) -> str:
    return str(choices(value).label) if value in choices.values else ""


def rows(households: QuerySet[Household]) -> Iterator[list[Cell]]:
    """One row per household, in address order, read in chunks with their components and
    their measures done or wanted (two queries per chunk, whatever its size)."""
    prefetched = households.prefetch_related(
        Prefetch("dossier__components", queryset=BuildingComponent.objects.order_by("pk")),
        Prefetch(
            "dossier__measures",
            queryset=DossierMeasure.objects.filter(
                status__in=[MeasureStatus.DONE, MeasureStatus.WANTED_NOW]
            )
            .select_related("measure_type")
            .order_by("measure_type__sort_order", "measure_type__code"),
        ),
    )
    for household in prefetched.iterator(chunk_size=CHUNK):
        dwelling = household.dwelling
        dossier = household.dossier
        insulation = {
            component.kind: _label(Insulation, component.insulation)
            for component in dossier.components.all()
        }
        done = [m.measure_type.name for m in dossier.measures.all() if m.status == "done"]
        wanted = [m.measure_type.name for m in dossier.measures.all() if m.status != "done"]
        yield [
            dwelling.postcode,
            dwelling.house_number,
            dwelling.house_letter,
            dwelling.house_number_addition,
            dwelling.street,
            dwelling.city,
            dwelling.bag_id,
            _label(DwellingType, dossier.dwelling_type),
            dossier.build_year,
            dossier.floor_area_m2,
            dossier.energy_label,
            _label(LabelKind, dossier.energy_label_kind),
            *(insulation.get(kind, "") for kind in ComponentKind.values),
            ", ".join(done),
            ", ".join(wanted),
        ]


def filename(recipient: Organisation, on: dt.date, fmt: str) -> str:
    return f"adressen-{recipient.slug}-{on:%Y%m%d}.{fmt}"
