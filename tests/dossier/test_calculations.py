"""The calculation core against Milieu Centraal's corner house, and its properties."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier import calculations as calc
from dossier.calculations import Component, House, Parameter, ParameterError, Parameters

# The core needs no database, but its parameters are the seeded set: marking the module
# runs it before the live-server tests, whose flush would empty that table.
pytestmark = pytest.mark.django_db

# Seed 004 / DOMAIN.md: Milieu Centraal, corner house, not insulated, double glass,
# gas at € 1.20 per m³, the NIP contributing € 1,460.
#            cost   ISDE  NIP   net   gas m³  € per year  payback (years, rounded)
REFERENCE = {
    "floor_insulation": (2350, 275, 1460, 615, 130, 156, 4),
    "roof_insulation": (5400, 850, 1460, 3090, 420, 504, 6),
    "cavity_wall_insulation": (2350, 350, 1460, 540, 400, 480, 1),
    "hr_glass": (3900, 500, 1460, 1940, 70, 84, 23),
}


@pytest.fixture(scope="session")
def params(django_db_setup, django_db_blocker) -> Parameters:
    """The seeded parameter set, loaded once: the core itself never touches the database."""
    from dossier import advice

    with django_db_blocker.unblock():
        return advice.parameters_on()


def corner_house(**changes) -> House:
    components = {
        "roof": Component(state="none"),
        "cavity_wall": Component(state="none"),
        "facade": Component(state="none"),
        "floor": Component(state="none"),
        "glazing_living": Component(state="partial"),  # double glass
        "glazing_bedrooms": Component(state="partial"),
    }
    house = House(
        dwelling_type="corner",
        build_year=1965,
        floor_area_m2=120,
        gas_price_eur_per_m3=1.20,
        heating_system="hr_boiler",
        nip_contribution_eur=1460,
        components=components,
    )
    return dataclasses.replace(house, **changes)


@pytest.mark.parametrize("code", REFERENCE)
def test_it_reproduces_milieu_centraals_corner_house(params, code):
    cost, isde, nip, net, gas, euros, payback = REFERENCE[code]
    result = calc.calculate(corner_house(), params).measure(code)

    # The table rounds money to € 5 to € 50; one per cent covers that rounding.
    assert result.cost_eur.value == pytest.approx(cost, rel=0.01)
    assert result.isde_subsidy_eur.value == pytest.approx(isde, rel=0.01)
    assert result.nip_contribution_eur.value == nip
    assert result.net_cost_eur.value == pytest.approx(net, rel=0.01)
    assert result.gas_saved_m3.value == pytest.approx(gas, rel=0.10)
    assert result.savings_eur_per_year.value == pytest.approx(euros, rel=0.10)
    assert round(result.payback_years.value) == payback


def test_it_estimates_heat_demand_from_gas_use_times_nine(params):
    house = corner_house(gas_m3_per_year=1800)

    figure = calc.calculate(house, params).heat_demand_kwh_m2

    assert figure.value == pytest.approx(1800 / 120 * 9)
    assert "9" in {str(i.value).removesuffix(".0") for i in figure.inputs}


def test_it_gives_the_insulation_standard_for_a_post_war_single_family_home(params):
    figure = calc.calculate(corner_house(), params).standard_target_kwh_m2
    ratio = next(i.value for i in figure.inputs if "Als/Ag" in str(i.label))

    assert ratio > 1
    assert figure.value == pytest.approx(43 + 40 * (ratio - 1), abs=0.5)


def test_it_says_when_the_standard_for_a_kind_of_home_is_unknown(params):
    flat = corner_house(dwelling_type="apartment", build_year=1980, apartment_type="top_floor")

    figure = calc.calculate(flat, params).standard_target_kwh_m2

    assert figure.value is None
    assert figure.note


@pytest.mark.parametrize(
    ("build_year", "dwelling_type", "state", "label"),
    [
        (1930, "terraced", "", "G"),
        (1965, "corner", "", "E"),
        (1965, "corner", "good", "A"),
        (2010, "terraced", "", "B"),
        (1980, "apartment", "", "C"),
    ],
)
def test_it_estimates_a_label_from_build_year_type_and_insulation(
    params, build_year, dwelling_type, state, label
):
    kinds = ("roof", "cavity_wall", "floor", "glazing_living", "glazing_bedrooms")
    house = House(
        dwelling_type=dwelling_type,
        build_year=build_year,
        floor_area_m2=100,
        components={k: Component(state=state) for k in kinds},
    )

    figure = calc.calculate(house, params).indicative_label

    assert figure.value == label
    assert "indicatief" in str(figure.note)


def test_every_figure_has_a_formula_and_its_inputs(params):
    result = calc.calculate(corner_house(gas_m3_per_year=1900), params)

    for measure in result.measures:
        for name, figure in measure.figures():
            assert figure.formula, (measure.code, name)
            if measure.applicable and figure.value:
                assert figure.inputs, (measure.code, name)
    roof = result.measure("roof_insulation")
    sources = {i.parameter for i in roof.gas_saved_m3.inputs}
    assert {"climate.degree_days", "measure.roof_insulation.u_after", "b.roof"} <= sources


def test_the_households_own_gas_use_scales_the_savings(params):
    plain = calc.calculate(corner_house(), params).measure("roof_insulation")
    frugal = calc.calculate(corner_house(gas_m3_per_year=1000), params).measure("roof_insulation")

    assert frugal.gas_saved_m3.value < plain.gas_saved_m3.value
    assert calc.calculate(corner_house(gas_m3_per_year=1000), params).calibration.value < 1


def test_a_plan_does_not_count_one_saving_twice(params):
    house = corner_house()
    codes = ["hr_glass", "triple_glass", "cavity_wall_insulation", "facade_insulation"]
    singles = calc.calculate(house, params)

    together = calc.plan(house, params, codes)

    # One of the two kinds of glass is kept, and the wall is insulated once.
    assert len({"hr_glass", "triple_glass"} & set(together.codes)) == 1
    best_wall = max(
        singles.measure(c).gas_saved_m3.value
        for c in ("cavity_wall_insulation", "facade_insulation")
    )
    best_glass = max(singles.measure(c).gas_saved_m3.value for c in ("hr_glass", "triple_glass"))
    assert together.gas_saved_m3.value <= best_wall + best_glass + 0.5
    assert together.nip_contribution_eur.value == 1460  # once for the home


def test_a_plan_leaves_out_a_measure_that_does_not_apply_to_the_home(params):
    # Found by hypothesis: an 1850 home has no cavity to fill, so the plan must not count it.
    old = corner_house(build_year=1850, components={})
    assert not calc.calculate(old, params).measure("cavity_wall_insulation").applicable

    together = calc.plan(old, params, ["cavity_wall_insulation", "roof_insulation"])

    assert together.codes == ("roof_insulation",)
    roof = calc.calculate(old, params).measure("roof_insulation")
    assert together.gas_saved_m3.value == pytest.approx(roof.gas_saved_m3.value)


def test_a_heat_pump_in_a_plan_only_replaces_the_gas_left_after_insulation(params):
    house = corner_house(gas_m3_per_year=2000)
    alone = calc.plan(house, params, ["hybrid_heat_pump"])
    with_roof = calc.plan(house, params, ["hybrid_heat_pump", "roof_insulation"])
    roof = calc.calculate(house, params).measure("roof_insulation")

    assert with_roof.gas_saved_m3.value < alone.gas_saved_m3.value + roof.gas_saved_m3.value
    assert with_roof.electricity_saved_kwh.value > alone.electricity_saved_kwh.value


def test_it_refuses_a_parameter_set_without_a_required_value(params):
    rows = [p for key, p in params.values.items() if key != "price.gas_eur_per_m3"]

    with pytest.raises(ParameterError, match=r"price\.gas_eur_per_m3"):
        Parameters.from_rows(version="x", valid_from="2025-01-01", rows=rows)


def test_it_refuses_u_values_that_make_better_insulation_lose_more_heat(params):
    rows = [
        Parameter(key=p.key, value=p.value * 10 if p.key == "u.roof.good" else p.value)
        for p in params.values.values()
    ]

    with pytest.raises(ParameterError, match=r"u\.roof"):
        Parameters.from_rows(version="x", valid_from="2025-01-01", rows=rows)


# --- Properties ----------------------------------------------------------------------

STATES = st.sampled_from(["none", "partial", "good", "", "unknown"])


@st.composite
def houses(draw) -> House:
    dwelling = draw(st.sampled_from(calc.DWELLING_TYPES))
    components = {
        kind: Component(
            state=draw(STATES),
            area_m2=draw(st.none() | st.floats(min_value=0, max_value=300)),
        )
        for kind in calc.COMPONENTS
    }
    return House(
        dwelling_type=dwelling,
        apartment_type=draw(st.sampled_from(["", "ground_floor", "top_floor", "middle_floor"]))
        if dwelling == "apartment"
        else "",
        build_year=draw(st.integers(min_value=1850, max_value=2025)),
        floor_area_m2=draw(st.floats(min_value=20, max_value=600)),
        gas_m3_per_year=draw(st.none() | st.floats(min_value=100, max_value=6000)),
        gas_price_eur_per_m3=draw(st.none() | st.floats(min_value=0.3, max_value=3)),
        occupants=draw(st.none() | st.integers(min_value=1, max_value=8)),
        heating_system=draw(
            st.sampled_from(["", "hr_boiler", "vr_boiler", "conventional_boiler", "district_heat"])
        ),
        hot_water=draw(st.sampled_from(["", "combi_boiler", "electric_tank"])),
        components=components,
        nip_contribution_eur=draw(st.sampled_from([0.0, 1460.0])),
    )


# The database fixture only wraps each test in a transaction the core never touches.
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
WORSE = {"good": "partial", "partial": "none"}


@PROPERTY
@given(house=houses(), code=st.sampled_from(calc.INSULATION_CODES), data=st.data())
def test_better_insulation_never_saves_less(params, house, code, data):
    """A part that is insulated worse today never saves less by the same measure."""
    measure = next(m for m in calc.INSULATION_MEASURES if m.code == code)
    kind = data.draw(st.sampled_from(measure.components))
    state = data.draw(st.sampled_from(list(WORSE)))
    better = dataclasses.replace(
        house,
        components={
            **house.components,
            kind: dataclasses.replace(house.components[kind], state=state),
        },
    )
    worse = dataclasses.replace(
        house,
        components={
            **house.components,
            kind: dataclasses.replace(house.components[kind], state=WORSE[state]),
        },
    )

    saved_better = calc.calculate(better, params).measure(code).gas_saved_m3.value
    saved_worse = calc.calculate(worse, params).measure(code).gas_saved_m3.value

    assert saved_worse >= saved_better - 1e-9


@PROPERTY
@given(house=houses(), code=st.sampled_from(calc.INSULATION_CODES))
def test_a_better_insulating_measure_never_saves_less(params, house, code):
    """Lowering the U-value a measure reaches never lowers its saving."""
    key = f"measure.{code}.u_after"
    better_rows = {
        k: dataclasses.replace(p, value=p.value / 2) if k == key else p
        for k, p in params.values.items()
    }
    better = Parameters(version="better", valid_from=params.valid_from, values=better_rows)

    normal = calc.calculate(house, params).measure(code).gas_saved_m3.value
    improved = calc.calculate(house, better).measure(code).gas_saved_m3.value

    assert improved >= normal - 1e-9


@PROPERTY
@given(house=houses(), code=st.sampled_from(calc.MEASURE_CODES))
def test_a_measure_already_done_saves_nothing(params, house, code):
    result = calc.calculate(dataclasses.replace(house, done=frozenset({code})), params).measure(
        code
    )

    assert result.already_done
    assert result.gas_saved_m3.value == 0
    assert result.electricity_saved_kwh.value == 0
    assert result.savings_eur_per_year.value == 0
    assert result.payback_years.value is None
    assert (
        code
        not in calc.plan(dataclasses.replace(house, done=frozenset({code})), params, [code]).codes
    )


@PROPERTY
@given(house=houses())
def test_payback_is_net_cost_divided_by_the_yearly_saving(params, house):
    for m in calc.calculate(house, params).measures:
        if m.savings_eur_per_year.value > 0:
            assert m.payback_years.value == pytest.approx(
                m.net_cost_eur.value / m.savings_eur_per_year.value
            )
        else:
            assert m.payback_years.value is None


@PROPERTY
@given(house=houses(), codes=st.sets(st.sampled_from(calc.INSULATION_CODES), min_size=2))
def test_a_plan_never_saves_more_than_its_measures_apart(params, house, codes):
    singles = calc.calculate(house, params)

    together = calc.plan(house, params, codes)

    apart = sum(singles.measure(c).gas_saved_m3.value for c in together.codes)
    assert together.gas_saved_m3.value <= apart + 1e-6


def test_the_core_speaks_the_dossiers_vocabulary():
    from dossier.models import ComponentKind, DwellingType, MeasureType

    assert set(calc.DWELLING_TYPES) == set(DwellingType.values)
    assert set(calc.COMPONENTS) == set(ComponentKind.values)
    assert set(calc.MEASURE_CODES) <= set(MeasureType.objects.values_list("code", flat=True))
