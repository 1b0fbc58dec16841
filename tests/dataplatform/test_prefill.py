"""A new dwelling and its dossier start from what the open-data files know of the address."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.urls import reverse

from dataplatform.models import OpenDataImport
from dataplatform.opendata import opendata_import
from dataplatform.prefill import dwelling_prefill, dwelling_type_from
from dossier.models import Dossier, DwellingType, Source, ValueRecord
from tests import builders

FILES = Path(__file__).resolve().parent / "files"


@pytest.fixture
def open_data(db) -> None:
    opendata_import(kind="ep_online", path=FILES / "ep-online-sample.csv")
    opendata_import(kind="bag", path=FILES / "bag-light-sample.gpkg")
    opendata_import(kind="cbs_areas", path=FILES / "pc6hnr20240801_gwb.csv")


def bare_dwelling(postcode: str, number: int, **fields):
    """A dwelling known only by its address, as a coach enters it."""
    defaults = {
        "street": "",
        "city": "",
        "municipality_code": "",
        "dwelling_type": "",
        "build_year": None,
    }
    return builders.make_dwelling(postcode=postcode, house_number=number, **{**defaults, **fields})


def sources(dossier: Dossier) -> dict[str, tuple[str, str]]:
    return {
        record.field: (record.value, record.source_detail)
        for record in ValueRecord.objects.filter(dossier=dossier, source=Source.OPEN_DATA)
    }


def test_a_new_dossier_starts_from_open_data_with_the_files_and_their_dates(cast, open_data):
    dwelling = bare_dwelling("3731AB", 3)

    household = builders.make_household(cast.initiative_a, coach=cast.alice, dwelling=dwelling)

    dwelling.refresh_from_db()
    assert (dwelling.build_year, dwelling.floor_area_m2, dwelling.bag_id) == (
        1965,
        98,
        "0310010000100003",
    )
    assert (dwelling.registered_label, dwelling.registered_label_on) == ("B", dt.date(2024, 6, 15))
    assert dwelling.dwelling_type == DwellingType.TERRACED
    assert (dwelling.street, dwelling.city) == ("Dorpsstraat", "De Bilt")
    assert (dwelling.neighbourhood_code, dwelling.district_code, dwelling.municipality_code) == (
        "BU03100100",
        "WK031001",
        "GM0310",
    )
    assert dwelling.open_data["build_year"] == "BAG 08-11-2026"
    assert dwelling.open_data["registered_label"] == "EP-Online 01-09-2026"
    assert dwelling.open_data["neighbourhood_code"] == "CBS 01-08-2024"
    assert dwelling.open_data_checked_at is not None

    dossier = household.dossier
    assert (dossier.build_year, dossier.floor_area_m2, dossier.energy_label) == (1965, 98, "B")
    assert dossier.energy_label_date == dt.date(2024, 6, 15)
    recorded = sources(dossier)
    assert recorded["build_year"] == ("1965", "BAG 08-11-2026")
    assert recorded["floor_area_m2"] == ("98", "BAG 08-11-2026")
    assert recorded["energy_label"] == ("B", "EP-Online 01-09-2026")
    assert recorded["energy_label_date"] == ("2024-06-15", "EP-Online 01-09-2026")
    assert recorded["dwelling_type"] == ("terraced", "EP-Online 01-09-2026")


def test_the_dossier_page_shows_the_open_data_source(cast, open_data, login):
    household = builders.make_household(
        cast.initiative_a, coach=cast.alice, dwelling=bare_dwelling("3731AB", 3)
    )

    response = login(cast.alice).get(
        reverse("dossier:dossier-section", args=[household.dossier.pk, "house"])
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "BAG 08-11-2026" in page
    assert "EP-Online 01-09-2026" in page


def test_a_label_is_found_by_the_letter_and_the_apartment_type_is_kept(cast, open_data):
    dwelling = bare_dwelling("3731AB", 5, house_letter="A")

    dwelling_prefill(dwelling=dwelling)

    assert (dwelling.registered_label, dwelling.dwelling_type) == ("D", DwellingType.APARTMENT)
    assert dwelling.bag_id == "0310010000100005"


def test_a_label_is_found_by_the_bag_id_when_the_letter_is_written_differently(cast, open_data):
    # EP-Online has 3731 AB 5 A for this BAG object; the coach entered no letter.
    dwelling = bare_dwelling("3731AB", 5, bag_id="0310010000100005")

    dwelling_prefill(dwelling=dwelling)

    assert dwelling.registered_label == "D"


def test_a_label_of_another_bag_object_at_the_address_is_not_taken(cast, open_data):
    dwelling = bare_dwelling("3731AB", 3, bag_id="0310010000199999")

    dwelling_prefill(dwelling=dwelling)

    assert dwelling.registered_label == ""


def test_a_label_without_a_bag_id_is_found_by_its_address(cast, open_data):
    dwelling = bare_dwelling("3732AB", 8)

    dwelling_prefill(dwelling=dwelling)

    assert dwelling.registered_label == "B"
    assert dwelling.build_year == 1930  # from the BAG: a shop with a home above it
    assert dwelling.dwelling_type == DwellingType.CORNER


def test_values_already_present_are_never_overwritten(cast, open_data):
    dwelling = bare_dwelling(
        "3731AB",
        3,
        build_year=1931,
        dwelling_type=DwellingType.CORNER,
        registered_label="D",
        registered_label_on=dt.date(2020, 1, 1),
        street="Eigen straat",
        municipality_code="GM0310",
    )

    changed = dwelling_prefill(dwelling=dwelling)

    dwelling.refresh_from_db()
    assert (dwelling.build_year, dwelling.dwelling_type, dwelling.street) == (
        1931,
        DwellingType.CORNER,
        "Eigen straat",
    )
    assert (dwelling.registered_label, dwelling.registered_label_on) == ("D", dt.date(2020, 1, 1))
    assert "build_year" not in dwelling.open_data
    assert "registered_label" not in dwelling.open_data
    assert "energy_label" not in dwelling.open_data
    # What was empty is filled.
    assert dwelling.floor_area_m2 == 98
    assert set(changed) >= {"floor_area_m2", "bag_id", "city", "neighbourhood_code"}
    assert "build_year" not in changed


def test_an_address_not_in_the_files_changes_nothing_but_the_check_time(cast, open_data):
    dwelling = bare_dwelling("3731XZ", 99)
    before = {
        field.attname: getattr(dwelling, field.attname)
        for field in dwelling._meta.concrete_fields
        if field.attname != "open_data_checked_at"
    }

    assert dwelling_prefill(dwelling=dwelling) == []

    dwelling.refresh_from_db()
    after = {name: getattr(dwelling, name) for name in before}
    assert after == before
    assert dwelling.open_data_checked_at is not None


def test_a_dwelling_is_looked_up_again_only_after_a_newer_import(cast, open_data):
    dwelling = bare_dwelling("3731AB", 1)
    dwelling_prefill(dwelling=dwelling)
    assert dwelling.build_year == 1965
    # Someone clears the year; without a newer import the files are not read again.
    dwelling.build_year = None
    dwelling.save(update_fields=["build_year"])

    assert dwelling_prefill(dwelling=dwelling) == []
    dwelling.refresh_from_db()
    assert dwelling.build_year is None

    opendata_import(kind="cbs_areas", path=FILES / "pc6hnr20240801_gwb.csv")
    assert dwelling_prefill(dwelling=dwelling) == ["build_year"]
    dwelling.refresh_from_db()
    assert dwelling.build_year == 1965


def test_before_any_import_a_dwelling_is_left_alone(cast):
    assert not OpenDataImport.objects.exists()
    dwelling = bare_dwelling("3731AB", 3)

    assert dwelling_prefill(dwelling=dwelling) == []

    dwelling.refresh_from_db()
    assert dwelling.open_data_checked_at is None
    assert dwelling.build_year is None


@pytest.mark.parametrize(
    ("building_type", "dwelling_type"),
    [
        ("1", DwellingType.DETACHED),
        ("Vrijstaande woning", DwellingType.DETACHED),
        ("12", DwellingType.SEMI_DETACHED),
        ("Twee-onder-één-kap", DwellingType.SEMI_DETACHED),
        ("2", DwellingType.CORNER),
        ("Rijwoning hoek", DwellingType.CORNER),
        ("3", DwellingType.TERRACED),
        ("Rijwoning tussen", DwellingType.TERRACED),
        ("7", DwellingType.APARTMENT),
        ("Appartement", DwellingType.APARTMENT),
        ("Galerijwoning", DwellingType.APARTMENT),
        ("Portiekwoning", DwellingType.APARTMENT),
        ("Flatwoning (overig)", DwellingType.APARTMENT),
        ("Maisonnette", DwellingType.APARTMENT),
        ("8", ""),
        ("Woonboot bestaande ligplaats", ""),
        ("", ""),
    ],
)
def test_ep_online_building_types_map_to_dwelling_types(building_type, dwelling_type):
    assert dwelling_type_from(building_type) == dwelling_type
