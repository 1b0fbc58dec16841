"""The advice: the calculation core applied to a dossier, with the parameters in force.

Selectors only: they read the dossier and the parameter set and hand plain values to
the pure core in `dossier.calculations`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.utils import timezone

from dossier import calculations, selectors
from dossier.calculations import Calculation, Component, House, Parameter, Parameters, Plan
from dossier.models import Dossier, MeasureStatus, ParameterSet, ParameterValue
from dossier.models.house import HeatingSystem, HotWater, YesNoUnknown

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
