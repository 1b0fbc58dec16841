"""The dossier API under /api/v1/: list, detail and saving one topic, for every kind of user."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from dossier.models import Dossier, DossierSection, Source, ValueRecord

LIST = "/api/v1/dossiers/"


def detail(dossier: Dossier) -> str:
    return f"/api/v1/dossiers/{dossier.pk}/"


def section_url(dossier: Dossier, section: str) -> str:
    return f"/api/v1/dossiers/{dossier.pk}/sections/{section}/"


def patch(client: Client, url: str, body: dict):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def version_of(dossier: Dossier, section: str) -> int:
    return DossierSection.objects.get(dossier=dossier, section=section).version


# The list


@pytest.mark.parametrize("who", ["alice", "coordinator"])
def test_it_lists_the_dossiers_the_user_may_see(cast, login, who):
    response = login(getattr(cast, who)).get(LIST)
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    expected = {cast.household_a.dossier.pk}
    if who == "coordinator":
        expected.add(cast.household_a2.dossier.pk)
    assert ids == expected
    row = next(r for r in response.json()["results"] if r["id"] == cast.household_a.dossier.pk)
    assert row["household"]["name"] == "Familie Alfa"
    assert row["household"]["assigned_coach"]["id"] == cast.alice.pk
    assert row["household"]["initiative"]["id"] == cast.initiative_a.pk


@pytest.mark.parametrize("who", ["charlie", "coordinator_b", "municipality_staff"])
def test_it_lists_nothing_of_another_organisation(cast, login, who):
    response = login(getattr(cast, who)).get(LIST)
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert cast.household_a.dossier.pk not in ids
    assert cast.household_a2.dossier.pk not in ids


def test_it_filters_the_list_by_initiative_postcode_and_own_dossiers(cast, login):
    client = login(cast.coordinator)
    dwelling = cast.household_a2.dwelling
    dwelling.postcode = "3512JK"
    dwelling.save()
    assert response_ids(client.get(LIST, {"postcode": "3512 j"})) == {cast.household_a2.dossier.pk}
    assert response_ids(client.get(LIST, {"initiative": cast.initiative_b.pk})) == set()
    assert response_ids(client.get(LIST, {"assigned_to_me": "true"})) == set()
    alice = login(cast.alice)
    assert response_ids(alice.get(LIST, {"assigned_to_me": "true"})) == {
        cast.household_a.dossier.pk
    }
    assert client.get(LIST, {"initiative": "x"}).status_code == 400


def test_it_pages_the_list(cast, login):
    response = login(cast.coordinator).get(LIST, {"page_size": 1})
    body = response.json()
    assert body["count"] == 2
    assert len(body["results"]) == 1
    assert body["next"] is not None


def response_ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# The detail


@pytest.mark.parametrize("who", ["alice", "coordinator"])
def test_it_shows_a_dossier_with_sources_components_measures_and_versions(cast, login, who):
    dossier = cast.household_a.dossier
    response = login(getattr(cast, who)).get(detail(dossier))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == dossier.pk
    assert body["characteristics"]["build_year"] == 1965
    assert body["characteristics"]["dwelling_type"] == "terraced"
    assert [r["source"] for r in body["sources"]["build_year"]] == [Source.OPEN_DATA]
    assert body["sources"]["build_year"][0]["value"] == "1965"
    assert {c["kind"] for c in body["components"]} >= {"roof", "facade"}
    assert len(body["measures"]) == dossier.measures.count()
    assert {s["section"]: s["version"] for s in body["sections"]}["house"] == 0


@pytest.mark.parametrize("who", ["bob", "charlie", "coordinator_b", "municipality_staff"])
def test_it_hides_a_dossier_from_who_may_not_see_it(cast, login, who):
    assert login(getattr(cast, who)).get(detail(cast.household_a.dossier)).status_code == 404


def test_it_answers_404_for_a_dossier_that_does_not_exist(cast, login):
    assert login(cast.alice).get("/api/v1/dossiers/999999/").status_code == 404


# Residents and anonymous visitors


def test_it_refuses_residents_the_whole_api(cast, login):
    client = login(cast.resident)
    dossier = cast.household_a.dossier
    assert client.get(LIST).status_code == 403
    assert client.get(detail(dossier)).status_code == 403
    response = patch(client, section_url(dossier, "energy"), {"version": 0, "values": {}})
    assert response.status_code == 403
    assert version_of(dossier, "energy") == 0


def test_it_refuses_anonymous_visitors(cast, client):
    dossier = cast.household_a.dossier
    assert client.get(LIST).status_code in {401, 403}
    assert client.get(detail(dossier)).status_code in {401, 403}
    response = patch(client, section_url(dossier, "energy"), {"version": 0, "values": {}})
    assert response.status_code in {401, 403}
    assert version_of(dossier, "energy") == 0


# Saving a topic


@pytest.mark.parametrize("who", ["alice", "coordinator"])
def test_it_saves_a_topic_with_the_coach_as_source(cast, login, who):
    dossier = cast.household_a.dossier
    user = getattr(cast, who)
    response = patch(
        login(user),
        section_url(dossier, "energy"),
        {
            "version": 0,
            "values": {"gas_m3_per_year": 1400, "thermostat_c": "19.5"},
            "notes": "Meterkast bekeken.",
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 1
    dossier.refresh_from_db()
    assert dossier.gas_m3_per_year == 1400
    assert dossier.thermostat_c == Decimal("19.5")
    record = ValueRecord.objects.get(dossier=dossier, field="gas_m3_per_year")
    assert (record.source, record.value, record.recorded_by) == (Source.COACH, "1400", user)
    section = DossierSection.objects.get(dossier=dossier, section="energy")
    assert (section.version, section.notes, section.updated_by) == (1, "Meterkast bekeken.", user)


def test_it_saves_components_and_measures_of_their_topics(cast, login):
    dossier = cast.household_a.dossier
    client = login(cast.alice)
    response = patch(
        client,
        section_url(dossier, "insulation"),
        {"version": 0, "components": [{"kind": "roof", "insulation": "good", "rc_value": "3.5"}]},
    )
    assert response.status_code == 200, response.content
    roof = dossier.components.get(kind="roof")
    assert (roof.insulation, roof.rc_value) == ("good", Decimal("3.5"))
    assert ValueRecord.objects.filter(dossier=dossier, field="roof.rc_value", value="3.5").exists()
    measure = dossier.measures.first()
    response = patch(
        client,
        section_url(dossier, "measures"),
        {"version": 0, "measures": [{"id": measure.pk, "status": "wanted_now"}]},
    )
    assert response.status_code == 200, response.content
    measure.refresh_from_db()
    assert measure.status == "wanted_now"


def test_it_refuses_a_stale_version_with_both_versions_and_stores_nothing(cast, login):
    dossier = cast.household_a.dossier
    client = login(cast.alice)
    first = {"version": 0, "values": {"occupants": 3}}
    assert patch(client, section_url(dossier, "energy"), first).status_code == 200
    stale = {"version": 0, "values": {"occupants": 5, "gas_m3_per_year": 900}}
    response = patch(client, section_url(dossier, "energy"), stale)
    assert response.status_code == 409
    body = response.json()
    assert (body["current_version"], body["submitted_version"]) == (1, 0)
    assert body["differences"]["occupants"] == {"current": "3", "submitted": "5"}
    dossier.refresh_from_db()
    assert (dossier.occupants, dossier.gas_m3_per_year) == (3, None)
    assert not ValueRecord.objects.filter(dossier=dossier, field="gas_m3_per_year").exists()
    assert version_of(dossier, "energy") == 1


@pytest.mark.parametrize(
    ("section", "body", "field"),
    [
        ("energy", {"values": {"occupants": 50}}, "values"),
        ("energy", {"values": {"thermostat_c": "40"}}, "values"),
        ("house", {"values": {"roof_type": "thatched"}}, "values"),
        ("house", {"values": {"build_year": "old"}}, "values"),
        ("house", {"values": {"is_monument": "maybe"}}, "values"),
        ("energy", {"values": {"roof_type": "flat"}}, "values"),
        ("energy", {"components": [{"kind": "roof", "insulation": "good"}]}, "components"),
        ("insulation", {"components": [{"kind": "chimney"}]}, "components"),
        ("insulation", {"components": [{"kind": "roof", "rc_value": "-1"}]}, "components"),
        ("measures", {"measures": [{"id": 999999, "status": "done"}]}, "measures"),
        ("measures", {"measures": [{"id": 0, "status": "maybe"}]}, "measures"),
        ("energy", {"notes": "x" * 10001}, "notes"),
        ("energy", {}, "version"),
    ],
)
def test_it_refuses_bad_input_per_field_and_stores_nothing(cast, login, section, body, field):
    dossier = cast.household_a.dossier
    before = Dossier.objects.filter(pk=dossier.pk).values().get()
    records = ValueRecord.objects.count()
    body = {"version": 0, **body} if field != "version" else body
    response = patch(login(cast.alice), section_url(dossier, section), body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Dossier.objects.filter(pk=dossier.pk).values().get() == before
    assert ValueRecord.objects.count() == records
    assert version_of(dossier, section) == 0


def test_it_names_the_field_of_a_value_out_of_range(cast, login):
    response = patch(
        login(cast.alice),
        section_url(cast.household_a.dossier, "energy"),
        {"version": 0, "values": {"occupants": 50, "gas_m3_per_year": -1}},
    )
    assert set(response.json()["values"]) == {"occupants", "gas_m3_per_year"}


def test_it_refuses_a_combination_the_model_forbids_and_stores_nothing(cast, login):
    dossier = cast.household_a.dossier
    response = patch(
        login(cast.alice),
        section_url(dossier, "house"),
        {"version": 0, "values": {"energy_label": "B", "energy_label_kind": "none"}},
    )
    assert response.status_code == 400, response.content
    dossier.refresh_from_db()
    assert (dossier.energy_label, dossier.energy_label_kind) == ("", "")
    assert not ValueRecord.objects.filter(dossier=dossier, field="energy_label").exists()
    assert version_of(dossier, "house") == 0


def test_it_answers_404_for_an_unknown_topic(cast, login):
    response = patch(
        login(cast.alice), section_url(cast.household_a.dossier, "garden"), {"version": 0}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["bob", "charlie", "coordinator_b", "municipality_staff"])
def test_it_does_not_let_another_organisation_save(cast, login, who):
    dossier = cast.household_a.dossier
    response = patch(
        login(getattr(cast, who)),
        section_url(dossier, "energy"),
        {"version": 0, "values": {"occupants": 2}},
    )
    assert response.status_code == 404
    dossier.refresh_from_db()
    assert dossier.occupants is None


def test_it_requires_the_csrf_token_for_a_save(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.alice, backend="django.contrib.auth.backends.ModelBackend")
    dossier = cast.household_a.dossier
    response = patch(client, section_url(dossier, "energy"), {"version": 0, "values": {}})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


# The schema


def test_it_documents_the_three_operations_in_the_schema(cast, login):
    response = login(cast.coordinator).get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/dossiers/" in paths
    assert "get" in paths["/api/v1/dossiers/{id}/"]
    assert "patch" in paths["/api/v1/dossiers/{id}/sections/{section}/"]


def test_it_generates_the_schema_without_warnings(tmp_path: Path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert "/api/v1/dossiers/{id}/sections/{section}/" in schema["paths"]
