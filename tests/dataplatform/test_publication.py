"""Publications: one transaction, levels per agreement, K from settings, withdrawals honoured."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError
from django.utils import timezone

from dataplatform.models import (
    Level,
    Publication,
    PublicationCell,
    PublicationDelivery,
)
from dataplatform.publication import publication_make, publications_make
from dataplatform.suppression import HOUSEHOLDS, RULES_VERSION
from tests.dataplatform.builders import make_agreement
from tests.dataplatform.test_aggregation import make_home, withdraw

# The agreements of the builders start 30 days before today.
NOW = timezone.now().replace(microsecond=0)


def cell(publication: Publication, level: str, area: str, measure: str = HOUSEHOLDS):
    return publication.cells.get(level=level, area_code=area, measure=measure)


@pytest.fixture
def street(cast):
    """12 consenting homes of initiative A in one postcode of De Bilt, 3 of B in Utrecht."""
    homes = [make_home(cast.initiative_a, postcode="3731AD", label="D") for _ in range(12)]
    homes += [
        make_home(cast.initiative_b, postcode="3511AA", municipality="GM1904") for _ in range(3)
    ]
    return homes


def test_it_makes_a_publication_with_cells_and_an_outbox_row_for_the_province(
    cast, street, settings
):
    settings.DATAPLATFORM_K = 10
    make_agreement(cast.initiative_a, cast.province, Level.PC6)
    publication = publication_make(recipient=cast.province, now=NOW)
    assert publication is not None
    assert publication.rules_version == RULES_VERSION
    assert publication.k == 10
    # Whose households each level counts: initiative A's, at postcode-6 and coarser.
    assert publication.sources == {
        level: [cast.initiative_a.pk]
        for level in ("pc6", "neighbourhood", "district", "municipality")
    }
    assert publication.households == 12
    assert cell(publication, Level.PC6, "3731AD").count == 12
    assert cell(publication, Level.PC6, "3731AD", "label:D").count == 12
    assert cell(publication, Level.MUNICIPALITY, "GM0310").count == 12
    assert cell(publication, Level.PC6, "3731AD", "label:E").suppressed
    # Initiative B has no agreement: its homes in Utrecht are not in any cell.
    assert not publication.cells.filter(municipality_code="GM1904").exists()
    assert set(publication.cells.values_list("level", flat=True)) == {
        Level.PC6,
        Level.NEIGHBOURHOOD,
        Level.DISTRICT,
        Level.MUNICIPALITY,
    }
    delivery = PublicationDelivery.objects.get(publication=publication)
    assert delivery.next_attempt_at == NOW
    assert delivery.status == "pending"


def test_a_municipality_gets_a_publication_without_an_outbox_row(cast, street):
    make_agreement(cast.initiative_a, cast.municipality, Level.NEIGHBOURHOOD)
    publication = publication_make(recipient=cast.municipality, now=NOW)
    assert publication is not None
    assert not PublicationDelivery.objects.exists()
    # Neighbourhood level allows the coarser levels, not postcode-6.
    assert set(publication.cells.values_list("level", flat=True)) == {
        Level.NEIGHBOURHOOD,
        Level.DISTRICT,
        Level.MUNICIPALITY,
    }


def test_each_level_holds_only_the_initiatives_whose_agreement_allows_it(cast, street):
    for _ in range(10):
        make_home(cast.initiative_b, postcode="3511AB", municipality="GM1904")
    make_agreement(cast.initiative_a, cast.province, Level.PC6)
    make_agreement(cast.initiative_b, cast.province, Level.MUNICIPALITY)
    publication = publication_make(recipient=cast.province, now=NOW)
    assert not publication.cells.filter(level=Level.PC6, municipality_code="GM1904").exists()
    assert cell(publication, Level.MUNICIPALITY, "GM1904").count == 13
    assert publication.households == 25


def test_no_agreement_in_force_makes_no_publication(cast, street):
    make_agreement(
        cast.initiative_a,
        cast.province,
        Level.PC6,
        valid_from=timezone.localdate(NOW) - dt.timedelta(days=400),
        valid_until=timezone.localdate(NOW) - dt.timedelta(days=1),
    )
    assert publication_make(recipient=cast.province, now=NOW) is None
    assert publication_make(recipient=cast.municipality, now=NOW) is None
    assert not Publication.objects.exists()
    assert not PublicationDelivery.objects.exists()


def test_a_withdrawn_consent_is_left_out_of_the_next_publication(cast, street):
    make_agreement(cast.initiative_a, cast.province, Level.PC6)
    first = publication_make(recipient=cast.province, now=NOW, k=10)
    withdraw(street[0])
    second = publication_make(recipient=cast.province, now=NOW, k=10)
    assert cell(first, Level.PC6, "3731AD").count == 12
    assert first.households == 12
    assert cell(second, Level.PC6, "3731AD").count == 11
    assert second.households == 11
    withdraw(street[1])
    withdraw(street[2])
    third = publication_make(recipient=cast.province, now=NOW, k=10)
    assert cell(third, Level.PC6, "3731AD").suppressed
    # A publication already made never changes.
    assert cell(first, Level.PC6, "3731AD").count == 12


def test_k_comes_from_the_settings(cast, street, settings):
    settings.DATAPLATFORM_K = 13
    make_agreement(cast.initiative_a, cast.province, Level.PC6)
    publication = publication_make(recipient=cast.province, now=NOW)
    assert publication.k == 13
    assert cell(publication, Level.PC6, "3731AD").suppressed
    assert cell(publication, Level.PC6, "3731AD").count is None


@pytest.mark.parametrize("configured, given", [(4, None), (10, 4), (10, 0)])
def test_k_is_never_below_5(cast, street, settings, configured, given):
    settings.DATAPLATFORM_K = configured
    make_agreement(cast.initiative_a, cast.province, Level.PC6)
    with pytest.raises(ValueError, match="at least 5"):
        publication_make(recipient=cast.province, now=NOW, k=given)
    assert not Publication.objects.exists()


def test_nothing_is_left_when_writing_the_cells_fails(cast, street, monkeypatch):
    make_agreement(cast.initiative_a, cast.province, Level.PC6)

    def broken(*args, **kwargs):
        raise IntegrityError("disk full")

    monkeypatch.setattr(PublicationCell.objects, "bulk_create", broken)
    with pytest.raises(IntegrityError):
        publication_make(recipient=cast.province, now=NOW)
    assert not Publication.objects.exists()
    assert not PublicationCell.objects.exists()
    assert not PublicationDelivery.objects.exists()


def test_nothing_is_left_when_writing_the_outbox_row_fails(cast, street, monkeypatch):
    make_agreement(cast.initiative_a, cast.province, Level.PC6)

    def broken(*args, **kwargs):
        raise IntegrityError("outbox unavailable")

    monkeypatch.setattr(PublicationDelivery.objects, "create", broken)
    with pytest.raises(IntegrityError):
        publication_make(recipient=cast.province, now=NOW)
    assert not Publication.objects.exists()
    assert not PublicationCell.objects.exists()


def test_publications_are_made_for_every_recipient_with_an_agreement(cast, dp, street):
    make_agreement(cast.initiative_a, cast.province, Level.PC6)
    make_agreement(cast.initiative_a, cast.municipality, Level.DISTRICT)
    ended = make_agreement(cast.initiative_b, dp.municipality_b, Level.PC6)
    ended.ended_at = timezone.now() - dt.timedelta(days=2)
    ended.save()
    made = publications_make(now=timezone.now())
    assert {p.recipient for p in made} == {cast.province, cast.municipality}
    assert Publication.objects.count() == 2
    assert PublicationDelivery.objects.get().publication.recipient == cast.province


def test_a_recipient_sees_only_its_own_municipalities(cast, dp, street):
    for _ in range(10):
        make_home(cast.initiative_a, postcode="3511AC", municipality="GM1904")
    make_agreement(cast.initiative_a, cast.municipality, Level.PC6)
    publication = publication_make(recipient=cast.municipality, now=NOW)
    assert set(publication.cells.values_list("municipality_code", flat=True)) == {"GM0310"}
    assert publication.households == 12
