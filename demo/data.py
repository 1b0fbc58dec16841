"""The demo data set: invented people at invented addresses in two real municipalities."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DEFAULT_PASSWORD = "woningdossier-demo"  # noqa: S105 - the local demo database only
# The key of the demo's authenticator app (base32), for the logins that need a second step.
DEMO_TOTP_SECRET = "WONINGDOSSIERDEMOWONINGDOSSIERDE"  # noqa: S105 - the local demo only

MUNICIPALITIES = [("GM0310", "De Bilt"), ("GM1904", "Stichtse Vecht")]


@dataclass(frozen=True)
class Org:
    slug: str
    name: str
    kind: str
    municipalities: tuple[str, ...]
    colour: str


ORGANISATIONS = [
    Org("energie-de-bilt", "Energiecoöperatie De Bilt", "initiative", ("GM0310",), "#1d5f8a"),
    Org("energiek-stichtse-vecht", "Energiek Stichtse Vecht", "initiative", ("GM1904",), "#2e6b30"),
    Org("gemeente-de-bilt", "Gemeente De Bilt", "municipality", ("GM0310",), "#8a1d3f"),
    Org("provincie-utrecht", "Provincie Utrecht", "province", ("GM0310", "GM1904"), "#b5121b"),
]


# Each initiative's privacy statement in the demo, so its sign-up form is open
# (`/aanmelden/<slug>/`); a real initiative writes its own (admin: CRM → privacy statements).
PRIVACY_STATEMENT_VERSION = "demo-2026"
PRIVACY_STATEMENT_FROM = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PRIVACY_STATEMENT = (
    "{name} gebruikt uw naam, adres, e-mailadres en telefoonnummer alleen om u een "
    "energiecoach te sturen en u over uw advies te berichten. Wat u over uw woning "
    "invult, ziet alleen uw coach en de coördinator van {name}. Wij bewaren uw gegevens "
    "tot twee jaar na het laatste contact. U kunt uw gegevens altijd inzien, downloaden "
    "of laten verwijderen. (Dit is de tekst van de demo.)"
)


@dataclass(frozen=True)
class Person:
    email: str
    first_name: str
    last_name: str
    organisation: str | None = None
    role: str | None = None
    is_staff: bool = False


PEOPLE = [
    Person(
        "coordinator@energie-de-bilt.example", "Carla", "de Groot", "energie-de-bilt", "coordinator"
    ),
    Person("coach@energie-de-bilt.example", "Henk", "Visser", "energie-de-bilt", "coach"),
    Person("coach2@energie-de-bilt.example", "Ria", "Bakker", "energie-de-bilt", "coach"),
    Person(
        "coordinator@energiek-stichtse-vecht.example",
        "Sanne",
        "Mulder",
        "energiek-stichtse-vecht",
        "coordinator",
    ),
    Person(
        "coach@energiek-stichtse-vecht.example", "Johan", "Smit", "energiek-stichtse-vecht", "coach"
    ),
    Person(
        "medewerker@gemeente-de-bilt.example",
        "Fatima",
        "El Amrani",
        "gemeente-de-bilt",
        "municipality_staff",
    ),
    Person(
        "analist@provincie-utrecht.example",
        "Pieter",
        "van Dijk",
        "provincie-utrecht",
        "province_analyst",
    ),
    Person("beheer@woningdossier.example", "Beheerder", "Platform", is_staff=True),
    Person("bewoner@example.org", "Anna", "Jansen"),
    Person("bewoner2@example.org", "Kees", "de Vries"),
]


@dataclass(frozen=True)
class Home:
    initiative: str
    household: str
    postcode: str
    house_number: int
    street: str
    city: str
    municipality_code: str
    dwelling_type: str
    build_year: int
    house_letter: str = ""
    addition: str = ""
    coach: str | None = None
    residents: tuple[str, ...] = ()


HOMES = [
    Home(
        "energie-de-bilt",
        "Familie Jansen",
        "3731AB",
        12,
        "Kastanjelaan",
        "De Bilt",
        "GM0310",
        "corner",
        1968,
        coach="coach@energie-de-bilt.example",
        residents=("bewoner@example.org",),
    ),
    Home(
        "energie-de-bilt",
        "Familie Bos",
        "3731AB",
        14,
        "Kastanjelaan",
        "De Bilt",
        "GM0310",
        "terraced",
        1968,
        coach="coach@energie-de-bilt.example",
    ),
    Home(
        "energie-de-bilt",
        "Mevrouw Hendriks",
        "3732CD",
        3,
        "Beukenweg",
        "De Bilt",
        "GM0310",
        "detached",
        1931,
        coach="coach2@energie-de-bilt.example",
    ),
    Home(
        "energie-de-bilt",
        "Familie Peters",
        "3737EF",
        27,
        "Eikenlaan",
        "Groenekan",
        "GM0310",
        "semi_detached",
        1985,
    ),
    Home(
        "energie-de-bilt",
        "De heer Yilmaz",
        "3723GH",
        101,
        "Lindenplein",
        "Bilthoven",
        "GM0310",
        "apartment",
        1974,
        house_letter="B",
    ),
    Home(
        "energiek-stichtse-vecht",
        "Familie de Vries",
        "3601JK",
        8,
        "Vechtkade",
        "Maarssen",
        "GM1904",
        "terraced",
        1952,
        coach="coach@energiek-stichtse-vecht.example",
        residents=("bewoner2@example.org",),
    ),
    Home(
        "energiek-stichtse-vecht",
        "Familie Koster",
        "3603LM",
        45,
        "Molenweg",
        "Maarssen",
        "GM1904",
        "apartment",
        1995,
        addition="2",
    ),
]

# The coach's advice in the first home, so a report can be made right away in the demo.
DEMO_ADVICE_HOME = ("3731AB", 12)
DEMO_HOUSE = {"floor_area_m2": 110, "gas_m3_per_year": 1650}
DEMO_ADVICE = {
    "draught_proofing": ("high", "Kierdichting bij de voordeur en de ramen: kost weinig."),
    "floor_insulation": ("high", "De kruipruimte is droog en via het luik bereikbaar."),
    "cavity_wall_insulation": ("high", "Laat vooraf een spouwinspectie doen."),
    "hr_glass": ("medium", "Begin met de woonkamer."),
    "hybrid_heat_pump": ("low", "Pas na de isolatie."),
}

# One login per role, printed by `manage.py seed_demo`.
LOGINS = [
    ("coordinator", "coordinator@energie-de-bilt.example"),
    ("coach", "coach@energie-de-bilt.example"),
    ("resident", "bewoner@example.org"),
    ("municipality staff", "medewerker@gemeente-de-bilt.example"),
    ("province analyst", "analist@provincie-utrecht.example"),
    ("administrator", "beheer@woningdossier.example"),
]


# The NIP demo: Gemeente De Bilt runs the seed's first-tranche programme.
NIP_MUNICIPALITY = "gemeente-de-bilt"
NIP_STAFF = "medewerker@gemeente-de-bilt.example"


@dataclass(frozen=True)
class NipHome:
    postcode: str
    house_number: int
    street: str
    dwelling_type: str
    build_year: int
    label: str
    woz_below_limit: bool
    low_income: bool
    # {funding source: amount} once granted; empty while in intake.
    amounts: dict[str, str]
    # (measure code, m², Rd or U value, diy/third_party, cost) once executed.
    measure: tuple[str, str, str, str, str] | None = None
    executed_on: dt.date = dt.date(2026, 3, 16)


NIP_HOMES = [
    NipHome(
        "3732AA",
        3,
        "Vinkenlaan",
        "terraced",
        1962,
        "E",
        True,
        True,
        {"nip": "1460", "energy_poverty": "890"},
        ("cavity_wall_insulation", "39", "1.3", "third_party", "1900"),
    ),
    NipHome(
        "3732AA",
        5,
        "Vinkenlaan",
        "terraced",
        1962,
        "F",
        True,
        True,
        {"nip": "1460", "energy_poverty": "890"},
        ("cavity_wall_insulation", "41", "1.3", "third_party", "1950"),
    ),
    NipHome(
        "3732AA",
        9,
        "Vinkenlaan",
        "corner",
        1962,
        "E",
        True,
        False,
        {"nip": "1460"},
        ("hr_glass", "22", "1.1", "third_party", "3900"),
        dt.date(2026, 9, 2),
    ),
    NipHome(
        "3732AB",
        2,
        "Merelstraat",
        "semi_detached",
        1971,
        "D",
        True,
        False,
        {"nip": "1460"},
        ("floor_insulation", "52", "3.5", "diy", "850"),
        dt.date(2025, 10, 20),
    ),
    NipHome(
        "3732AB",
        6,
        "Merelstraat",
        "semi_detached",
        1971,
        "E",
        False,
        True,
        {"energy_poverty": "2350"},
        ("cavity_wall_insulation", "90", "1.3", "third_party", "2350"),
    ),
    NipHome("3732AB", 8, "Merelstraat", "terraced", 1965, "G", True, False, {"nip": "1460"}),
    NipHome("3732AC", 1, "Lijsterhof", "terraced", 1958, "F", True, True, {}),
    NipHome("3732AC", 4, "Lijsterhof", "corner", 1958, "E", True, False, {}),
]
