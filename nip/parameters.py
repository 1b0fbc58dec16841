"""The NIP's figures per year: which keys exist, and loading the set in force on a date.

The rules (rules.py) take a `NipParameters` value and never touch the database; this
module turns the rows of a ParameterSet into one. A figure nobody could find yet is kept
as an empty value and comes out as None: the rules then say it is missing instead of
inventing it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

# The measures the NIP pays for, with their ISDE requirements as parameter keys:
# measure.<code>.min_m2, measure.<code>.min_rd (added insulation), measure.<code>.max_u
# (glass, panels, doors) and measure.<code>.max_frame_u (a new frame).
INSULATION_MEASURES = (
    "roof_insulation",
    "attic_floor_insulation",
    "facade_insulation",
    "cavity_wall_insulation",
    "floor_insulation",
    "soil_insulation",
)
GLAZING_MEASURES = ("hr_glass", "triple_glass", "insulating_panels", "insulating_doors")
VENTILATION_MEASURES = ("balanced_ventilation", "demand_controlled_ventilation")
NIP_MEASURES = INSULATION_MEASURES + GLAZING_MEASURES + VENTILATION_MEASURES

# Every key a set may hold, with its unit and what it means.
KEYS: dict[str, tuple[str, object]] = {
    "nhg_limit_eur": ("€", _("NHG limit with energy-saving measures")),
    "amount_per_home_eur": ("€", _("NIP money per home")),
    "max_spend_per_home_eur": ("€", _("most that may be spent on measures per home")),
    "woz_share_min": ("", _("smallest share of homes at or under the WOZ limit (the 80 % rule)")),
    "income_threshold_pct": ("%", _("income threshold as a percentage of the norm")),
    "income_norm.single_eur": ("€/month", _("social assistance norm, single person")),
    "income_norm.couple_eur": ("€/month", _("social assistance norm, couple")),
    "income_norm.single_pension_eur": ("€/month", _("norm, single person of state pension age")),
    "income_norm.couple_pension_eur": ("€/month", _("norm, couple of state pension age")),
    "estimate.poor_before_year": (
        "year",
        _("homes built before this year count as poorly insulated"),
    ),
    "estimate.insulated_from_year": ("year", _("homes built from this year count as insulated")),
}
for _code in INSULATION_MEASURES:
    KEYS[f"measure.{_code}.min_m2"] = ("m²", _("smallest area"))
    KEYS[f"measure.{_code}.min_rd"] = ("m²K/W", _("smallest Rd value added"))
for _code in GLAZING_MEASURES:
    KEYS[f"measure.{_code}.min_m2"] = ("m²", _("smallest area of glass, panels and doors together"))
    KEYS[f"measure.{_code}.max_u"] = ("W/m²K", _("largest U value"))
for _code in ("triple_glass",):
    KEYS[f"measure.{_code}.max_frame_u"] = ("W/m²K", _("largest U value of the new frame"))


@dataclass(frozen=True)
class NipParameters:
    """The figures of one set, by key; None where the set leaves a figure empty."""

    version: str
    valid_from: dt.date
    values: dict[str, Decimal | None] = field(default_factory=dict)
    unverified: frozenset[str] = frozenset()

    def get(self, key: str) -> Decimal | None:
        return self.values.get(key)


class NoParameters(LookupError):
    """No parameter set is in force on the date asked for."""


def parameters_on(day: dt.date) -> tuple[NipParameters, int]:
    """The set in force on `day` and its primary key (for the decision that uses it)."""
    from nip.models import ParameterSet

    parameter_set = ParameterSet.objects.filter(valid_from__lte=day).order_by("-valid_from").first()
    if parameter_set is None:
        raise NoParameters(day)
    return from_set(parameter_set), parameter_set.pk


def from_set(parameter_set) -> NipParameters:
    rows = list(parameter_set.values.all())
    return NipParameters(
        version=parameter_set.version,
        valid_from=parameter_set.valid_from,
        values={row.key: row.value for row in rows},
        unverified=frozenset(row.key for row in rows if not row.verified),
    )
