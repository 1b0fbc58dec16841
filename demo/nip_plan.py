"""The first-tranche NIP plan of seed 004 as data: its budget and its two business cases.

Used by the demo data and by the tests that check the business-case view reproduces the
seed's tables (totals € 332.707,50 and € 187.355) from these inputs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from accounts.models import Organisation
from nip.models import BudgetLine, BusinessCase, BusinessCaseLine, Programme

# (source, description, amount)
BUDGET = [
    ("nip", "SPUK eerste tranche: 187 woningen × € 1.460", "273020"),
    ("energy_poverty", "Middelen energiearmoede, gereserveerd per 1 oktober 2023", "80000"),
    ("municipal_sustainability", "Uitvoeringsprogramma duurzaamheid 2024", "43000"),
    ("municipal_sustainability", "Uitvoeringsprogramma duurzaamheid 2025", "30000"),
    ("tvw", "Transitievisie warmte 2024", "20000"),
    ("tvw", "Transitievisie warmte 2025", "30000"),
    ("tvw", "Transitievisie warmte 2026", "15000"),
    ("cdoke", "CDOKE uitvoeringsmiddelen 2024", "32750"),
    ("cdoke", "CDOKE uitvoeringsmiddelen 2025", "32750"),
]

# (title, [(label, homes, amount per home, source, option group, option label)])
BUSINESS_CASES = [
    (
        "Doelgroep lage inkomens, maximale ontzorging",
        [
            ("Bijdrage in kosten spouwmuurisolatie en glas", 55, "1460", "nip", "", ""),
            ("Extra bijdrage lage inkomens", 55, "890", "energy_poverty", "extra", "isolatie"),
            ("Extra bijdrage lage inkomens", 55, "2340", "energy_poverty", "extra", "glas"),
            (
                "Bijdrage isolatiemaatregel boven NHG-grens",
                26,
                "2350",
                "energy_poverty",
                "above",
                "isolatie",
            ),
            (
                "Bijdrage isolatiemaatregel boven NHG-grens",
                26,
                "3800",
                "energy_poverty",
                "above",
                "glas",
            ),
            ("Uitvoeringskosten ontzorgingspartij", 81, "307.50", "cdoke", "", ""),
        ],
    ),
    (
        "Doelgroep NIP boven 130 % van de bijstandsnorm, gedeeltelijke ontzorging",
        [
            ("Bijdrage in kosten spouwmuurisolatie en glas", 106, "1460", "nip", "", ""),
            (
                "ISDE-subsidie, aan te vragen door de bewoner",
                106,
                "350",
                "isde",
                "isde",
                "isolatie",
            ),
            ("ISDE-subsidie, aan te vragen door de bewoner", 106, "500", "isde", "isde", "glas"),
            ("Uitvoeringskosten ontzorgingspartij", 106, "307.50", "cdoke", "", ""),
        ],
    ),
]


def programme_from_plan(municipality: Organisation, **fields) -> Programme:
    """The seed municipality's first-tranche programme, with budget and business cases."""
    defaults = {
        "name": "Lokale isolatieaanpak, eerste tranche",
        "tranche": 1,
        "period_start": dt.date(2023, 3, 1),
        "period_end": dt.date(2026, 12, 31),
        "measures_from": dt.date(2023, 1, 1),
        "spend_deadline": dt.date(2026, 12, 31),
        "target_homes": 187,
        "woz_limit": "nhg",
        "amount_per_home_eur": Decimal("1460"),
        "reporting_period": "half_year",
    }
    programme = Programme.objects.create(municipality=municipality, **{**defaults, **fields})
    BudgetLine.objects.bulk_create(
        BudgetLine(programme=programme, source=source, description=text, amount_eur=Decimal(amount))
        for source, text, amount in BUDGET
    )
    for order, (title, lines) in enumerate(BUSINESS_CASES):
        case = BusinessCase.objects.create(programme=programme, title=title, sort_order=order)
        BusinessCaseLine.objects.bulk_create(
            BusinessCaseLine(
                business_case=case,
                label=label,
                homes=homes,
                amount_per_home_eur=Decimal(amount),
                source=source,
                option_group=group,
                option_label=option,
                sort_order=n,
            )
            for n, (label, homes, amount, source, group, option) in enumerate(lines)
        )
    return programme
