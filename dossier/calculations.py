"""The calculation core: costs, subsidies and savings per measure for one home.

Pure Python: a `House` and a `Parameters` set in, a `Calculation` out; no ORM, no
request, no clock (the caller says which parameter set is in force). Every figure
carries its formula and inputs so the interface can unfold it.

The savings model is a transparent heat-loss model. Per building component:

    heat lost (kWh/yr) = area × b × U × effective degree days × 24 / 1000

where b corrects for a component that borders a space colder than inside but warmer
than outside (a crawl space, a moderately heated attic, bedrooms kept cool) and the
effective degree days are the De Bilt degree days times a factor for an average indoor
temperature of 17 °C and solar and internal gains (Milieu Centraal's assumptions). A
measure lowers U; the heat saved becomes gas, electricity or district heat through the
heating system's efficiency. Where the household's gas use is known, the model's
heating gas is scaled to the real one (within limits), so a frugal household is not
promised the savings of a lavish one. A plan of several measures is computed on one
home whose U-values each measure improves, so two measures on the same part never
count the same saving twice, and a heat pump only replaces the gas that is left.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

DWELLING_TYPES = ("detached", "semi_detached", "corner", "terraced", "apartment")
INSULATION_STATES = ("none", "partial", "good")
COMPONENTS = (
    "roof",
    "facade",
    "cavity_wall",
    "floor",
    "glazing_living",
    "glazing_bedrooms",
    "doors_panels",
)
GLAZING = ("glazing_living", "glazing_bedrooms")
# Components that share one surface of the home: the wall can be filled (cavity) or
# insulated on its face (facade); its U-value is the better of the two.
SURFACE = {
    "roof": "roof",
    "facade": "wall",
    "cavity_wall": "wall",
    "floor": "floor",
    "glazing_living": "glazing",
    "glazing_bedrooms": "glazing",
    "doors_panels": "doors_panels",
}
# Where a component's default area comes from in the dwelling type's reference home.
GEOMETRY_KEY = {
    "roof": "roof_m2",
    "facade": "wall_m2",
    "cavity_wall": "wall_m2",
    "floor": "floor_m2",
    "glazing_living": "glazing_m2",
    "glazing_bedrooms": "glazing_m2",
    "doors_panels": "doors_panels_m2",
}
GAS_BOILERS = ("hr_boiler", "vr_boiler", "conventional_boiler", "stove", "other", "unknown", "")
HEAT_PUMPS = ("air_heat_pump", "ground_heat_pump")
GAS_HOT_WATER = ("combi_boiler", "boiler_tank", "geyser", "unknown", "")


@dataclass(frozen=True)
class InsulationMeasure:
    """A measure that gives one or more components a lower U-value."""

    code: str
    components: tuple[str, ...]
    # Attic-floor and soil insulation cover the floor below the roof or the soil under
    # the floor: their area is the ground floor's, not the component's own.
    area_from: str = ""
    # Panels and doors share one component: each covers its own part of it.
    area_share: float = 1.0


INSULATION_MEASURES: tuple[InsulationMeasure, ...] = (
    InsulationMeasure("roof_insulation", ("roof",)),
    InsulationMeasure("attic_floor_insulation", ("roof",), area_from="floor"),
    InsulationMeasure("facade_insulation", ("facade",)),
    InsulationMeasure("cavity_wall_insulation", ("cavity_wall",)),
    InsulationMeasure("floor_insulation", ("floor",)),
    InsulationMeasure("soil_insulation", ("floor",)),
    InsulationMeasure("hr_glass", GLAZING),
    InsulationMeasure("triple_glass", GLAZING),
    InsulationMeasure("insulating_panels", ("doors_panels",), area_share=0.5),
    InsulationMeasure("insulating_doors", ("doors_panels",), area_share=0.5),
)
INSULATION_CODES = tuple(m.code for m in INSULATION_MEASURES)
OTHER_CODES = (
    "draught_proofing",
    "hybrid_heat_pump",
    "heat_pump",
    "solar_panels",
    "solar_boiler",
)
MEASURE_CODES = INSULATION_CODES + OTHER_CODES
# Two ways of doing one thing: a plan keeps the one that saves most.
ALTERNATIVES: tuple[frozenset[str], ...] = (
    frozenset({"hr_glass", "triple_glass"}),
    frozenset({"roof_insulation", "attic_floor_insulation"}),
    frozenset({"floor_insulation", "soil_insulation"}),
    frozenset({"hybrid_heat_pump", "heat_pump"}),
    # Filling the cavity and insulating the face are two ways to insulate one wall.
    frozenset({"cavity_wall_insulation", "facade_insulation"}),
)
# Measures the Nationaal Isolatieprogramma pays for (DOMAIN.md: eligible measures).
NIP_CODES = frozenset(INSULATION_CODES)


class ParameterError(ValueError):
    """A parameter set lacks a value the core needs, or holds an impossible one."""


@dataclass(frozen=True)
class Parameter:
    key: str
    value: Decimal
    unit: str = ""
    source: str = ""
    verified: bool = False


@dataclass(frozen=True)
class Parameters:
    """One version of every figure the core uses, each with its source."""

    version: str
    valid_from: str
    values: Mapping[str, Parameter]

    @classmethod
    def from_rows(cls, *, version: str, valid_from: str, rows: Iterable[Parameter]) -> Parameters:
        params = cls(version=version, valid_from=valid_from, values={r.key: r for r in rows})
        params.check()
        return params

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> float:
        try:
            return float(self.values[key].value)
        except KeyError:
            raise ParameterError(f"parameter {key} is missing from set {self.version}") from None

    def input(self, key: str, label: str) -> Input:
        p = self.values[key]
        return Input(
            label=label,
            value=float(p.value),
            unit=p.unit,
            source=p.source,
            parameter=key,
            verified=p.verified,
        )

    def check(self) -> None:
        """Refuse a set that lacks a required value or whose U-values run the wrong way."""
        missing = [key for key in required_keys() if key not in self.values]
        if missing:
            raise ParameterError("missing parameters: " + ", ".join(missing))
        for component in COMPONENTS:
            u = [self.get(f"u.{component}.{state}") for state in INSULATION_STATES]
            # Better insulation must never have a higher U-value, or a worse home would
            # be promised smaller savings than a better one.
            if not u[0] >= u[1] >= u[2] > 0:
                raise ParameterError(f"u.{component}: none ≥ partial ≥ good > 0 is required")


def required_keys() -> list[str]:
    """Every key a complete parameter set holds (optional ones are read with `in`)."""
    keys = [
        "price.gas_eur_per_m3",
        "price.electricity_eur_per_kwh",
        "price.heat_eur_per_gj",
        "co2.kg_per_m3_gas",
        "co2.kg_per_kwh_electricity",
        "co2.kg_per_gj_heat",
        "climate.degree_days",
        "climate.effective_share",
        "gas.kwh_per_m3",
        "gas.heat_demand_kwh_per_m3",
        "gas.cooking_m3",
        "gas.hot_water_m3_per_occupant",
        "gas.default_occupants",
        "calibration.min",
        "calibration.max",
        "ventilation.loss_w_per_k_per_m2",
        "efficiency.hr_boiler",
        "efficiency.vr_boiler",
        "efficiency.conventional_boiler",
        "efficiency.stove",
        "efficiency.heat_pump_scop",
        "efficiency.hybrid_heat_pump_scop",
        "default_state.partial_from_year",
        "default_state.good_from_year",
        "default_state.glazing_good_from_year",
        "default_state.cavity_wall_from_year",
        "nip.amount_eur",
    ]
    for dwelling in DWELLING_TYPES:
        for name in ("floor_area_m2", *sorted(set(GEOMETRY_KEY.values()))):
            keys.append(f"geometry.{dwelling}.{name}")
    for component in COMPONENTS:
        keys.append(f"b.{component}")
        keys += [f"u.{component}.{state}" for state in INSULATION_STATES]
    for surface in sorted(set(SURFACE.values())):
        keys.append(f"max_share.{surface}")
    for code in INSULATION_CODES:
        keys += [
            f"measure.{code}.u_after",
            f"measure.{code}.cost_eur_per_m2",
            f"measure.{code}.isde_eur_per_m2",
            f"measure.{code}.isde_min_m2",
            f"measure.{code}.isde_max_m2",
        ]
    keys += [
        "measure.draught_proofing.share_of_heating",
        "measure.draught_proofing.cost_eur",
        "measure.hybrid_heat_pump.share_of_heating",
        "measure.hybrid_heat_pump.cost_eur",
        "measure.hybrid_heat_pump.isde_eur",
        "measure.heat_pump.cost_eur",
        "measure.heat_pump.isde_eur",
        "measure.solar_panels.panel_wp",
        "measure.solar_panels.default_count",
        "measure.solar_panels.kwh_per_wp",
        "measure.solar_panels.cost_eur_per_wp",
        "measure.solar_boiler.share_of_hot_water",
        "measure.solar_boiler.cost_eur",
        "measure.solar_boiler.isde_eur",
    ]
    for period in LABEL_PERIODS:
        keys.append(f"label.base.{period[0]}")
    return keys


# (key, first build year of the period); the label heuristic's build periods.
LABEL_PERIODS: tuple[tuple[str, int], ...] = (
    ("before_1946", 0),
    ("from_1946", 1946),
    ("from_1965", 1965),
    ("from_1975", 1975),
    ("from_1992", 1992),
    ("from_2006", 2006),
    ("from_2015", 2015),
)
LABELS = ("A", "B", "C", "D", "E", "F", "G")


# --- Input ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """What is known of one part of the shell; anything may be unknown."""

    state: str = ""  # none, partial, good; "" or "unknown" when not known
    area_m2: float | None = None
    u_value: float | None = None
    rc_value: float | None = None


@dataclass(frozen=True)
class House:
    dwelling_type: str
    build_year: int
    floor_area_m2: float
    apartment_type: str = ""
    gas_m3_per_year: float | None = None
    gas_price_eur_per_m3: float | None = None
    electricity_price_eur_per_kwh: float | None = None
    occupants: int | None = None
    heating_system: str = ""
    hot_water: str = ""
    cooking: str = ""
    has_solar_panels: bool = False
    energy_label: str = ""  # a registered label, if any
    components: Mapping[str, Component] = field(default_factory=dict)
    done: frozenset[str] = frozenset()
    # What the NIP gives this home (0 when it does not qualify): the NIP app decides.
    nip_contribution_eur: float = 0.0


# --- Output --------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    label: str
    value: float | str
    unit: str = ""
    source: str = ""
    parameter: str = ""
    verified: bool = True


@dataclass(frozen=True)
class Figure:
    """A number with the formula and inputs that made it."""

    value: float | None
    unit: str
    formula: str
    inputs: tuple[Input, ...] = ()
    note: str = ""

    @property
    def unverified(self) -> bool:
        return any(not i.verified for i in self.inputs)


@dataclass(frozen=True)
class MeasureResult:
    code: str
    applicable: bool
    reason: str
    already_done: bool
    area_m2: Figure
    cost_eur: Figure
    isde_subsidy_eur: Figure
    nip_contribution_eur: Figure
    net_cost_eur: Figure
    gas_saved_m3: Figure
    electricity_saved_kwh: Figure
    heat_saved_gj: Figure
    savings_eur_per_year: Figure
    payback_years: Figure
    co2_saved_kg: Figure

    def figures(self) -> list[tuple[str, Figure]]:
        return [
            ("cost_eur", self.cost_eur),
            ("isde_subsidy_eur", self.isde_subsidy_eur),
            ("nip_contribution_eur", self.nip_contribution_eur),
            ("net_cost_eur", self.net_cost_eur),
            ("gas_saved_m3", self.gas_saved_m3),
            ("electricity_saved_kwh", self.electricity_saved_kwh),
            ("savings_eur_per_year", self.savings_eur_per_year),
            ("payback_years", self.payback_years),
            ("co2_saved_kg", self.co2_saved_kg),
        ]


@dataclass(frozen=True)
class Calculation:
    parameter_version: str
    measures: tuple[MeasureResult, ...]
    heat_demand_kwh_m2: Figure
    standard_target_kwh_m2: Figure
    indicative_label: Figure
    calibration: Figure
    heating_gas_m3: Figure

    def measure(self, code: str) -> MeasureResult:
        return next(m for m in self.measures if m.code == code)


@dataclass(frozen=True)
class Plan:
    """Several measures done together, without counting one saving twice."""

    codes: tuple[str, ...]
    cost_eur: Figure
    isde_subsidy_eur: Figure
    nip_contribution_eur: Figure
    net_cost_eur: Figure
    gas_saved_m3: Figure
    electricity_saved_kwh: Figure
    savings_eur_per_year: Figure
    payback_years: Figure
    co2_saved_kg: Figure


# --- The model -----------------------------------------------------------------------


def _state(house: House, params: Parameters, component: str) -> tuple[str, str]:
    """The component's insulation state, and whether it was assumed from the build year."""
    known = house.components.get(component, Component()).state
    if known in INSULATION_STATES:
        return known, ""
    if component in GLAZING:
        good_from = params.get("default_state.glazing_good_from_year")
        # Nearly every home has at least double glass today; HR++ came with newer homes.
        return ("good" if house.build_year >= good_from else "partial"), "build_year"
    if house.build_year >= params.get("default_state.good_from_year"):
        return "good", "build_year"
    if house.build_year >= params.get("default_state.partial_from_year"):
        return "partial", "build_year"
    return "none", "build_year"


def _geometry_share(house: House, component: str) -> float:
    """Which part of the reference area belongs to this component of this home."""
    if house.dwelling_type == "apartment":
        # Only a ground-floor flat has a floor above the ground, only a top-floor flat a
        # roof of its own; for other flats the coach enters the areas.
        if component == "floor" and house.apartment_type != "ground_floor":
            return 0.0
        if component == "roof" and house.apartment_type != "top_floor":
            return 0.0
    if component == "glazing_living":
        return 0.6
    if component == "glazing_bedrooms":
        return 0.4
    return 1.0


def component_area(house: House, params: Parameters, component: str) -> Figure:
    entered = house.components.get(component, Component()).area_m2
    if entered is not None:
        return Figure(
            entered,
            "m²",
            _("entered in the dossier"),
            (Input(_("area"), entered, "m²", _("dossier")),),
        )
    prefix = f"geometry.{house.dwelling_type}"
    key = f"{prefix}.{GEOMETRY_KEY[component]}"
    ref_area = params.get(f"{prefix}.floor_area_m2")
    share = _geometry_share(house, component)
    value = params.get(key) * share * house.floor_area_m2 / ref_area
    return Figure(
        value,
        "m²",
        _("reference home's area × share × floor area ÷ reference home's floor area"),
        (
            params.input(key, _("area in the reference home")),
            Input(_("share of this part"), share),
            Input(_("floor area"), house.floor_area_m2, "m²", _("dossier")),
            params.input(f"{prefix}.floor_area_m2", _("floor area of the reference home")),
        ),
    )


def _u_before(house: House, params: Parameters, component: str) -> tuple[float, Input]:
    known = house.components.get(component, Component())
    if known.u_value is not None:
        return known.u_value, Input(_("U-value now"), known.u_value, "W/m²K", _("dossier"))
    if known.rc_value is not None:
        # Rc covers the construction; add the surface resistances inside and out.
        u = 1 / (known.rc_value + 0.17)
        return u, Input(_("U-value now (1 ÷ (Rc + 0.17))"), round(u, 2), "W/m²K", _("dossier"))
    state, assumed = _state(house, params, component)
    key = f"u.{component}.{state}"
    label = _("U-value now, assumed from the build year") if assumed else _("U-value now")
    return params.get(key), params.input(key, label)


def _effective_degree_days(params: Parameters) -> float:
    return params.get("climate.degree_days") * params.get("climate.effective_share")


def _heat_per_wk(params: Parameters) -> float:
    """kWh per year lost per W/K of heat-loss coefficient."""
    return _effective_degree_days(params) * 24 / 1000


def _efficiency(house: House, params: Parameters) -> tuple[float, Input]:
    system = house.heating_system
    key = {
        "vr_boiler": "efficiency.vr_boiler",
        "conventional_boiler": "efficiency.conventional_boiler",
        "stove": "efficiency.stove",
    }.get(system, "efficiency.hr_boiler")
    return params.get(key), params.input(key, _("efficiency of the heating"))


def _surface_loss(house: House, params: Parameters, u: Mapping[str, float]) -> float:
    """W/K of the shell with the given U-values; one wall counts once (the better U)."""
    total = 0.0
    wall_done = False
    for c in COMPONENTS:
        area = component_area(house, params, c).value
        if SURFACE[c] == "wall":
            if wall_done:
                continue
            wall_done = True
            # Facade and cavity are two ways of insulating one wall: its loss is the
            # larger of the two areas at the better of the two U-values.
            area = max(area, component_area(house, params, _other_wall(c)).value)
            value = min(u["facade"], u["cavity_wall"])
        else:
            value = u[c]
        total += area * params.get(f"b.{c}") * value
    total += house.floor_area_m2 * params.get("ventilation.loss_w_per_k_per_m2")
    return total


def _other_wall(component: str) -> str:
    return "cavity_wall" if component == "facade" else "facade"


@dataclass(frozen=True)
class _Heating:
    """The home's space heating today: the model's estimate, and the real one if known."""

    predicted_kwh: float
    actual_kwh: float | None
    factor: float
    factor_figure: Figure
    heating_gas_figure: Figure


def _heating(house: House, params: Parameters) -> _Heating:
    u_now = {c: _u_before(house, params, c)[0] for c in COMPONENTS}
    predicted = _surface_loss(house, params, u_now) * _heat_per_wk(params)
    eff, eff_input = _efficiency(house, params)
    kwh_per_m3 = params.get("gas.kwh_per_m3")
    heating_gas, gas_figure = _heating_gas(house, params)
    if heating_gas is None or house.heating_system not in GAS_BOILERS:
        predicted_gas = predicted / (eff * kwh_per_m3)
        figure = Figure(
            1.0,
            "",
            _("no calibration: the household's heating gas use is not known"),
            (),
        )
        return _Heating(
            predicted,
            None,
            1.0,
            figure,
            Figure(
                predicted_gas,
                "m³",
                _("heat loss of the home ÷ (efficiency × energy per m³ gas)"),
                (
                    Input(_("heat loss of the home"), round(predicted), "kWh"),
                    eff_input,
                    params.input("gas.kwh_per_m3", _("energy per m³ gas")),
                ),
                _("estimate from the home's characteristics"),
            ),
        )
    actual = heating_gas * eff * kwh_per_m3
    low, high = params.get("calibration.min"), params.get("calibration.max")
    raw = actual / predicted if predicted > 0 else 1.0
    factor = min(max(raw, low), high)
    figure = Figure(
        factor,
        "",
        _("heat from the real heating gas ÷ heat loss of the model, kept within limits"),
        (
            Input(_("heat from heating gas"), round(actual), "kWh"),
            Input(_("heat loss of the model"), round(predicted), "kWh"),
            params.input("calibration.min", _("lowest factor")),
            params.input("calibration.max", _("highest factor")),
        ),
    )
    return _Heating(predicted, actual, factor, figure, gas_figure)


def _hot_water_gas(house: House, params: Parameters) -> tuple[float, tuple[Input, ...]]:
    if house.hot_water not in GAS_HOT_WATER or house.heating_system in HEAT_PUMPS:
        return 0.0, ()
    occupants = house.occupants or params.get("gas.default_occupants")
    per = params.get("gas.hot_water_m3_per_occupant")
    return occupants * per, (
        Input(_("occupants"), occupants, "", _("dossier") if house.occupants else _("default")),
        params.input("gas.hot_water_m3_per_occupant", _("hot water gas per occupant")),
    )


def _heating_gas(house: House, params: Parameters) -> tuple[float | None, Figure]:
    """Gas for space heating: the yearly use minus cooking and hot water."""
    if not house.gas_m3_per_year:
        return None, Figure(None, "m³", _("the household's gas use is not known"))
    cooking = params.get("gas.cooking_m3") if house.cooking in ("gas", "unknown", "") else 0.0
    hot_water, hot_inputs = _hot_water_gas(house, params)
    value = house.gas_m3_per_year - cooking - hot_water
    # A use below what cooking and hot water take says those defaults do not fit this
    # household; keep at least a third as heating rather than calibrate on nothing.
    value = max(value, house.gas_m3_per_year / 3)
    return value, Figure(
        value,
        "m³",
        _("gas use − cooking − hot water"),
        (
            Input(_("gas use"), house.gas_m3_per_year, "m³", _("dossier")),
            params.input("gas.cooking_m3", _("gas for cooking")),
            *hot_inputs,
        ),
    )


@dataclass(frozen=True)
class _Saving:
    """Heat saved by a measure and what it is worth in each energy carrier."""

    heat_kwh: float
    gas_m3: float
    electricity_kwh: float
    heat_gj: float
    inputs: tuple[Input, ...]


def _to_carriers(house: House, params: Parameters, heat_kwh: float) -> tuple[float, float, float]:
    """Useful heat saved → (gas m³, electricity kWh, district heat GJ) saved."""
    if house.heating_system in HEAT_PUMPS:
        return 0.0, heat_kwh / params.get("efficiency.heat_pump_scop"), 0.0
    if house.heating_system == "district_heat":
        return 0.0, 0.0, heat_kwh * 0.0036
    eff, _input = _efficiency(house, params)
    return heat_kwh / (eff * params.get("gas.kwh_per_m3")), 0.0, 0.0


def _money(house: House, params: Parameters, gas: float, kwh: float, gj: float) -> Figure:
    gas_price = house.gas_price_eur_per_m3
    power_price = house.electricity_price_eur_per_kwh
    gas_input = (
        Input(_("gas price"), gas_price, "€/m³", _("household"))
        if gas_price is not None
        else params.input("price.gas_eur_per_m3", _("gas price"))
    )
    power_input = (
        Input(_("electricity price"), power_price, "€/kWh", _("household"))
        if power_price is not None
        else params.input("price.electricity_eur_per_kwh", _("electricity price"))
    )
    heat_input = params.input("price.heat_eur_per_gj", _("district heat price"))
    value = gas * float(gas_input.value) + kwh * float(power_input.value) + gj * heat_input.value
    return Figure(
        value,
        "€",
        _(
            "gas saved × gas price + electricity saved × electricity price"
            " + heat saved × heat price"
        ),
        (
            Input(_("gas saved"), round(gas), "m³"),
            gas_input,
            Input(_("electricity saved"), round(kwh), "kWh"),
            power_input,
            Input(_("heat saved"), round(gj, 1), "GJ"),
            heat_input,
        ),
    )


def _co2(params: Parameters, gas: float, kwh: float, gj: float) -> Figure:
    value = (
        gas * params.get("co2.kg_per_m3_gas")
        + kwh * params.get("co2.kg_per_kwh_electricity")
        + gj * params.get("co2.kg_per_gj_heat")
    )
    return Figure(
        value,
        "kg",
        _("gas saved × CO2 per m³ + electricity saved × CO2 per kWh + heat saved × CO2 per GJ"),
        (
            Input(_("gas saved"), round(gas), "m³"),
            params.input("co2.kg_per_m3_gas", _("CO2 per m³ gas")),
            Input(_("electricity saved"), round(kwh), "kWh"),
            params.input("co2.kg_per_kwh_electricity", _("CO2 per kWh electricity")),
            Input(_("heat saved"), round(gj, 1), "GJ"),
            params.input("co2.kg_per_gj_heat", _("CO2 per GJ district heat")),
        ),
    )


def _payback(net: float, savings: float) -> Figure:
    value = net / savings if savings > 0 else None
    return Figure(
        value,
        "years",
        _("net cost ÷ savings per year"),
        (Input(_("net cost"), round(net), "€"), Input(_("savings per year"), round(savings), "€")),
        "" if value is not None else _("no payback: the measure saves no money"),
    )


def _insulation_heat(
    house: House, params: Parameters, measure: InsulationMeasure, heating: _Heating
) -> tuple[float, float, tuple[Input, ...], Figure]:
    """Heat saved (kWh/yr) by one insulation measure on its own, with the area it covers."""
    u_after = params.get(f"measure.{measure.code}.u_after")
    hours = _heat_per_wk(params)
    heat = 0.0
    area_total = 0.0
    inputs: list[Input] = []
    area_inputs: list[Input] = []
    for c in measure.components:
        if measure.area_from:
            area_figure = component_area(house, params, measure.area_from)
        else:
            area_figure = component_area(house, params, c)
        if measure.area_share != 1.0:
            area_figure = dataclasses.replace(
                area_figure, value=area_figure.value * measure.area_share
            )
        u_before, u_input = _u_before(house, params, c)
        if SURFACE[c] == "wall":
            # A wall already insulated the other way (filled cavity, insulated face)
            # loses what its better U-value says; insulating it again saves from there.
            other_u, other_input = _u_before(house, params, _other_wall(c))
            if other_u < u_before:
                u_before, u_input = other_u, other_input
        b = params.get(f"b.{c}")
        gain = max(0.0, u_before - u_after)
        heat += area_figure.value * b * gain * hours
        if gain > 0:
            area_total += area_figure.value
        area_inputs.append(Input(_("area"), round(area_figure.value, 1), "m²"))
        inputs += [
            Input(_("area"), round(area_figure.value, 1), "m²"),
            params.input(f"b.{c}", _("temperature factor b")),
            u_input,
        ]
    heat *= heating.factor
    inputs += [
        params.input(f"measure.{measure.code}.u_after", _("U-value after the measure")),
        params.input("climate.degree_days", _("degree days")),
        params.input("climate.effective_share", _("share of the degree days that counts")),
        Input(_("calibration factor"), round(heating.factor, 2)),
    ]
    area = Figure(area_total, "m²", _("sum of the areas the measure improves"), tuple(area_inputs))
    return heat, area_total, tuple(inputs), area


def _cap(
    house: House, params: Parameters, heating: _Heating, surface: str, heat: float
) -> tuple[float, Input]:
    """No measure saves more than a set share of the heating (Hoomdossier's limits)."""
    base = heating.actual_kwh if heating.actual_kwh is not None else heating.predicted_kwh
    limit = params.get(f"max_share.{surface}") * base
    return min(heat, limit), params.input(f"max_share.{surface}", _("largest share of the heating"))


def _isde(params: Parameters, code: str, area: float) -> Figure:
    rate_key = f"measure.{code}.isde_eur_per_m2"
    minimum = params.get(f"measure.{code}.isde_min_m2")
    maximum = params.get(f"measure.{code}.isde_max_m2")
    inputs = (
        Input(_("area"), round(area, 1), "m²"),
        params.input(rate_key, _("ISDE per m²")),
        params.input(f"measure.{code}.isde_min_m2", _("smallest area ISDE pays for")),
        params.input(f"measure.{code}.isde_max_m2", _("largest area ISDE pays for")),
    )
    if params.get(rate_key) == 0:
        return Figure(0.0, "€", _("no ISDE subsidy for this measure"), inputs)
    if area < minimum:
        return Figure(
            0.0, "€", _("area × ISDE per m²"), inputs, _("below the smallest area ISDE pays for")
        )
    value = min(area, maximum) * params.get(rate_key)
    return Figure(value, "€", _("area (at most the largest area) × ISDE per m²"), inputs)


def _nip(house: House, params: Parameters, code: str, after_isde: float) -> Figure:
    if code not in NIP_CODES or house.nip_contribution_eur <= 0:
        return Figure(0.0, "€", _("no NIP contribution for this home or measure"))
    value = max(0.0, min(house.nip_contribution_eur, after_isde))
    return Figure(
        value,
        "€",
        _("the NIP contribution for this home, at most the cost after ISDE"),
        (
            Input(_("NIP contribution for this home"), house.nip_contribution_eur, "€", _("NIP")),
            Input(_("cost after ISDE"), round(after_isde), "€"),
        ),
        _("the NIP contributes once per home, not once per measure"),
    )


def _result(
    house: House,
    params: Parameters,
    code: str,
    *,
    area: Figure,
    cost: Figure,
    isde: Figure,
    gas: float,
    kwh: float,
    gj: float,
    saving_inputs: tuple[Input, ...],
    saving_formula: str,
) -> MeasureResult:
    nip = _nip(house, params, code, cost.value - isde.value)
    net_value = cost.value - isde.value - nip.value
    net = Figure(
        net_value,
        "€",
        _("cost − ISDE subsidy − NIP contribution"),
        (
            Input(_("cost"), round(cost.value), "€"),
            Input(_("ISDE subsidy"), round(isde.value), "€"),
            Input(_("NIP contribution"), round(nip.value), "€"),
        ),
    )
    money = _money(house, params, gas, kwh, gj)
    return MeasureResult(
        code=code,
        applicable=True,
        reason="",
        already_done=False,
        area_m2=area,
        cost_eur=cost,
        isde_subsidy_eur=isde,
        nip_contribution_eur=nip,
        net_cost_eur=net,
        gas_saved_m3=Figure(gas, "m³", saving_formula, saving_inputs),
        electricity_saved_kwh=Figure(kwh, "kWh", saving_formula, saving_inputs),
        heat_saved_gj=Figure(gj, "GJ", saving_formula, saving_inputs),
        savings_eur_per_year=money,
        payback_years=_payback(net_value, money.value),
        co2_saved_kg=_co2(params, gas, kwh, gj),
    )


def _nothing(code: str, reason: str, *, done: bool = False) -> MeasureResult:
    zero = Figure(0.0, "", reason)
    return MeasureResult(
        code=code,
        applicable=False,
        reason=reason,
        already_done=done,
        area_m2=zero,
        cost_eur=zero,
        isde_subsidy_eur=zero,
        nip_contribution_eur=zero,
        net_cost_eur=zero,
        gas_saved_m3=zero,
        electricity_saved_kwh=zero,
        heat_saved_gj=zero,
        savings_eur_per_year=zero,
        payback_years=Figure(None, "years", reason),
        co2_saved_kg=zero,
    )


SAVING_FORMULA = _(
    "area × b × (U now − U after) × degree days × share × 24 ÷ 1000 × calibration"
    " ÷ (efficiency × energy per m³ gas)"
)


def _insulation_result(
    house: House, params: Parameters, measure: InsulationMeasure, heating: _Heating
) -> MeasureResult:
    if (
        measure.code == "cavity_wall_insulation"
        and house.components.get("cavity_wall", Component()).state not in INSULATION_STATES
        and house.build_year < params.get("default_state.cavity_wall_from_year")
    ):
        return _nothing(measure.code, _("homes of this age rarely have a cavity wall"))
    heat, area_value, inputs, area = _insulation_heat(house, params, measure, heating)
    if area_value <= 0:
        return _nothing(measure.code, _("this part of the home is already insulated this well"))
    heat, cap_input = _cap(house, params, heating, SURFACE[measure.components[0]], heat)
    gas, kwh, gj = _to_carriers(house, params, heat)
    eff_input = _efficiency(house, params)[1]
    unit_key = f"measure.{measure.code}.cost_eur_per_m2"
    cost = Figure(
        area_value * params.get(unit_key),
        "€",
        _("area × price per m²"),
        (Input(_("area"), round(area_value, 1), "m²"), params.input(unit_key, _("price per m²"))),
    )
    return _result(
        house,
        params,
        measure.code,
        area=area,
        cost=cost,
        isde=_isde(params, measure.code, area_value),
        gas=gas,
        kwh=kwh,
        gj=gj,
        saving_inputs=(
            *inputs,
            cap_input,
            eff_input,
            params.input("gas.kwh_per_m3", _("energy per m³ gas")),
        ),
        saving_formula=SAVING_FORMULA,
    )


def _fixed_cost(params: Parameters, code: str) -> tuple[Figure, Figure]:
    cost_key = f"measure.{code}.cost_eur"
    cost = Figure(
        params.get(cost_key), "€", _("typical price"), (params.input(cost_key, _("price")),)
    )
    isde_key = f"measure.{code}.isde_eur"
    if isde_key in params:
        isde = Figure(
            params.get(isde_key),
            "€",
            _("typical ISDE amount"),
            (params.input(isde_key, _("ISDE")),),
        )
    else:
        isde = Figure(0.0, "€", _("no ISDE subsidy for this measure"))
    return cost, isde


def _other_result(
    house: House, params: Parameters, code: str, heating: _Heating, remaining_heat: float
) -> MeasureResult:
    """Measures that change how heat is made or save a share of it, not a U-value."""
    none = Figure(0.0, "m²", _("not an area measure"))
    eff, eff_input = _efficiency(house, params)
    kwh_per_m3 = params.get("gas.kwh_per_m3")
    if code == "draught_proofing":
        share_key = "measure.draught_proofing.share_of_heating"
        heat = remaining_heat * params.get(share_key)
        gas, kwh, gj = _to_carriers(house, params, heat)
        cost, isde = _fixed_cost(params, code)
        inputs = (
            Input(_("heat for heating"), round(remaining_heat), "kWh"),
            params.input(share_key, _("share saved")),
            eff_input,
        )
        formula = _("heat for heating × share saved ÷ (efficiency × energy per m³ gas)")
        return _result(
            house,
            params,
            code,
            area=none,
            cost=cost,
            isde=isde,
            gas=gas,
            kwh=kwh,
            gj=gj,
            saving_inputs=inputs,
            saving_formula=formula,
        )
    if code in ("hybrid_heat_pump", "heat_pump"):
        if house.heating_system in HEAT_PUMPS:
            return _nothing(code, _("the home already has a heat pump"))
        if house.heating_system == "district_heat":
            return _nothing(code, _("the home is on district heating"))
        hot_water_gas = _hot_water_gas(house, params)[0]
        if code == "hybrid_heat_pump":
            share_key = "measure.hybrid_heat_pump.share_of_heating"
            heat = remaining_heat * params.get(share_key)
            scop_key = "efficiency.hybrid_heat_pump_scop"
            share_input = params.input(share_key, _("share of the heating the heat pump takes"))
        else:
            # A full heat pump heats the home and the water: all gas but cooking goes.
            heat = remaining_heat + hot_water_gas * eff * kwh_per_m3
            scop_key = "efficiency.heat_pump_scop"
            share_input = Input(_("share of the heating the heat pump takes"), 1.0)
        gas = heat / (eff * kwh_per_m3)
        kwh = -heat / params.get(scop_key)
        cost, isde = _fixed_cost(params, code)
        inputs = (
            Input(_("heat for heating"), round(remaining_heat), "kWh"),
            share_input,
            eff_input,
            params.input(scop_key, _("seasonal efficiency of the heat pump (SCOP)")),
        )
        formula = _(
            "gas saved = heat taken over ÷ (efficiency × energy per m³ gas);"
            " electricity used = heat taken over ÷ SCOP"
        )
        return _result(
            house,
            params,
            code,
            area=none,
            cost=cost,
            isde=isde,
            gas=gas,
            kwh=kwh,
            gj=0.0,
            saving_inputs=inputs,
            saving_formula=formula,
        )
    if code == "solar_panels":
        if house.has_solar_panels:
            return _nothing(code, _("the home already has solar panels"), done=True)
        count_key, wp_key = "measure.solar_panels.default_count", "measure.solar_panels.panel_wp"
        yield_key, price_key = (
            "measure.solar_panels.kwh_per_wp",
            "measure.solar_panels.cost_eur_per_wp",
        )
        wp = params.get(count_key) * params.get(wp_key)
        kwh = wp * params.get(yield_key)
        cost = Figure(
            wp * params.get(price_key),
            "€",
            _("panels × watt-peak per panel × price per watt-peak"),
            (
                params.input(count_key, _("panels")),
                params.input(wp_key, _("watt-peak per panel")),
                params.input(price_key, _("price per watt-peak")),
            ),
        )
        inputs = (
            params.input(count_key, _("panels")),
            params.input(wp_key, _("watt-peak per panel")),
            params.input(yield_key, _("yield per watt-peak")),
        )
        return _result(
            house,
            params,
            code,
            area=none,
            cost=cost,
            isde=Figure(0.0, "€", _("no ISDE subsidy for this measure")),
            gas=0.0,
            kwh=kwh,
            gj=0.0,
            saving_inputs=inputs,
            saving_formula=_("panels × watt-peak per panel × yield per watt-peak"),
        )
    # solar_boiler
    hot_water_gas, hot_inputs = _hot_water_gas(house, params)
    if hot_water_gas <= 0:
        return _nothing(code, _("the home does not heat its water with gas"))
    share_key = "measure.solar_boiler.share_of_hot_water"
    gas = hot_water_gas * params.get(share_key)
    cost, isde = _fixed_cost(params, code)
    return _result(
        house,
        params,
        code,
        area=none,
        cost=cost,
        isde=isde,
        gas=gas,
        kwh=0.0,
        gj=0.0,
        saving_inputs=(*hot_inputs, params.input(share_key, _("share of hot water from the sun"))),
        saving_formula=_("gas for hot water × share from the sun"),
    )


def heat_demand(house: House, params: Parameters, heating: _Heating) -> Figure:
    """Today's heat demand per m²: gas ÷ floor area × 9 (seed 004), or the model's."""
    per_m3 = params.get("gas.heat_demand_kwh_per_m3")
    if house.gas_m3_per_year and house.heating_system in GAS_BOILERS:
        value = house.gas_m3_per_year / house.floor_area_m2 * per_m3
        return Figure(
            value,
            "kWh/m²",
            _("gas use ÷ floor area × kWh per m³"),
            (
                Input(_("gas use"), house.gas_m3_per_year, "m³", _("dossier")),
                Input(_("floor area"), house.floor_area_m2, "m²", _("dossier")),
                params.input("gas.heat_demand_kwh_per_m3", _("kWh per m³ gas")),
            ),
            _("rough estimate, valid only when the whole home is heated"),
        )
    gas = heating.predicted_kwh / (_efficiency(house, params)[0] * params.get("gas.kwh_per_m3"))
    value = gas / house.floor_area_m2 * per_m3
    return Figure(
        value,
        "kWh/m²",
        _("the model's heating gas ÷ floor area × kWh per m³"),
        (
            Input(_("heating gas of the model"), round(gas), "m³"),
            Input(_("floor area"), house.floor_area_m2, "m²", _("dossier")),
            params.input("gas.heat_demand_kwh_per_m3", _("kWh per m³ gas")),
        ),
        _("estimate from the home's characteristics: the gas use is not known"),
    )


def standard_target(house: House, params: Parameters) -> Figure:
    """The insulation standard's heat demand limit for this home (Kamerbrief 2021)."""
    kind = "multi" if house.dwelling_type == "apartment" else "single"
    period = "pre1945" if house.build_year < 1945 else "post1945"
    base_key, slope_key = f"standard.{kind}.{period}.base", f"standard.{kind}.{period}.slope"
    loss_area = sum(component_area(house, params, c).value for c in COMPONENTS if c != "facade")
    ratio = loss_area / house.floor_area_m2
    ratio_input = Input(_("loss area ÷ floor area (Als/Ag)"), round(ratio, 2))
    if base_key not in params or slope_key not in params:
        return Figure(
            None,
            "kWh/m²",
            _("base + slope × (Als/Ag − 1)"),
            (ratio_input,),
            _("the standard's figures for this kind of home are not in the parameters yet"),
        )
    value = params.get(base_key) + params.get(slope_key) * max(0.0, ratio - 1)
    return Figure(
        value,
        "kWh/m²",
        _("base + slope × (Als/Ag − 1), the slope only when Als/Ag is above 1"),
        (
            ratio_input,
            Input(_("loss area (Als)"), round(loss_area, 1), "m²"),
            Input(_("floor area (Ag)"), house.floor_area_m2, "m²", _("dossier")),
            params.input(base_key, _("base")),
            params.input(slope_key, _("slope")),
        ),
    )


def indicative_label(house: House, params: Parameters) -> Figure:
    """A label estimate from build period, dwelling type and known insulation; never official."""
    key = next(
        f"label.base.{name}" for name, start in reversed(LABEL_PERIODS) if house.build_year >= start
    )
    index = params.get(key)
    inputs = [params.input(key, _("label class for the build period (1 = A, 7 = G)"))]
    # Each part of the shell that is better (or worse) than homes of its period usually
    # are moves the estimate one class; the period's usual state is the default state.
    for group in (("roof",), ("cavity_wall", "facade"), ("floor",), GLAZING):
        orders = []
        for c in group:
            known = house.components.get(c, Component()).state
            if known in INSULATION_STATES:
                usual = _state(House(house.dwelling_type, house.build_year, 1.0), params, c)[0]
                orders.append(INSULATION_STATES.index(known) - INSULATION_STATES.index(usual))
        if orders and max(orders) > 0:
            index -= 1
            inputs.append(
                Input(_("better insulated than usual"), ", ".join(group), "", "", "", True)
            )
        elif orders and min(orders) < 0:
            index += 1
            inputs.append(
                Input(_("worse insulated than usual"), ", ".join(group), "", "", "", True)
            )
    if house.dwelling_type == "apartment":
        index -= 1
        inputs.append(Input(_("apartment: less outside shell"), "−1"))
    elif house.dwelling_type == "detached":
        index += 1
        inputs.append(Input(_("detached: more outside shell"), "+1"))
    if house.heating_system in HEAT_PUMPS:
        index -= 2
        inputs.append(Input(_("heat pump"), "−2"))
    if house.has_solar_panels:
        index -= 1
        inputs.append(Input(_("solar panels"), "−1"))
    index = int(min(max(round(index), 1), len(LABELS)))
    return Figure(
        LABELS[index - 1],  # type: ignore[arg-type]
        "",
        _("build period's class, one step per part better or worse than usual"),
        tuple(inputs),
        _("indicative: an estimate, not a registered energy label"),
    )


def calculate(house: House, params: Parameters) -> Calculation:
    """Every catalogue measure the core can compute, for this home, on its own."""
    if house.dwelling_type not in DWELLING_TYPES:
        raise ValueError(f"unknown dwelling type {house.dwelling_type}")
    if house.floor_area_m2 <= 0:
        raise ValueError("floor area must be positive")
    heating = _heating(house, params)
    base_heat = heating.actual_kwh if heating.actual_kwh is not None else heating.predicted_kwh
    results: list[MeasureResult] = []
    for measure in INSULATION_MEASURES:
        if measure.code in house.done:
            results.append(_nothing(measure.code, _("already done"), done=True))
        else:
            results.append(_insulation_result(house, params, measure, heating))
    for code in OTHER_CODES:
        if code in house.done:
            results.append(_nothing(code, _("already done"), done=True))
        else:
            results.append(_other_result(house, params, code, heating, base_heat))
    return Calculation(
        parameter_version=params.version,
        measures=tuple(results),
        heat_demand_kwh_m2=heat_demand(house, params, heating),
        standard_target_kwh_m2=standard_target(house, params),
        indicative_label=indicative_label(house, params),
        calibration=heating.factor_figure,
        heating_gas_m3=heating.heating_gas_figure,
    )


def plan(
    house: House,
    params: Parameters,
    codes: Iterable[str],
    *,
    singles: Calculation | None = None,
) -> Plan:
    """Measures done together: insulation first, then what heats the rest.

    Of two ways to do one thing (two kinds of glass, cavity or facade) the plan keeps
    one, so each part of the home is improved once; its savings add up per surface,
    within that surface's limit. Heat pumps and draught-proofing then work on the heat
    that is left. `singles` is calculate()'s result for the same home, if the caller
    has it already.
    """
    singles = singles or calculate(house, params)
    # A measure that does not apply to this home (no cavity, already this good) is left
    # out of the plan as it is out of the list of single measures.
    wanted = {
        c
        for c in codes
        if c in MEASURE_CODES and c not in house.done and singles.measure(c).applicable
    }
    for group in ALTERNATIVES:
        both = sorted(wanted & group, key=lambda c: -singles.measure(c).savings_eur_per_year.value)
        wanted -= set(both[1:])
    chosen = tuple(c for c in MEASURE_CODES if c in wanted)
    heating = _heating(house, params)
    base_heat = heating.actual_kwh if heating.actual_kwh is not None else heating.predicted_kwh
    # Alternatives are gone, so each part of the home has one measure (panels and doors
    # each cover their own share): the savings add up per surface, within its limit.
    per_surface: dict[str, float] = {}
    for measure in INSULATION_MEASURES:
        if measure.code in chosen:
            surface = SURFACE[measure.components[0]]
            heat_one = _insulation_heat(house, params, measure, heating)[0]
            per_surface[surface] = per_surface.get(surface, 0.0) + heat_one
    heat = sum(
        min(value, params.get(f"max_share.{surface}") * base_heat)
        for surface, value in per_surface.items()
    )
    remaining = base_heat - heat
    gas, kwh, gj = _to_carriers(house, params, heat)
    for code in OTHER_CODES:
        if code in chosen:
            other = _other_result(house, params, code, heating, remaining)
            if code == "draught_proofing":
                remaining -= remaining * params.get("measure.draught_proofing.share_of_heating")
            gas += other.gas_saved_m3.value
            kwh += other.electricity_saved_kwh.value
            gj += other.heat_saved_gj.value
    costs = [singles.measure(c) for c in chosen]
    cost = sum(m.cost_eur.value for m in costs)
    isde = sum(m.isde_subsidy_eur.value for m in costs)
    nip_value = 0.0
    if house.nip_contribution_eur > 0 and any(c in NIP_CODES for c in chosen):
        nip_value = min(house.nip_contribution_eur, max(0.0, cost - isde))
    net = cost - isde - nip_value
    money = _money(house, params, gas, kwh, gj)
    code_list = Input(_("measures"), ", ".join(chosen))
    return Plan(
        codes=chosen,
        cost_eur=Figure(cost, "€", _("sum of the measures' costs"), (code_list,)),
        isde_subsidy_eur=Figure(isde, "€", _("sum of the measures' ISDE subsidies"), (code_list,)),
        nip_contribution_eur=Figure(
            nip_value, "€", _("the NIP contribution, once for the home"), (code_list,)
        ),
        net_cost_eur=Figure(net, "€", _("cost − ISDE subsidy − NIP contribution")),
        gas_saved_m3=Figure(
            gas,
            "m³",
            _("sum of the measures' savings, each part of the home within its limit"),
            (code_list,),
        ),
        electricity_saved_kwh=Figure(kwh, "kWh", _("sum over the measures after insulation")),
        savings_eur_per_year=money,
        payback_years=_payback(net, money.value),
        co2_saved_kg=_co2(params, gas, kwh, gj),
    )
