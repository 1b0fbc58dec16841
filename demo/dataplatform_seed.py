"""The data platform in the demo: agreements, consents, a street of homes, a publication.

The initiative in De Bilt shares postcode-6 figures with the province and address-level
data with the municipality; the initiative in Stichtse Vecht shares neighbourhood figures
with the province. Besides the demo's own homes, three De Bilt postcodes get enough
consenting households (invented, without residents) for some cells to reach the minimum
of 10, so the dashboard shows published figures next to suppressed ones.
"""

from __future__ import annotations

import datetime as dt
import random

from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import Membership, Organisation, User
from accounts.roles import Role
from dataplatform import consent as consent_services
from dataplatform import publication as publication_services
from dataplatform.models import Channel, ConsentRecord, Level, Purpose, SharingAgreement
from dossier.models import Dossier, DossierMeasure, Dwelling, Household, LabelKind
from dossier.services import dossier_create

# (initiative, recipient, finest level)
AGREEMENTS = [
    ("energie-de-bilt", "provincie-utrecht", Level.PC6),
    ("energie-de-bilt", "gemeente-de-bilt", Level.ADDRESS),
    ("energiek-stichtse-vecht", "provincie-utrecht", Level.NEIGHBOURHOOD),
]
# (postcode, street, homes, neighbourhood, district)
STREETS = [
    ("3731BC", "Kerklaan", 14, "BU03100001", "WK031000"),
    ("3731BD", "Vinkenlaan", 12, "BU03100001", "WK031000"),
    ("3732AA", "Dorpsweg", 11, "BU03100203", "WK031002"),
]
LABELS = ["C", "D", "D", "E", "E", "F", "G"]
TYPES = ["terraced", "terraced", "corner", "semi_detached"]
YEARS = [1932, 1958, 1964, 1968, 1972, 1979, 1985]
DONE = ["cavity_wall_insulation", "hr_glass", "solar_panels"]
WANTED = ["floor_insulation", "roof_insulation", "hybrid_heat_pump"]

# A one-page PDF standing in for the signed agreement.
AGREEMENT_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def demo_dataplatform(orgs: dict[str, Organisation]) -> None:
    """Seed once: a second run finds the agreements and changes nothing."""
    if SharingAgreement.objects.exists():
        return
    today = timezone.localdate()
    for initiative, recipient, level in AGREEMENTS:
        agreement = SharingAgreement(
            initiative=orgs[initiative],
            recipient=orgs[recipient],
            level=level,
            valid_from=dt.date(today.year, 1, 1),
            valid_until=dt.date(today.year + 2, 12, 31),
            reference=f"DSA-{today.year}-{orgs[initiative].slug[:12]}-{level}",
        )
        agreement.document.save("overeenkomst.pdf", ContentFile(AGREEMENT_PDF), save=False)
        agreement.save()
    _street_homes(orgs["energie-de-bilt"])
    coordinators = {
        m.organisation_id: m.user
        for m in Membership.objects.filter(role=Role.COORDINATOR).select_related("user")
    }
    households = Household.objects.filter(initiative__slug__in=[a[0] for a in AGREEMENTS])
    for household in households.select_related("assigned_coach"):
        # Recorded on paper during the visit, by the coach or else the coordinator.
        staff = household.assigned_coach or coordinators[household.initiative_id]
        for purpose in (Purpose.PROCESSING, Purpose.AGGREGATES):
            _give(household, purpose, staff)
        if household.pk % 2 == 0:
            _give(household, Purpose.ADDRESS_LEVEL, staff)
    for slug in ("provincie-utrecht", "gemeente-de-bilt"):
        publication_services.publication_make(recipient=orgs[slug])


def _give(household: Household, purpose: str, actor: User) -> None:
    if not ConsentRecord.objects.filter(
        household=household, purpose=purpose, withdrawn_at__isnull=True
    ).exists():
        consent_services.consent_give(
            household=household, purpose=purpose, channel=Channel.PAPER, actor=actor
        )


def _street_homes(initiative: Organisation) -> None:
    picker = random.Random(310)  # the same street every time
    for postcode, street, homes, neighbourhood, district in STREETS:
        for number in range(1, homes + 1):
            dwelling, _ = Dwelling.objects.get_or_create(
                postcode=postcode,
                house_number=number,
                defaults={
                    "street": street,
                    "city": "De Bilt",
                    "municipality_code": "GM0310",
                    "neighbourhood_code": neighbourhood,
                    "district_code": district,
                    "dwelling_type": picker.choice(TYPES),
                    "build_year": picker.choice(YEARS),
                },
            )
            household, _ = Household.objects.get_or_create(
                initiative=initiative,
                dwelling=dwelling,
                defaults={"name": f"Bewoners {street} {number}"},
            )
            dossier = dossier_create(household=household)
            Dossier.objects.filter(pk=dossier.pk).update(
                energy_label_kind=LabelKind.REGISTERED, energy_label=picker.choice(LABELS)
            )
            DossierMeasure.objects.filter(
                dossier=dossier, measure_type__code__in=picker.sample(DONE, 2)
            ).update(status="done", done_year=2021)
            DossierMeasure.objects.filter(
                dossier=dossier, measure_type__code__in=picker.sample(WANTED, 1)
            ).update(status="wanted_now")
