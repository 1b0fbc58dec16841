"""Finding or making the dwelling at an address: the one way every entry path does it.

The public sign-up, `POST /api/v1/cases/open/`, the import of existing residents and
the NIP intake all come here, so they agree on what "the same address" is and on how
two of them making the same new address at the same moment end with one dwelling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from dossier.models import (
    BuildingComponent,
    Dossier,
    DossierSection,
    Dwelling,
    Section,
    Source,
    ValueRecord,
)
from dossier.services import SECTION_FIELDS, as_text

if TYPE_CHECKING:
    from accounts.models import User


def dwelling_at(
    *,
    postcode: str,
    house_number: int,
    house_letter: str = "",
    addition: str = "",
    street: str = "",
    city: str = "",
    lock: bool = False,
) -> Dwelling:
    """The dwelling at this (normalised) address, made if it is new.

    Street and town are filled in when the dwelling has none yet, never overwritten.
    With `lock`, the dwelling's row stays locked until the caller's transaction ends
    (PostgreSQL; SQLite's IMMEDIATE transactions serialise writers anyway): whoever
    decides which household a sign-up at this address belongs to holds it, so two
    sign-ups at one address are placed one after the other, the second seeing the first.
    """
    address = {
        "postcode": postcode,
        "house_number": house_number,
        "house_letter": house_letter,
        "house_number_addition": addition,
    }
    try:
        with transaction.atomic():
            dwelling, created = Dwelling.objects.get_or_create(
                **address, defaults={"street": street, "city": city}
            )
    except IntegrityError:
        # Another sign-up, import or intake made it a moment ago: theirs is the one.
        dwelling, created = Dwelling.objects.get(**address), False
    if lock:
        dwelling = Dwelling.objects.select_for_update().get(pk=dwelling.pk)
    if not created and ((street and not dwelling.street) or (city and not dwelling.city)):
        dwelling.street, dwelling.city = dwelling.street or street, dwelling.city or city
        Dwelling.objects.filter(pk=dwelling.pk).update(street=dwelling.street, city=dwelling.city)
    return dwelling


# What describes the home rather than the people in it: what new occupants may inherit
# from the dossier of the household that lived there before. Not the energy use, the
# comfort and wishes, ownership, measures, notes, messages, documents or photos.
# Fields in one tuple go together (a label class needs its kind, an apartment type an
# apartment).
CARRIED_GROUPS: tuple[tuple[str, ...], ...] = (
    ("dwelling_type", "apartment_type"),
    ("build_year",),
    ("floor_area_m2",),
    ("storeys",),
    ("roof_type",),
    ("orientation",),
    ("is_monument",),
    ("energy_label_kind", "energy_label", "energy_label_date"),
    ("heating_system",),
    ("boiler_year",),
    ("hot_water",),
    ("cooking",),
    ("ventilation",),
    ("has_solar_panels", "solar_panel_count", "solar_panel_wp", "solar_panel_year"),
)
CARRIED_COMPONENT_FIELDS: tuple[str, ...] = ("insulation", "rc_value", "u_value", "area_m2", "year")


def _empty(value: Any) -> bool:
    return value in (None, "")


def dossier_carry_over(*, source: Dossier, target: Dossier, actor: User | None) -> list[str]:
    """Copy the home's characteristics from the previous occupants' dossier; the keys copied.

    A value is carried when the previous dossier has one and nobody of the new household
    (resident or coach) answered that field yet; each carried value gets a source record
    "previous occupants" with the day it was carried, as open-data values get theirs.
    The topics it changes get a new version, so an editor open on them is warned.
    """
    now = timezone.now()
    typed = set(
        ValueRecord.objects.filter(
            dossier=target, source__in=[Source.RESIDENT, Source.COACH]
        ).values_list("field", flat=True)
    )
    detail = f"{timezone.localdate(now):%d-%m-%Y}"
    carried: list[str] = []
    changed_fields: list[str] = []
    for group in CARRIED_GROUPS:
        if typed.intersection(group) or all(_empty(getattr(source, f)) for f in group):
            continue
        values = {name: getattr(source, name) for name in group}
        if all(getattr(target, name) == value for name, value in values.items()):
            continue
        for name, value in values.items():
            setattr(target, name, value)
            changed_fields.append(name)
            if not _empty(value):
                carried.append(name)
    sections: set[str] = set()
    if changed_fields:
        target.save(update_fields=changed_fields)
        for name in changed_fields:
            sections.update(s for s, names in SECTION_FIELDS.items() if name in names)
    old_components = {c.kind: c for c in BuildingComponent.objects.filter(dossier=source)}
    for component in BuildingComponent.objects.filter(dossier=target):
        old = old_components.get(component.kind)
        if old is None:
            continue
        updated = []
        for name in CARRIED_COMPONENT_FIELDS:
            key = f"{component.kind}.{name}"
            value = getattr(old, name)
            if key in typed or _empty(value) or getattr(component, name) == value:
                continue
            setattr(component, name, value)
            updated.append(name)
            carried.append(key)
        if updated:
            component.save(update_fields=updated)
            sections.add(Section.INSULATION)
    for key in carried:
        owner = target if "." not in key else None
        value = (
            getattr(owner, key)
            if owner is not None
            else getattr(old_components[key.split(".")[0]], key.split(".")[1])
        )
        ValueRecord.objects.update_or_create(
            dossier=target,
            field=key,
            source=Source.PREVIOUS_OCCUPANTS,
            defaults={
                "value": as_text(value),
                "recorded_by": actor,
                "recorded_at": now,
                "source_detail": detail,
            },
        )
    if sections:
        DossierSection.objects.filter(dossier=target, section__in=sections).update(
            version=F("version") + 1, updated_at=now, updated_by=actor
        )
    return carried
