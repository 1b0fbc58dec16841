"""The first version of the consent text for each purpose, valid from 1 January 2026.

Each text says what DOMAIN.md asks of a consent: the purpose, which data, who receives
it, the resident's rights, security, the retention period, that it is voluntary and
what follows from refusing. A text never changes: a correction is a new version, added
by the administrator with a later "valid from", never an edit of this migration.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

from django.db import migrations

VERSION = "2026-1"
VALID_FROM = dt.datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Amsterdam"))

RIGHTS = (
    "Je rechten: je mag altijd zien welke gegevens over je woning zijn vastgelegd, ze laten "
    "verbeteren of laten wissen, en een kopie krijgen. Vraag het je energiecoach of het "
    "energie-initiatief. Ben je het ergens niet mee eens, dan kun je een klacht indienen bij "
    "de Autoriteit Persoonsgegevens."
)
SECURITY = (
    "Beveiliging: de gegevens staan op een beveiligde server. Alleen mensen die ze voor hun "
    "werk nodig hebben, kunnen erbij, en elke wijziging wordt vastgelegd."
)
WITHDRAW = (
    "Je kunt deze toestemming altijd weer intrekken, online op de pagina Mijn toestemmingen of "
    "via je energiecoach. Dat is net zo makkelijk als toestemming geven."
)
WITHDRAW_SHARING = (
    f"{WITHDRAW} Het intrekken telt vanaf de eerstvolgende keer dat cijfers worden gedeeld; "
    "wat al eerder gedeeld is, kan niet worden teruggehaald."
)

TEXTS = {
    "processing": (
        "Toestemming voor je woningdossier",
        [
            "Waarvoor: het energie-initiatief gebruikt je woningdossier om je te helpen je huis "
            "zuiniger en comfortabeler te maken: je energiecoach bereidt het bezoek voor, geeft "
            "advies per maatregel en houdt met je bij wat je hebt gedaan.",
            "Welke gegevens: je naam, adres, telefoonnummer en e-mailadres; de kenmerken van je "
            "woning (soort woning, bouwjaar, oppervlakte, energielabel, isolatie, installaties); "
            "je energiegebruik; foto's die je coach met jouw goedvinden maakt; het advies en de "
            "maatregelen die je neemt of wilt nemen.",
            "Wie ontvangt ze: alleen de coördinator van het energie-initiatief en de "
            "energiecoach die jou helpt. Het initiatief geeft je gegevens niet aan anderen, "
            "tenzij je daar apart toestemming voor geeft.",
            RIGHTS,
            SECURITY,
            "Bewaartermijn: het initiatief bewaart je woningdossier zolang het je begeleidt en "
            "daarna zo lang als het in zijn privacyverklaring heeft vastgelegd. Daarna wordt "
            "het dossier gewist. Alleen het bewijs van je toestemming wordt bewaard, zolang dat "
            "nodig is om te laten zien dat je die gaf.",
            "Vrijwillig: je hoeft geen toestemming te geven. Geef je geen toestemming, of trek "
            "je haar in, dan kan het initiatief je woningdossier niet bijhouden. Je kunt dan "
            "wel een gesprek met een energiecoach krijgen, maar zonder dossier en zonder "
            "advies op papier of online.",
            WITHDRAW,
        ],
    ),
    "aggregates": (
        "Toestemming voor cijfers per postcodegebied",
        [
            "Waarvoor: gemeente en provincie willen weten hoe ver de woningen in een buurt zijn "
            "met isoleren en verduurzamen, zodat ze hun hulp en subsidies beter kunnen richten.",
            "Welke gegevens: alleen de kenmerken van je woning: soort woning, bouwjaarperiode, "
            "energielabel en de maatregelen die zijn genomen of gewenst. Geen naam, geen adres, "
            "geen energiegebruik. Ze worden opgeteld bij die van andere huishoudens in je "
            "postcodegebied (vier cijfers en twee letters, bijvoorbeeld 3731 AB) en in grotere "
            "gebieden: buurt, wijk en gemeente. Een telling wordt alleen gedeeld als er genoeg "
            "huishoudens in zitten (minstens tien, en nooit minder dan vijf). Kleinere "
            "groepen worden weggelaten, en zo dat ze ook niet uit andere cijfers zijn af te "
            "leiden. Zo is niet te zien welk huis bij welke telling hoort.",
            "Wie ontvangt ze: de provincie en de gemeenten waarmee het energie-initiatief een "
            "afspraak over het delen van gegevens heeft gemaakt. Zonder zo'n afspraak wordt "
            "niets gedeeld.",
            RIGHTS,
            SECURITY,
            "Bewaartermijn: de gedeelde cijfers zijn geen persoonsgegevens en worden bewaard "
            "zolang ze nodig zijn voor het beleid. Het bewijs van je toestemming wordt bewaard "
            "zolang je woningdossier bestaat.",
            "Vrijwillig: je hoeft geen toestemming te geven. Geef je geen toestemming, dan telt "
            "je woning niet mee in de cijfers. Verder verandert er niets: je krijgt dezelfde "
            "hulp van je energiecoach.",
            WITHDRAW_SHARING,
        ],
    ),
    "address_level": (
        "Toestemming om je woninggegevens met adres te delen met de gemeente",
        [
            "Waarvoor: de gemeente kan je beter helpen, bijvoorbeeld met een isolatieaanpak in "
            "je buurt of een regeling voor jouw soort woning, als ze weet hoe jouw huis ervoor "
            "staat.",
            "Welke gegevens: de kenmerken van je woning (soort woning, bouwjaar, oppervlakte, "
            "energielabel, isolatie en de maatregelen die zijn genomen of gewenst), samen met "
            "je adres. Geen naam, geen telefoonnummer, geen e-mailadres en geen inkomen.",
            "Wie ontvangt ze: alleen de gemeente waar je woont, en alleen als het "
            "energie-initiatief met die gemeente een afspraak over het delen van gegevens op "
            "adresniveau heeft gemaakt.",
            RIGHTS,
            SECURITY,
            "Bewaartermijn: de gemeente bewaart de gegevens niet langer dan de afspraak met het "
            "initiatief toestaat en wist ze daarna. Het bewijs van je toestemming wordt bewaard "
            "zolang je woningdossier bestaat.",
            "Vrijwillig: je hoeft geen toestemming te geven. Geef je geen toestemming, dan "
            "krijgt de gemeente je adres niet. Verder verandert er niets: je krijgt dezelfde "
            "hulp van je energiecoach.",
            WITHDRAW_SHARING,
        ],
    ),
    "research": (
        "Toestemming om benaderd te worden voor onderzoek",
        [
            "Waarvoor: het energie-initiatief, de gemeente of de provincie wil soms weten hoe "
            "bewoners het verduurzamen van hun huis ervaren, bijvoorbeeld met een korte "
            "vragenlijst of een gesprek.",
            "Welke gegevens: het initiatief gebruikt je naam en je e-mailadres of "
            "telefoonnummer om je één keer per onderzoek te vragen of je mee wilt doen.",
            "Wie ontvangt ze: alleen het energie-initiatief. Het initiatief stuurt de vraag "
            "zelf; je contactgegevens gaan niet naar de onderzoekers. Doe je mee, dan beslis "
            "je zelf wat je vertelt.",
            RIGHTS,
            SECURITY,
            "Bewaartermijn: zolang je woningdossier bestaat of tot je deze toestemming intrekt.",
            "Vrijwillig: je hoeft geen toestemming te geven. Geef je geen toestemming, dan "
            "vraagt het initiatief je niet mee te doen aan onderzoek. Verder verandert er "
            "niets: je krijgt dezelfde hulp van je energiecoach.",
            WITHDRAW,
        ],
    ),
}


def hash_of(purpose: str, version: str, text: str) -> str:
    # A copy of ConsentText.hash_of: models in migrations have no custom methods.
    return hashlib.sha256(f"{purpose}\n{version}\n{text}".encode()).hexdigest()


def seed(apps, schema_editor) -> None:
    ConsentText = apps.get_model("dataplatform", "ConsentText")
    for purpose, (title, paragraphs) in TEXTS.items():
        text = "\n\n".join(paragraphs)
        ConsentText.objects.get_or_create(
            purpose=purpose,
            version=VERSION,
            defaults={
                "title": title,
                "text": text,
                "text_hash": hash_of(purpose, VERSION, text),
                "valid_from": VALID_FROM,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("dataplatform", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
