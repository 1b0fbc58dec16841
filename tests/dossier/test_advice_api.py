"""POST /api/v1/advice/calculate/: public, throttled, stores nothing, a message per field."""

from __future__ import annotations

import json
import logging

import pytest
from django.apps import apps
from django.core.cache import cache
from django.test import Client

# The endpoint runs outside a request transaction (it stores nothing), so it is tested
# outside a test transaction too: DRF marks any open transaction for rollback on a 400.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_parameters"),
]

URL = "/api/v1/advice/calculate/"
CORNER_HOUSE = {
    "dwelling_type": "corner",
    "build_year": 1965,
    "floor_area_m2": 120,
    "gas_price_eur_per_m3": 1.20,
    "nip_contribution_eur": 1460,
    "components": {
        "roof": {"state": "none"},
        "cavity_wall": {"state": "none"},
        "floor": {"state": "none"},
        "glazing_living": {"state": "partial"},
        "glazing_bedrooms": {"state": "partial"},
    },
}


@pytest.fixture(autouse=True)
def _fresh_throttle():
    # The throttle counts in the cache; each test starts with a clean count.
    cache.clear()
    yield
    cache.clear()


def post(client: Client, body: dict, **extra):
    return client.post(URL, data=json.dumps(body), content_type="application/json", **extra)


def row_counts() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.managed}


def test_it_calculates_for_an_anonymous_visitor(client):
    response = post(client, CORNER_HOUSE)

    assert response.status_code == 200
    body = response.json()
    codes = {m["code"] for m in body["measures"]}
    assert {
        "floor_insulation",
        "roof_insulation",
        "cavity_wall_insulation",
        "facade_insulation",
        "hr_glass",
        "triple_glass",
    } <= codes
    floor = next(m for m in body["measures"] if m["code"] == "floor_insulation")
    assert floor["cost_eur"] == 2350
    assert floor["isde_subsidy_eur"] == 275
    assert floor["net_cost_eur"] == 615
    assert 117 <= floor["gas_saved_m3"] <= 143
    assert floor["payback_years"] == pytest.approx(615 / floor["savings_eur_per_year"], abs=0.1)
    assert set(floor) >= {
        "code",
        "cost_eur",
        "isde_subsidy_eur",
        "net_cost_eur",
        "gas_saved_m3",
        "savings_eur_per_year",
        "payback_years",
        "co2_saved_kg",
    }
    assert body["indicative_label"] in list("ABCDEFG")
    assert body["standard_target_kwh_m2"] > 40
    assert body["heat_demand_kwh_m2"] > 0
    assert body["parameter_version"] == "2024-1"


def test_a_logged_in_user_of_any_organisation_gets_the_same_figures(cast, login):
    anonymous = post(Client(), CORNER_HOUSE).json()
    for user in (cast.alice, cast.charlie, cast.resident):
        assert post(login(user), CORNER_HOUSE).json() == anonymous


def test_it_uses_the_households_gas_use_and_prices(client):
    plain = post(client, CORNER_HOUSE).json()
    own = post(
        client, {**CORNER_HOUSE, "gas_m3_per_year": 1100, "gas_price_eur_per_m3": 2.0}
    ).json()

    roof = {b["code"]: b for b in plain["measures"]}["roof_insulation"]
    roof_own = {b["code"]: b for b in own["measures"]}["roof_insulation"]
    assert roof_own["gas_saved_m3"] < roof["gas_saved_m3"]
    assert roof_own["savings_eur_per_year"] == pytest.approx(roof_own["gas_saved_m3"] * 2.0, abs=2)
    assert own["heat_demand_kwh_m2"] == round(1100 / 120 * 9)


def test_a_measure_already_done_saves_nothing(client):
    body = post(client, {**CORNER_HOUSE, "done": ["roof_insulation"]}).json()

    roof = {m["code"]: m for m in body["measures"]}["roof_insulation"]
    assert roof["already_done"] is True
    assert roof["gas_saved_m3"] == 0
    assert roof["payback_years"] is None


def test_it_answers_bad_input_with_a_message_per_field_and_stores_nothing(client):
    before = row_counts()

    response = post(
        client,
        {
            "dwelling_type": "castle",
            "build_year": "old",
            "floor_area_m2": -5,
            "gas_m3_per_year": 99999999,
            "components": {"roof": {"state": "leaky"}},
            "done": ["moat"],
        },
    )

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) >= {
        "dwelling_type",
        "build_year",
        "floor_area_m2",
        "gas_m3_per_year",
        "components",
        "done",
    }
    assert "state" in errors["components"]["roof"]
    assert row_counts() == before


def test_it_requires_the_three_basics(client):
    response = post(client, {})

    assert response.status_code == 400
    assert set(response.json()) == {"dwelling_type", "build_year", "floor_area_m2"}


def test_it_refuses_an_apartment_type_for_a_house(client):
    response = post(client, {**CORNER_HOUSE, "apartment_type": "top_floor"})

    assert response.status_code == 400
    assert "apartment_type" in response.json()


def test_it_stores_nothing_and_logs_no_input(client, caplog):
    before = row_counts()
    with caplog.at_level(logging.DEBUG):
        response = post(client, {**CORNER_HOUSE, "gas_m3_per_year": 1234})

    assert response.status_code == 200
    assert row_counts() == before
    assert "1234" not in caplog.text


def test_it_throttles_one_client_and_not_another(client, settings):
    from dossier.advice_api import CalculateThrottle

    CalculateThrottle.THROTTLE_RATES = {"advice-calculate": "3/minute"}
    try:
        statuses = [post(client, CORNER_HOUSE).status_code for _ in range(4)]
        other = post(Client(REMOTE_ADDR="10.0.0.2"), CORNER_HOUSE)
        spoofed = post(client, CORNER_HOUSE, HTTP_X_FORWARDED_FOR="10.9.9.9")
    finally:
        from rest_framework.settings import api_settings

        CalculateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES

    assert statuses == [200, 200, 200, 429]
    assert other.status_code == 200
    # An invented X-Forwarded-For does not buy a fresh allowance.
    assert spoofed.status_code == 429


def test_it_does_not_accept_get(client):
    assert client.get(URL).status_code == 405


def test_it_is_in_the_schema(cast, login):
    schema = login(cast.coordinator).get("/api/v1/schema/", {"format": "json"}).json()

    operation = schema["paths"][URL]["post"]
    assert operation["operationId"] == "advice_calculate"
    assert "429" in operation["responses"]
