from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from hypothesis import given
from hypothesis import strategies as st

from dossier import addresses
from dossier.models import Dwelling
from tests import builders


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("1234ab", "1234AB"), ("1234 AB", "1234AB"), (" 3731 ab ", "3731AB"), ("9999ZZ", "9999ZZ")],
)
def test_it_normalises_valid_postcodes(raw, stored):
    assert addresses.normalise_postcode(raw) == stored
    addresses.validate_postcode(raw)


@pytest.mark.parametrize(
    "raw", ["0123AB", "123AB", "12345A", "1234SA", "1234 sd", "1234SS", "", "ABCD12"]
)
def test_it_refuses_invalid_postcodes_with_a_dutch_message(raw):
    with pytest.raises(ValidationError) as excinfo:
        addresses.validate_postcode(raw)
    assert "postcode" in excinfo.value.messages[0].lower()
    assert "vier cijfers" in excinfo.value.messages[0]


@given(st.from_regex(r"\A[1-9][0-9]{3} ?[a-zA-Z]{2}\Z"))
def test_it_accepts_every_well_formed_postcode_except_the_unused_letters(raw):
    normalised = addresses.normalise_postcode(raw)
    assert len(normalised) == 6 and normalised == normalised.upper()
    assert addresses.is_valid_postcode(normalised) == (normalised[4:] not in {"SA", "SD", "SS"})


@pytest.mark.django_db
def test_it_stores_the_canonical_spelling_after_clean():
    dwelling = Dwelling(
        postcode="3731 ab", house_number=5, house_letter="a", house_number_addition="bis"
    )
    dwelling.full_clean()
    assert (dwelling.postcode, dwelling.house_letter, dwelling.house_number_addition) == (
        "3731AB",
        "A",
        "BIS",
    )


@pytest.mark.django_db
def test_it_refuses_a_second_dwelling_at_the_same_address_with_a_dutch_message():
    builders.make_dwelling(postcode="3731AB", house_number=7)
    duplicate = Dwelling(postcode="3731 ab", house_number=7)
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert "bestaat al" in str(excinfo.value)


@pytest.mark.django_db
def test_it_allows_the_same_number_with_another_letter_or_addition():
    builders.make_dwelling(postcode="3731AB", house_number=7)
    builders.make_dwelling(postcode="3731AB", house_number=7, house_letter="A")
    builders.make_dwelling(postcode="3731AB", house_number=7, house_number_addition="2")
    assert Dwelling.objects.filter(postcode="3731AB", house_number=7).count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"postcode": "0123AB"},
        {"postcode": "1234SA"},
        {"postcode": "12345"},
        {"house_number": 0},
        {"house_number": 100000},
        {"house_letter": "1"},
        {"house_number_addition": "A/1"},
        {"house_number_addition": "ABCDE"},
    ],
)
def test_it_refuses_invalid_addresses_in_the_database_itself(fields):
    values = {
        "postcode": "3731AB",
        "house_number": 1,
        "house_letter": "",
        "house_number_addition": "",
    }
    values.update(fields)
    # A check constraint raises IntegrityError; PostgreSQL refuses an over-long value
    # with DataError before any constraint is checked.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        Dwelling.objects.bulk_create([Dwelling(**values)])


@pytest.mark.django_db
def test_it_refuses_a_duplicate_address_in_the_database_itself():
    builders.make_dwelling(postcode="3731AB", house_number=9)
    with pytest.raises(IntegrityError), transaction.atomic():
        Dwelling.objects.bulk_create([Dwelling(postcode="3731AB", house_number=9)])
