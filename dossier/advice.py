"""The advice: the calculation core applied to a dossier, with the parameters in force.

Selectors only: they read the dossier and the parameter set and hand plain values to
the pure core in `dossier.calculations`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils import timezone

from dossier import calculations, selectors
from dossier.calculations import (
    Calculation,
    Component,
    Figure,
    House,
    Input,
    Parameter,
    Parameters,
    Plan,
)
from dossier.models import (
    ComponentKind,
    Dossier,
    DwellingType,
    Insulation,
    MeasureStatus,
    MeasureType,
    ParameterSet,
    ParameterValue,
)
from dossier.models.house import HeatingSystem, HotWater, Ownership, YesNoUnknown
from dossier.models.measure import AdvicePriority

if TYPE_CHECKING:
    from accounts.models import User


class NoParameters(LookupError):
    """No parameter set is in force on the day asked for."""


def parameter_set_on(day: date | None = None) -> ParameterSet:
    day = day or timezone.localdate()
    found = ParameterSet.objects.filter(valid_from__lte=day).order_by("-valid_from").first()
    if found is None:
        raise NoParameters(f"no calculation parameters in force on {day}")
    return found


def parameters_for(parameter_set: ParameterSet) -> Parameters:
    rows = ParameterValue.objects.filter(parameter_set=parameter_set).values_list(
        "key", "value", "unit", "source", "verified"
    )
    return Parameters.from_rows(
        version=parameter_set.version,
        valid_from=parameter_set.valid_from.isoformat(),
        rows=(Parameter(*row) for row in rows),
    )


def parameters_on(day: date | None = None) -> Parameters:
    """The parameter set in force on `day` (today by default)."""
    return parameters_for(parameter_set_on(day))


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def house_from_dossier(page: selectors.DossierPage) -> House:
    """The core's view of a dossier: what is known, and nothing about who lives there."""
    dossier = page.dossier
    dwelling = page.household.dwelling
    done = frozenset(m.measure_type.code for m in page.measures if m.status == MeasureStatus.DONE)
    components = {
        c.kind: Component(
            state=c.insulation,
            area_m2=_number(c.area_m2),
            u_value=_number(c.u_value),
            rc_value=_number(c.rc_value),
        )
        for c in page.components
    }
    return House(
        dwelling_type=dossier.dwelling_type or dwelling.dwelling_type or "terraced",
        build_year=dossier.build_year or dwelling.build_year or 1970,
        floor_area_m2=float(dossier.floor_area_m2 or 100),
        apartment_type=dossier.apartment_type,
        gas_m3_per_year=_number(dossier.gas_m3_per_year),
        occupants=dossier.occupants,
        heating_system=dossier.heating_system or HeatingSystem.UNKNOWN,
        hot_water=dossier.hot_water or HotWater.UNKNOWN,
        cooking=dossier.cooking,
        has_solar_panels=dossier.has_solar_panels == YesNoUnknown.YES,
        energy_label=dossier.energy_label if dossier.energy_label_kind == "registered" else "",
        components=components,
        done=done,
    )


@dataclass(frozen=True)
class DossierAdvice:
    page: selectors.DossierPage
    house: House
    assumed: tuple[str, ...]
    calculation: Calculation
    plan: Plan
    parameter_set: ParameterSet


def dossier_advice(*, viewer: User, pk: int, day: date | None = None) -> DossierAdvice:
    """The figures for one dossier the viewer may see (Http404 otherwise)."""
    page = selectors.dossier_page(viewer=viewer, pk=pk)
    parameter_set = parameter_set_on(day)
    params = parameters_for(parameter_set)
    house = house_from_dossier(page)
    dossier: Dossier = page.dossier
    dwelling = page.household.dwelling
    # Say which basics were not in the dossier, so nobody mistakes a default for a fact.
    assumed = tuple(
        name
        for name, known in (
            ("dwelling_type", dossier.dwelling_type or dwelling.dwelling_type),
            ("build_year", dossier.build_year or dwelling.build_year),
            ("floor_area_m2", dossier.floor_area_m2),
        )
        if not known
    )
    wanted = [
        m.measure_type.code
        for m in page.measures
        if m.status in (MeasureStatus.WANTED_NOW, MeasureStatus.LATER) or m.advice_priority
    ]
    calculation = calculations.calculate(house, params)
    return DossierAdvice(
        page=page,
        house=house,
        assumed=assumed,
        calculation=calculation,
        plan=calculations.plan(house, params, wanted, singles=calculation),
        parameter_set=parameter_set,
    )


# The figures a report keeps ---------------------------------------------------------------

PRIORITY_ORDER = {AdvicePriority.HIGH: 0, AdvicePriority.MEDIUM: 1, AdvicePriority.LOW: 2}
REPORT_FORMAT = 1


def figure_record(figure: Figure, *, explained: bool = True) -> dict[str, Any]:
    """A figure as JSON, with its formula and inputs, so a kept report can still explain it."""
    if not explained:
        return {"value": figure.value, "unit": figure.unit, "formula": ""}
    return {
        "value": figure.value,
        "unit": figure.unit,
        "formula": str(figure.formula),
        "note": str(figure.note),
        "inputs": [
            {
                "label": str(i.label),
                "value": i.value if isinstance(i.value, (int, float)) else str(i.value),
                "unit": i.unit,
                "source": str(i.source),
                "verified": i.verified,
            }
            for i in figure.inputs
        ],
    }


def figure_from_record(record: dict[str, Any]) -> Figure:
    return Figure(
        value=record["value"],
        unit=record["unit"],
        formula=record["formula"],
        note=record.get("note", ""),
        inputs=tuple(Input(**i) for i in record.get("inputs", ())),
    )


_MEASURE_FIGURES = (
    "cost_eur",
    "isde_subsidy_eur",
    "nip_contribution_eur",
    "net_cost_eur",
    "gas_saved_m3",
    "electricity_saved_kwh",
    "savings_eur_per_year",
    "payback_years",
    "co2_saved_kg",
)
_PLAN_FIGURES = (
    "cost_eur",
    "isde_subsidy_eur",
    "nip_contribution_eur",
    "net_cost_eur",
    "gas_saved_m3",
    "electricity_saved_kwh",
    "savings_eur_per_year",
    "payback_years",
)


def _choice_label(choices: type[models.TextChoices], value: str) -> str:
    return str(dict(choices.choices).get(value, "")) if value else ""


def report_figures(result: DossierAdvice, *, coach_name: str) -> dict[str, Any]:
    """Everything an advice report shows, as JSON: the figures and words of today.

    Labels are kept as text in the interface language, so a later change of the measure
    catalogue or of a translation never changes a report that was made.
    """
    page = result.page
    dossier: Dossier = page.dossier
    dwelling = page.household.dwelling
    names = dict(MeasureType.objects.values_list("code", "name"))
    by_code = {m.measure_type.code: m for m in page.measures}
    calculation = result.calculation

    advised: list[tuple[tuple[int, float], dict[str, Any]]] = []
    others: list[tuple[float, dict[str, Any]]] = []
    for measure in calculation.measures:
        row = by_code.get(measure.code)
        if not measure.applicable or measure.already_done:
            continue
        priority = row.advice_priority if row else ""
        wanted = bool(row and row.status in (MeasureStatus.WANTED_NOW, MeasureStatus.LATER))
        declined = (MeasureStatus.NOT_INTERESTED, MeasureStatus.NOT_APPLICABLE)
        if row and row.status in declined and not priority:
            # The resident said no and the coach did not advise it after all.
            continue
        payback = measure.payback_years.value
        entry = {
            "code": measure.code,
            "name": names.get(measure.code, measure.code),
            "priority": priority,
            "priority_label": _choice_label(AdvicePriority, priority),
            "wanted": wanted,
            "status_label": _choice_label(MeasureStatus, row.status) if row else "",
            "note": row.advice_note if row else "",
        }
        sort_payback = payback if payback is not None else float("inf")
        advise = bool(priority or wanted)
        # Only the advised measures are explained in the report; the others are a table.
        entry["figures"] = {
            key: figure_record(getattr(measure, key), explained=advise) for key in _MEASURE_FIGURES
        }
        if advise:
            advised.append(((PRIORITY_ORDER.get(priority, 3), sort_payback), entry))
        else:
            others.append((sort_payback, entry))
    advised.sort(key=lambda item: item[0])
    others.sort(key=lambda item: item[0])

    label = result.house.energy_label
    indicative = calculation.indicative_label.value
    shown_label = label or (indicative if isinstance(indicative, str) else "")
    return {
        "format": REPORT_FORMAT,
        "made_on": timezone.localdate().isoformat(),
        "parameters": {
            "version": result.parameter_set.version,
            "valid_from": result.parameter_set.valid_from.isoformat(),
        },
        "coach_name": coach_name,
        "home": {
            "address": dwelling.street_line,
            "postcode": dwelling.postcode_display,
            "city": dwelling.city,
            "dwelling_type": _choice_label(DwellingType, result.house.dwelling_type),
            "build_year": result.house.build_year,
            "floor_area_m2": result.house.floor_area_m2,
            "ownership": dossier.ownership,
            "energy_label": shown_label,
            "energy_label_registered": bool(label),
            "gas_m3_per_year": result.house.gas_m3_per_year,
            "heating_system": _choice_label(HeatingSystem, dossier.heating_system),
            "assumed": list(result.assumed),
            "components": [
                {
                    "name": _choice_label(ComponentKind, c.kind),
                    "insulation": _choice_label(Insulation, c.insulation),
                }
                for c in page.components
            ],
        },
        "heat_demand_kwh_m2": figure_record(calculation.heat_demand_kwh_m2),
        "standard_target_kwh_m2": figure_record(calculation.standard_target_kwh_m2),
        "indicative_label": figure_record(calculation.indicative_label),
        "heating_gas_m3": figure_record(calculation.heating_gas_m3),
        "advised": [entry for _, entry in advised],
        "others": [entry for _, entry in others],
        # In catalogue order (names come ordered by the catalogue's sort order).
        "done": [name for code, name in names.items() if code in result.house.done],
        "plan": {
            "names": [names.get(code, code) for code in result.plan.codes],
            "figures": {key: figure_record(getattr(result.plan, key)) for key in _PLAN_FIGURES},
        },
        # The NIP is for owner-occupied homes with label D to G (or an equivalent state);
        # the report only points the way, the municipality decides.
        "nip_may_apply": dossier.ownership in ("", Ownership.OWNER, Ownership.UNKNOWN)
        and shown_label in ("D", "E", "F", "G"),
    }
