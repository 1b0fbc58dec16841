"""The advice page: figures per measure for a dossier, each unfolding to its formula."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from dossier.models import BuildingComponent, Dossier, DossierMeasure, MeasureType

pytestmark = pytest.mark.django_db


def advice_url(household) -> str:
    return reverse("dossier:dossier-advice", args=[household.dossier.pk])


def describe_corner_house(household) -> Dossier:
    dossier = Dossier.objects.get(pk=household.dossier.pk)
    dossier.dwelling_type = "corner"
    dossier.build_year = 1965
    dossier.floor_area_m2 = 120
    dossier.gas_m3_per_year = 1900
    dossier.heating_system = "hr_boiler"
    dossier.save()
    BuildingComponent.objects.filter(dossier=dossier, kind="roof").update(insulation="none")
    return dossier


@pytest.mark.parametrize("who", ["alice", "coordinator", "resident"])
def test_it_shows_the_figures_to_those_who_may_see_the_dossier(cast, login, who):
    describe_corner_house(cast.household_a)

    response = login(getattr(cast, who)).get(advice_url(cast.household_a))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Dakisolatie" in html
    # Every figure unfolds: a <details> with the formula and a table of its inputs.
    assert html.count('<details class="wd-figure">') > 20
    assert "graaddagen" in html.lower()
    assert "2024-1" in html
    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    )


@pytest.mark.parametrize("who", ["bob", "charlie", "coordinator_b", "municipality_staff"])
def test_it_is_not_found_for_others(cast, login, who):
    response = login(getattr(cast, who)).get(advice_url(cast.household_a))

    assert response.status_code == 404


def test_it_sends_an_anonymous_visitor_to_the_login(cast, client):
    response = client.get(advice_url(cast.household_a))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_it_uses_the_dossier_and_shows_dutch_numbers(cast, login):
    describe_corner_house(cast.household_a)

    html = login(cast.alice).get(advice_url(cast.household_a)).content.decode()

    # Heat demand = 1900 m³ ÷ 120 m² × 9 = 142.5 → "143 kWh/m²" (or 142 with banker's rounding).
    assert re.search(r"14[23] kWh/m²", html)
    assert re.search(r"€ \d\.\d{3}", html)  # thousands with a dot


def test_it_leaves_out_a_measure_already_done_and_says_why(cast, login):
    describe_corner_house(cast.household_a)
    roof = MeasureType.objects.get(code="roof_insulation")
    DossierMeasure.objects.filter(dossier=cast.household_a.dossier, measure_type=roof).update(
        status="done", done_year=2020, done_by="third_party"
    )

    html = login(cast.alice).get(advice_url(cast.household_a)).content.decode()

    roof_block = html[html.index("Dakisolatie") : html.index("</li>", html.index("Dakisolatie"))]
    assert "Al gedaan" in roof_block
    assert "wd-figure" not in roof_block


def test_it_shows_the_plan_of_wanted_measures_once(cast, login):
    describe_corner_house(cast.household_a)
    for code in ("roof_insulation", "hr_glass"):
        DossierMeasure.objects.filter(
            dossier=cast.household_a.dossier, measure_type__code=code
        ).update(status="wanted_now")

    html = login(cast.alice).get(advice_url(cast.household_a)).content.decode()

    assert 'id="plan-heading"' in html
    plan = html[html.index('id="plan-heading"') : html.index('id="measures-heading"')]
    assert "Dakisolatie" in plan and "HR++-glas" in plan


def test_it_says_which_basics_it_assumed(cast, login):
    dossier = Dossier.objects.get(pk=cast.household_a.dossier.pk)
    dossier.build_year = None
    dossier.save()
    dwelling = cast.household_a.dwelling
    dwelling.build_year = None
    dwelling.save()

    html = login(cast.alice).get(advice_url(cast.household_a)).content.decode()

    assert "bouwjaar" in html.lower()
    assert "utrecht-alert--warning" in html
