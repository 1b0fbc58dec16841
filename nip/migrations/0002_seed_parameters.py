"""The NIP parameter sets from 2023 on, each figure with its source.

Figures from the seed documents (seed 004, the municipality's NIP plan quoting the
regulation) start verified; figures from secondary sources start unverified, as
DOMAIN.md asks, until an administrator has checked them. A figure nobody could find is
left empty and shown as missing: the amount per home after the first tranche, the
social assistance norms for 2023 and 2026. Change figures through the admin as a new
version, never by editing this migration.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import migrations

SEED = "Seed 004: plan van aanpak NIP (Stcrt. 2023, 3877)"
SEED_ISDE = "Seed 004 en RVO ISDE woningeigenaren: minimale eisen per maatregel"
SEED_MUNICIPAL = "Seed 004: keuze van de gemeente (130 % van de bijstandsnorm)"
DOMAIN = "DOMAIN.md: schatting naar bouwjaar (vóór 1975 nauwelijks, 1975-1992 matig geïsoleerd)"
NHG_2024 = "NHG kostengrens 2024 € 435.000 × 1,06 (secundaire bron; controleer op nhg.nl)"
NHG_2025 = "NHG kostengrens 2025 € 450.000 × 1,06 (secundaire bron; controleer op nhg.nl)"
NHG_2026 = "NHG kostengrens 2026 € 470.000 × 1,06 (secundaire bron; controleer op nhg.nl)"
CAP = "Seed 004 (eerste tranche); of het maximum na 2024 nog geldt is niet gevonden"
NORMS_2024_1 = "gemeentewestland.nl normenoverzicht 1 januari 2024 (incl. vakantiegeld)"
NORMS_2024_7 = "metronieuws.nl over de normen van de tweede helft van 2024 (incl. vakantiegeld)"
NORMS_2025_1 = "gemeentewestland.nl normenoverzicht 1 januari 2025 (incl. vakantiegeld)"
NORMS_2025_7 = "hofvantwente.nl bijstandsnormen 1 juli 2025, ÷ 0,95 voor vakantiegeld"
GLASS_2026 = "Glas vanaf 2026 minimaal 3 m² (secundaire bron; controleer op rvo.nl)"
MISSING = "Niet gevonden: vul in en vermeld de bron"

MEASURES_2023 = [
    # (code, min_m2, min_rd, max_u, max_frame_u)
    ("roof_insulation", "20", "3.5", None, None),
    ("attic_floor_insulation", "20", "3.5", None, None),
    ("facade_insulation", "10", "3.5", None, None),
    ("cavity_wall_insulation", "10", "1.1", None, None),
    ("floor_insulation", "20", "3.5", None, None),
    ("soil_insulation", "20", "3.5", None, None),
    ("hr_glass", "8", None, "1.2", None),
    ("triple_glass", "8", None, "0.7", "1.5"),
    ("insulating_panels", "8", None, "1.2", None),
    ("insulating_doors", "8", None, "1.5", None),
]

# (key, value or None, unit, source, verified)
type Row = tuple[str, str | None, str, str, bool]


def _base_2023() -> dict[str, Row]:
    rows: list[Row] = [
        ("nhg_limit_eur", "429300", "€", SEED, True),
        ("amount_per_home_eur", "1460", "€", SEED, True),
        ("max_spend_per_home_eur", "4000", "€", SEED, True),
        ("woz_share_min", "0.80", "", SEED, True),
        ("income_threshold_pct", "130", "%", SEED_MUNICIPAL, True),
        ("income_norm.single_eur", None, "€/month", MISSING, False),
        ("income_norm.couple_eur", None, "€/month", MISSING, False),
        ("income_norm.single_pension_eur", None, "€/month", MISSING, False),
        ("income_norm.couple_pension_eur", None, "€/month", MISSING, False),
        ("estimate.poor_before_year", "1975", "year", DOMAIN, True),
        ("estimate.insulated_from_year", "1992", "year", DOMAIN, True),
    ]
    for code, min_m2, min_rd, max_u, max_frame_u in MEASURES_2023:
        rows.append((f"measure.{code}.min_m2", min_m2, "m²", SEED_ISDE, True))
        if min_rd is not None:
            rows.append((f"measure.{code}.min_rd", min_rd, "m²K/W", SEED_ISDE, True))
        if max_u is not None:
            rows.append((f"measure.{code}.max_u", max_u, "W/m²K", SEED_ISDE, True))
        if max_frame_u is not None:
            rows.append((f"measure.{code}.max_frame_u", max_frame_u, "W/m²K", SEED_ISDE, True))
    return {row[0]: row for row in rows}


def _norms(single, couple, source, single_pension=None, couple_pension=None) -> list[Row]:
    return [
        ("income_norm.single_eur", single, "€/month", source if single else MISSING, False),
        ("income_norm.couple_eur", couple, "€/month", source if couple else MISSING, False),
        (
            "income_norm.single_pension_eur",
            single_pension,
            "€/month",
            source if single_pension else MISSING,
            False,
        ),
        (
            "income_norm.couple_pension_eur",
            couple_pension,
            "€/month",
            source if couple_pension else MISSING,
            False,
        ),
    ]


# Each later set is the one before it with these changes.
CHANGES: list[tuple[str, date, str, list[Row]]] = [
    (
        "nip-2024-1",
        date(2024, 1, 1),
        "NHG-grens 2024, bijstandsnormen 1 januari 2024; bedrag per woning onbekend",
        [
            ("nhg_limit_eur", "461100", "€", NHG_2024, False),
            ("amount_per_home_eur", None, "€", MISSING, False),
            ("max_spend_per_home_eur", "4000", "€", CAP, False),
            *_norms("1283.83", "1834.04", NORMS_2024_1),
        ],
    ),
    (
        "nip-2024-2",
        date(2024, 7, 1),
        "Bijstandsnormen 1 juli 2024",
        _norms("1308.45", "1869.21", NORMS_2024_7),
    ),
    (
        "nip-2025-1",
        date(2025, 1, 1),
        "NHG-grens 2025, bijstandsnormen 1 januari 2025",
        [
            ("nhg_limit_eur", "477000", "€", NHG_2025, False),
            *_norms("1345.45", "1922.07", NORMS_2025_1, "1501.07", "2053.48"),
        ],
    ),
    (
        "nip-2025-2",
        date(2025, 7, 1),
        "Bijstandsnormen 1 juli 2025",
        _norms("1369.06", "1955.80", NORMS_2025_7),
    ),
    (
        "nip-2026-1",
        date(2026, 1, 1),
        "NHG-grens 2026, glas minimaal 3 m²; bijstandsnormen 2026 niet gevonden",
        [
            ("nhg_limit_eur", "498200", "€", NHG_2026, False),
            *_norms(None, None, MISSING),
            *[
                (f"measure.{code}.min_m2", "3", "m²", GLASS_2026, False)
                for code in ("hr_glass", "triple_glass", "insulating_panels", "insulating_doors")
            ],
        ],
    ),
]


def sets() -> list[tuple[str, date, str, dict[str, Row]]]:
    """Every set with all its rows, oldest first."""
    current = _base_2023()
    result = [("nip-2023", date(2023, 1, 1), "Eerste tranche (seed 004)", dict(current))]
    for version, valid_from, description, rows in CHANGES:
        current = {**current, **{row[0]: row for row in rows}}
        result.append((version, valid_from, description, dict(current)))
    return result


def seed(apps, schema_editor) -> None:
    ParameterSet = apps.get_model("nip", "ParameterSet")
    ParameterValue = apps.get_model("nip", "ParameterValue")
    for version, valid_from, description, rows in sets():
        parameter_set, _created = ParameterSet.objects.get_or_create(
            version=version, defaults={"valid_from": valid_from, "description": description}
        )
        for key, value, unit, source, verified in rows.values():
            ParameterValue.objects.get_or_create(
                parameter_set=parameter_set,
                key=key,
                defaults={
                    "value": None if value is None else Decimal(value),
                    "unit": unit,
                    "source": source,
                    "verified": verified,
                },
            )


class Migration(migrations.Migration):
    dependencies = [("nip", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
