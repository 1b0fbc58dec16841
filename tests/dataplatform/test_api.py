"""The aggregates API: a publication's figures for its own recipient, by key or by login."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone

from accounts import api_tokens
from accounts.models import Membership, Organisation
from accounts.roles import Role
from dataplatform.models import Level, Publication
from tests.dataplatform.builders import make_agreement, make_publication

pytestmark = pytest.mark.django_db

API = "/api/v1/aggregates"

# (level, area, municipality, measure, count); None is a suppressed cell.
DE_BILT_CELLS = [
    ("pc6", "3731AB", "GM0310", "households", 14),
    ("pc6", "3731AB", "GM0310", "label:D", 10),
    ("pc6", "3731AB", "GM0310", "label:C", None),
    ("pc6", "3731AC", "GM0310", "households", 11),
    ("pc6", "3731AC", "GM0310", "label:D", None),
    ("municipality", "GM0310", "GM0310", "households", 25),
]
UTRECHT_CELLS = [
    ("pc6", "3511AA", "GM1904", "households", 30),
    ("pc6", "3511AA", "GM1904", "label:B", 12),
]


def key_client(key: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {key}"})


def key_for(organisation: Organisation, actor) -> str:
    _token, key = api_tokens.api_token_create(organisation=organisation, name="GIS", actor=actor)
    return key


def cells(response) -> set[tuple[str, str, str, int | None, bool]]:
    return {
        (c["area"], c["municipality"], c["measure"], c["count"], c["suppressed"])
        for c in response.json()["results"]
    }


@dataclass
class Published:
    de_bilt: Publication
    utrecht: Publication
    province: Publication


@pytest.fixture
def published(cast, dp) -> Published:
    """A publication for each of the three bodies, each under an agreement at pc6 level."""
    make_agreement(cast.initiative_a, cast.municipality, Level.PC6)
    make_agreement(cast.initiative_b, dp.municipality_b, Level.PC6)
    make_agreement(cast.initiative_a, cast.province, Level.PC6)
    return Published(
        de_bilt=make_publication(cast.municipality, DE_BILT_CELLS, k=10),
        utrecht=make_publication(dp.municipality_b, UTRECHT_CELLS, k=10),
        province=make_publication(cast.province, DE_BILT_CELLS + UTRECHT_CELLS, k=10),
    )


# Allowed ------------------------------------------------------------------------------------


def test_municipality_staff_read_their_own_publication(cast, login, published):
    response = login(cast.municipality_staff).get(f"{API}/pc6/")
    assert response.status_code == 200
    body = response.json()
    publication = published.de_bilt
    assert body["publication"] == {
        "id": str(publication.pk),
        "organisation": cast.municipality.slug,
        "made_at": body["publication"]["made_at"],
        "rules_version": "test-1",
        "k": 10,
        "households": 0,
    }
    assert dt.datetime.fromisoformat(body["publication"]["made_at"]) == publication.created_at
    assert body["level"] == "pc6"
    assert body["municipality"] is None
    assert cells(response) == {
        ("3731AB", "GM0310", "households", 14, False),
        ("3731AB", "GM0310", "label:D", 10, False),
        ("3731AB", "GM0310", "label:C", None, True),
        ("3731AC", "GM0310", "households", 11, False),
        ("3731AC", "GM0310", "label:D", None, True),
    }


def test_a_municipalitys_key_reads_the_same_figures(cast, published):
    key = key_for(cast.municipality, cast.municipality_staff)
    response = key_client(key).get(f"{API}/pc6/")
    assert response.status_code == 200
    assert response.json()["publication"]["id"] == str(published.de_bilt.pk)
    assert len(response.json()["results"]) == 5


def test_a_suppressed_cell_has_no_count_at_all(cast, login, published):
    response = login(cast.municipality_staff).get(f"{API}/pc6/")
    suppressed = [c for c in response.json()["results"] if c["suppressed"]]
    assert suppressed and all(c["count"] is None for c in suppressed)


def test_other_levels_have_the_same_shape(cast, login, published):
    response = login(cast.municipality_staff).get(f"{API}/municipality/")
    assert response.status_code == 200
    assert cells(response) == {("GM0310", "GM0310", "households", 25, False)}


def test_a_province_filters_by_one_of_its_municipalities(cast, published):
    client = key_client(key_for(cast.province, cast.province_analyst))
    everything = client.get(f"{API}/pc6/")
    assert {c[1] for c in cells(everything)} == {"GM0310", "GM1904"}
    response = client.get(f"{API}/pc6/", {"municipality": "gm1904"})
    assert response.status_code == 200
    assert response.json()["municipality"] == "GM1904"
    assert cells(response) == {
        ("3511AA", "GM1904", "households", 30, False),
        ("3511AA", "GM1904", "label:B", 12, False),
    }


def test_a_province_analyst_reads_the_provinces_publication(cast, login, published):
    response = login(cast.province_analyst).get(f"{API}/pc6/")
    assert response.status_code == 200
    assert response.json()["publication"]["id"] == str(published.province.pk)


def test_the_newest_publication_is_the_one_read(cast, login, published):
    newer = make_publication(cast.municipality, [("pc6", "3731ZZ", "GM0310", "households", 40)])
    Publication.objects.filter(pk=published.de_bilt.pk).update(
        created_at=timezone.now() - dt.timedelta(days=7)
    )
    response = login(cast.municipality_staff).get(f"{API}/pc6/")
    assert response.json()["publication"]["id"] == str(newer.pk)
    assert cells(response) == {("3731ZZ", "GM0310", "households", 40, False)}


def test_pages_follow_each_other_through_every_cell_once_in_area_order(cast, login, published):
    client = login(cast.province_analyst)
    seen = []
    url = f"{API}/pc6/?page_size=2"
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) <= 2
        seen += [(c["area"], c["measure"]) for c in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 4
    expected = sorted((c[1], c[3]) for c in DE_BILT_CELLS + UTRECHT_CELLS if c[0] == "pc6")
    assert seen == expected


# Refused ------------------------------------------------------------------------------------


def test_another_municipality_sees_only_its_own_publication(cast, dp, login, published):
    response = login(dp.staff_b).get(f"{API}/pc6/")
    assert response.status_code == 200
    assert response.json()["publication"]["id"] == str(published.utrecht.pk)
    assert {c[1] for c in cells(response)} == {"GM1904"}
    # Nor by naming the other one.
    assert (
        login(dp.staff_b).get(f"{API}/pc6/", {"organisation": cast.municipality.slug}).status_code
        == 404
    )
    key = key_for(dp.municipality_b, dp.staff_b)
    assert key_client(key).get(f"{API}/pc6/").json()["publication"]["id"] == str(
        published.utrecht.pk
    )
    response = key_client(key).get(f"{API}/pc6/", {"organisation": cast.municipality.slug})
    assert response.status_code == 404


@pytest.mark.parametrize("code", ["GM1904", "GM9999", "x", "3731AB"])
def test_a_municipality_that_is_not_the_organisations_is_a_clear_400(cast, login, published, code):
    response = login(cast.municipality_staff).get(f"{API}/pc6/", {"municipality": code})
    assert response.status_code == 400
    message = response.json()["municipality"][0]
    assert "GM0310" in message
    assert "results" not in response.json()


def test_no_publication_yet_is_a_clear_404(cast, login):
    make_agreement(cast.initiative_a, cast.municipality, Level.PC6)
    response = login(cast.municipality_staff).get(f"{API}/pc6/")
    assert response.status_code == 404
    assert "Er zijn nog geen cijfers gepubliceerd" in response.json()["detail"]


def test_a_level_no_agreement_in_force_allows_is_not_given(cast, login):
    make_agreement(cast.initiative_a, cast.municipality, Level.MUNICIPALITY)
    make_publication(cast.municipality, DE_BILT_CELLS)
    client = login(cast.municipality_staff)
    response = client.get(f"{API}/pc6/")
    assert response.status_code == 404
    assert "Er is geen geldende afspraak" in response.json()["detail"]
    assert client.get(f"{API}/municipality/").status_code == 200


def test_an_agreement_that_expired_stops_the_pull(cast, login):
    today = timezone.localdate()
    make_agreement(
        cast.initiative_a,
        cast.municipality,
        Level.PC6,
        valid_from=today - dt.timedelta(days=400),
        valid_until=today - dt.timedelta(days=1),
    )
    make_publication(cast.municipality, DE_BILT_CELLS)
    response = login(cast.municipality_staff).get(f"{API}/pc6/")
    assert response.status_code == 404
    assert "results" not in response.json()


def test_an_unknown_level_is_not_found(cast, login, published):
    for level in ("address", "pc4", "x"):
        response = login(cast.municipality_staff).get(f"{API}/{level}/")
        assert response.status_code == 404, level
        assert "results" not in response.json()


def test_anonymous_callers_get_a_bearer_challenge(client, published):
    response = client.get(f"{API}/pc6/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "results" not in response.json()


def test_an_initiatives_key_does_not_read_figures(cast, published):
    key = key_for(cast.initiative_a, cast.coordinator)
    response = key_client(key).get(f"{API}/pc6/")
    assert response.status_code == 403
    assert "results" not in response.json()


def test_a_revoked_government_key_is_refused(cast, published):
    token, key = api_tokens.api_token_create(
        organisation=cast.municipality, name="GIS", actor=cast.municipality_staff
    )
    api_tokens.api_token_revoke(token=token)
    assert key_client(key).get(f"{API}/pc6/").status_code == 401


@pytest.mark.parametrize("who", ["coordinator", "alice", "charlie", "resident", "admin"])
def test_people_of_initiatives_and_residents_are_refused(cast, login, published, who):
    response = login(getattr(cast, who)).get(f"{API}/pc6/")
    assert response.status_code == 403
    assert "results" not in response.json()


def test_staff_of_two_municipalities_choose_one(cast, dp, login, published):
    Membership.objects.create(
        user=cast.municipality_staff, organisation=dp.municipality_b, role=Role.MUNICIPALITY_STAFF
    )
    client = login(cast.municipality_staff)
    response = client.get(f"{API}/pc6/")
    assert response.status_code == 400
    assert "organisation" in response.json()
    chosen = client.get(f"{API}/pc6/", {"organisation": dp.municipality_b.slug})
    assert chosen.json()["publication"]["id"] == str(published.utrecht.pk)


# The schema ---------------------------------------------------------------------------------


def test_the_schema_documents_the_call_and_that_keys_are_admitted(cast, published):
    client = key_client(key_for(cast.municipality, cast.municipality_staff))
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/aggregates/{level}/"]["get"]
    assert {"apiKey": []} in operation["security"]
    level = next(p for p in operation["parameters"] if p["name"] == "level")
    assert set(level["schema"]["enum"]) == {"pc6", "neighbourhood", "district", "municipality"}
    assert {p["name"] for p in operation["parameters"]} >= {"municipality", "cursor"}
