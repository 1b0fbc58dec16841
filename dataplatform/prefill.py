"""Prefill a dwelling from the open-data tables (BAG, EP-Online, CBS areas).

Only empty fields are filled: what a coach, a resident or an earlier file put on the
dwelling stays. Each filled field records its file and that file's date in
`dwelling.open_data` ("BAG 08-11-2026"), which the new dossier shows as the value's source.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from django.db.models import Max
from django.utils import timezone

from dataplatform.models import (
    AddressArea,
    BagAddress,
    ImportStatus,
    OpenDataImport,
    RegisteredLabel,
)
from dossier.models import Dwelling, DwellingType

# EP-Online's building types (codes of the NTA 8800 upload format, their names, and the
# names used before 2021), written without accents, spaces or punctuation.
BUILDING_TYPES: dict[str, str] = {
    "1": DwellingType.DETACHED,
    "vrijstaandewoning": DwellingType.DETACHED,
    "vrijstaand": DwellingType.DETACHED,
    "12": DwellingType.SEMI_DETACHED,
    "tweeondereenkap": DwellingType.SEMI_DETACHED,
    "tweeondereenkapwoning": DwellingType.SEMI_DETACHED,
    "2onder1kap": DwellingType.SEMI_DETACHED,
    "2onder1kapwoning": DwellingType.SEMI_DETACHED,
    "2": DwellingType.CORNER,
    "rijwoninghoek": DwellingType.CORNER,
    "hoekwoning": DwellingType.CORNER,
    "3": DwellingType.TERRACED,
    "rijwoningtussen": DwellingType.TERRACED,
    "tussenwoning": DwellingType.TERRACED,
    "7": DwellingType.APARTMENT,
    "appartement": DwellingType.APARTMENT,
    "galerijwoning": DwellingType.APARTMENT,
    "portiekwoning": DwellingType.APARTMENT,
    "flatwoning": DwellingType.APARTMENT,
    "flatwoningoverig": DwellingType.APARTMENT,
    "maisonnette": DwellingType.APARTMENT,
}

# dossier.services.dossier_create reads the source of the label by the dossier's own
# field names; the dwelling's are registered_label and registered_label_on.
LABEL_FIELDS_IN_DOSSIER = ("energy_label", "energy_label_kind", "energy_label_date")


def dwelling_type_from(building_type: str) -> str:
    """The dwelling type for an EP-Online building type, or "" when it is not one of ours."""
    text = unicodedata.normalize("NFKD", building_type or "")
    text = re.sub(r"[^0-9a-z]", "", text.encode("ascii", "ignore").decode().lower())
    return BUILDING_TYPES.get(text, "")


def _source(name: str, file_date: date) -> str:
    return f"{name} {file_date:%d-%m-%Y}"


def _latest_import() -> Any:
    return OpenDataImport.objects.filter(status=ImportStatus.DONE).aggregate(
        latest=Max("finished_at")
    )["latest"]


def _find_label(dwelling: Dwelling, bag_id: str) -> RegisteredLabel | None:
    """The label of the dwelling's address; with a BAG id, that object's label first.

    A label row always has a postcode and house number, and those lead the table's key,
    so the few labels of one number are read at once and compared here: the table needs
    no index on the BAG id, which would slow down every import.
    """
    labels = list(
        RegisteredLabel.objects.filter(
            postcode=dwelling.postcode, house_number=dwelling.house_number
        ).order_by("-recorded_on")
    )
    if bag_id:
        for label in labels:
            if label.bag_id == bag_id:
                return label
    suffix = f"{dwelling.house_letter}{dwelling.house_number_addition}".upper()
    for label in labels:
        if label.suffix == suffix:
            # A label of another object at the same address (another BAG id) is not
            # this home's.
            if bag_id and label.bag_id not in ("", bag_id):
                return None
            return label
    return None


def dwelling_prefill(*, dwelling: Dwelling) -> list[str]:
    """Fill the dwelling's empty fields from the open-data tables; returns what changed.

    A dwelling is looked up again only when an import finished after its last look-up.
    """
    latest = _latest_import()
    if latest is None:
        return []
    checked = dwelling.open_data_checked_at
    if checked is not None and checked >= latest:
        return []
    origins = dict(dwelling.open_data or {})
    changed: list[str] = []

    def fill(name: str, value: Any, source: str) -> None:
        if value in (None, "") or getattr(dwelling, name) not in (None, ""):
            return
        setattr(dwelling, name, value)
        origins[name] = source
        changed.append(name)

    bag = (
        BagAddress.objects.filter(
            postcode=dwelling.postcode,
            house_number=dwelling.house_number,
            house_letter=dwelling.house_letter,
            addition=dwelling.house_number_addition,
        )
        .order_by("-file_date")
        .first()
    )
    if bag is not None:
        source = _source("BAG", bag.file_date)
        fill("bag_id", bag.bag_id, source)
        fill("build_year", bag.build_year, source)
        fill("floor_area_m2", bag.floor_area_m2, source)
        fill("street", bag.street, source)
        fill("city", bag.city, source)

    label = _find_label(dwelling, dwelling.bag_id)
    if label is not None:
        source = _source("EP-Online", label.file_date)
        if not dwelling.registered_label:
            fill("registered_label", label.label, source)
            fill("registered_label_on", label.recorded_on, source)
            for name in LABEL_FIELDS_IN_DOSSIER:
                origins[name] = source
        fill("dwelling_type", dwelling_type_from(label.building_type), source)
        if label.floor_area_m2 is not None:
            fill("floor_area_m2", round(label.floor_area_m2), source)

    area = AddressArea.objects.filter(
        postcode=dwelling.postcode, house_number=dwelling.house_number
    ).first()
    if area is not None:
        source = _source("CBS", area.file_date)
        fill("neighbourhood_code", area.neighbourhood_code, source)
        fill("district_code", area.district_code, source)
        fill("municipality_code", area.municipality_code, source)

    dwelling.open_data = origins
    dwelling.open_data_checked_at = timezone.now()
    dwelling.save(update_fields=[*changed, "open_data", "open_data_checked_at"])
    return changed


def on_dwelling_prefill(sender: Any, *, dwelling: Dwelling, **kwargs: Any) -> None:
    """dossier.signals.dwelling_prefill: fill the dwelling from open data, once per import."""
    dwelling_prefill(dwelling=dwelling)
