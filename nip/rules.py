"""Who the NIP is for, and whether an executed measure qualifies: pure functions.

No database, no request, no clock: everything comes in as arguments (the answers and a
`NipParameters`), so the same answers and figures always give the same outcome, and the
outcome says which version of the figures produced it.

Eligibility (DOMAIN.md, seed 004, Stcrt. 2023, 3877 art. 1):
- owner-occupied (or a mixed owners' association with an owner-occupier);
- poorly insulated: a registered label D, E, F or G, or without one an "equivalent
  state": at least two of four shell groups not or poorly insulated. A group nobody
  knows is estimated from the build year (before 1975 hardly insulated, 1975-1991
  moderately, which counts as poorly; from 1992 insulated), and shown as an estimate.
  An apartment has no floor or roof of its own to count unless they are known, and of
  a home whose type nobody knows, floor and roof are not estimated as poor;
- WOZ value at or under the limit the programme chose (a yes/no only).
Owner-occupied, poorly insulated and under the WOZ limit is the target group. In it,
income at or under the threshold is the focus group (full unburdening); the others get
partial unburdening. Anything else is out of scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from django.utils import formats
from django.utils.translation import gettext as _

from nip.parameters import (
    GLAZING_MEASURES,
    INSULATION_MEASURES,
    NIP_MEASURES,
    NipParameters,
)

type Result = Literal["pass", "fail", "unknown"]
type ShellValue = Literal["poor", "insulated", "unknown"]
# In the target group, surely outside it, or not decided until answers come in.
type Scope = Literal["in", "out", "undecided"]

POOR_LABELS = frozenset({"D", "E", "F", "G"})
ALL_LABELS = frozenset({"A++++", "A+++", "A++", "A+", "A", "B", "C"}) | POOR_LABELS
SHELL_GROUPS = ("floor", "facade", "roof", "windows")
SHELL_STATES = frozenset({"poor", "insulated", "unknown"})
# An apartment's floor and roof usually belong to the neighbours below and above.
APARTMENT_WITHOUT = frozenset({"floor", "roof"})
DWELLING_TYPES = frozenset({"detached", "semi_detached", "corner", "terraced", "apartment"})
POOR_GROUPS_NEEDED = 2


@dataclass(frozen=True)
class Answers:
    """What is known about a home and its owners; None is "not known yet"."""

    owner_occupied: bool | None = None
    energy_label: str | None = None
    build_year: int | None = None
    dwelling_type: str | None = None
    woz_below_limit: bool | None = None
    income_below_threshold: bool | None = None
    debt_relief: bool = False
    # Per shell group ("floor", "facade", "roof", "windows"): "poor", "insulated" or
    # "unknown"; a group left out is unknown.
    shell: Mapping[str, ShellValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Criterion:
    code: str
    result: Result
    reason: str
    # The answers that would decide an "unknown".
    missing: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "result": self.result,
            "reason": self.reason,
            "missing": list(self.missing),
        }


@dataclass(frozen=True)
class Eligibility:
    group: Literal["focus", "partial", "out_of_scope"]
    eligible: bool
    # None when no maximum applies (debt relief).
    max_spend_eur: Decimal | None
    # None when the parameters do not hold the amount for this date.
    nip_contribution_eur: Decimal | None
    criteria: tuple[Criterion, ...]
    # The shell groups counted as poorly insulated, known or estimated.
    poor_elements: tuple[str, ...]
    estimated: bool
    parameter_version: str

    @property
    def missing(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for criterion in self.criteria:
            for name in criterion.missing:
                seen.setdefault(name, None)
        return tuple(seen)

    def as_dict(self) -> dict[str, object]:
        return {
            "group": self.group,
            "eligible": self.eligible,
            "max_spend_eur": _money(self.max_spend_eur),
            "nip_contribution_eur": _money(self.nip_contribution_eur),
            "criteria": [criterion.as_dict() for criterion in self.criteria],
            "poor_elements": list(self.poor_elements),
            "estimated": self.estimated,
            "missing": list(self.missing),
            "parameter_version": self.parameter_version,
        }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.quantize(Decimal('0.01'))}"


def _label(value: str | None) -> str | None:
    label = (value or "").strip().upper()
    if not label:
        return None
    if label not in ALL_LABELS:
        raise ValueError(f"not an energy label: {value!r}")
    return label


def _check_answers(answers: Answers) -> None:
    """Refuse answers no form or serializer should let through, rather than misjudge them."""
    if answers.dwelling_type is not None and answers.dwelling_type not in DWELLING_TYPES:
        raise ValueError(f"not a dwelling type: {answers.dwelling_type!r}")
    for group, state in answers.shell.items():
        if group not in SHELL_GROUPS or state not in SHELL_STATES:
            raise ValueError(f"not a shell group and state: {group!r}: {state!r}")


def _owner(answers: Answers) -> Criterion:
    if answers.owner_occupied is None:
        return Criterion(
            "owner_occupied",
            "unknown",
            _("Not known yet whether the owner lives in the home."),
            ("owner_occupied",),
        )
    if answers.owner_occupied:
        return Criterion("owner_occupied", "pass", _("The owner lives in the home."))
    return Criterion(
        "owner_occupied",
        "fail",
        _("Rented homes are outside the NIP; the landlord insulates."),
    )


def _estimate(group: str, answers: Answers, params: NipParameters) -> ShellValue:
    """A group's state from the build year, when nobody knows it."""
    year = answers.build_year
    if year is None:
        return "unknown"
    insulated_from = params.get("estimate.insulated_from_year")
    poor_before = params.get("estimate.poor_before_year")
    state: ShellValue
    if insulated_from is not None:
        # Before estimate.poor_before_year hardly insulated, up to `insulated_from`
        # moderately: both are "not or poorly insulated" as the regulation means it.
        state = "poor" if year < insulated_from else "insulated"
    elif poor_before is not None and year < poor_before:
        state = "poor"
    else:
        return "unknown"
    if state == "poor" and answers.dwelling_type is None and group in APARTMENT_WITHOUT:
        # The home may be an apartment, whose floor and roof are the neighbours'.
        return "unknown"
    return state


def _shell(answers: Answers, params: NipParameters) -> tuple[Criterion, tuple[str, ...], bool]:
    label = _label(answers.energy_label)
    if label is not None:
        if label in POOR_LABELS:
            return (
                Criterion(
                    "poorly_insulated",
                    "pass",
                    _("Registered energy label %(label)s (D to G).") % {"label": label},
                ),
                (),
                False,
            )
        return (
            Criterion(
                "poorly_insulated",
                "fail",
                _("Registered energy label %(label)s is C or better.") % {"label": label},
            ),
            (),
            False,
        )
    known_poor: list[str] = []
    estimated_poor: list[str] = []
    estimated_insulated: list[str] = []
    undecided: list[str] = []
    for group in SHELL_GROUPS:
        state = answers.shell.get(group, "unknown")
        if state == "poor":
            known_poor.append(group)
        elif state == "insulated":
            continue
        elif answers.dwelling_type == "apartment" and group in APARTMENT_WITHOUT:
            # Not the apartment's own to insulate: it counts only when known.
            continue
        else:
            estimate = _estimate(group, answers, params)
            if estimate == "poor":
                estimated_poor.append(group)
            elif estimate == "insulated":
                estimated_insulated.append(group)
            else:
                undecided.append(group)
    if len(known_poor) >= POOR_GROUPS_NEEDED:
        return (
            Criterion(
                "poorly_insulated",
                "pass",
                _("No registered label; known to be poorly insulated: %(groups)s.")
                % {"groups": _group_names(known_poor)},
            ),
            tuple(known_poor),
            False,
        )
    poor = tuple(group for group in SHELL_GROUPS if group in known_poor + estimated_poor)
    estimated = bool(estimated_poor or estimated_insulated)
    if len(poor) >= POOR_GROUPS_NEEDED:
        return (
            Criterion(
                "poorly_insulated",
                "pass",
                _(
                    "No registered label; estimated from the build year and dwelling type "
                    "as poorly insulated: %(groups)s. This is an estimate; check it in the home."
                )
                % {"groups": _group_names(poor)},
            ),
            poor,
            True,
        )
    if len(poor) + len(undecided) >= POOR_GROUPS_NEEDED:
        missing = ["energy_label"]
        if answers.build_year is None:
            missing.append("build_year")
        if answers.dwelling_type is None and APARTMENT_WITHOUT & set(undecided):
            missing.append("dwelling_type")
        missing.append("shell")
        return (
            Criterion(
                "poorly_insulated",
                "unknown",
                _(
                    "No registered label and not enough known about the insulation: give "
                    "the label, the build year and dwelling type, or the state of floor, "
                    "facade, roof and windows."
                ),
                tuple(missing),
            ),
            poor,
            estimated,
        )
    if estimated:
        reason = _(
            "No registered label; from what is known and estimated from the build year, fewer "
            "than two of floor, facade, roof and windows are poorly insulated: not comparable "
            "to label D to G. This is partly an estimate; check it in the home."
        )
    else:
        reason = _(
            "No registered label, and fewer than two of floor, facade, roof and windows are "
            "poorly insulated: not comparable to label D to G."
        )
    return Criterion("poorly_insulated", "fail", reason), poor, estimated


def _group_names(groups: Iterable[str]) -> str:
    names = {
        "floor": _("floor and soil"),
        "facade": _("facade and cavity wall"),
        "roof": _("roof, attic and loft floor"),
        "windows": _("windows"),
    }
    return ", ".join(names[group] for group in groups)


def _woz(answers: Answers) -> Criterion:
    if answers.woz_below_limit is None:
        return Criterion(
            "woz_below_limit",
            "unknown",
            _("Not known yet whether the WOZ value is at or under the programme's limit."),
            ("woz_below_limit",),
        )
    if answers.woz_below_limit:
        return Criterion(
            "woz_below_limit", "pass", _("The WOZ value is at or under the programme's limit.")
        )
    return Criterion(
        "woz_below_limit",
        "fail",
        _(
            "The WOZ value is above the programme's limit: outside the target group "
            "(collective purchasing at the owner's own cost remains possible)."
        ),
    )


def _income(answers: Answers, params: NipParameters, scope: Scope) -> Criterion:
    pct = params.get("income_threshold_pct")
    threshold = _("%(pct)s %% of the social assistance norm") % {
        "pct": "?" if pct is None else formats.number_format(pct.normalize())
    }
    known = answers.income_below_threshold
    if scope == "out":
        # The income decides nothing outside the target group: say so, ask for nothing.
        if known is None:
            reason = _("Income not known; not needed, the home is outside the target group.")
        elif known:
            reason = _("Income at most %(t)s, but the home is outside the target group.")
        else:
            reason = _("Income above %(t)s; the home is outside the target group.")
        result: Result = "unknown" if known is None else "pass" if known else "fail"
        return Criterion("income_below_threshold", result, reason % {"t": threshold})
    if known is None:
        return Criterion(
            "income_below_threshold",
            "unknown",
            _("Income not known yet: partial unburdening until it is shown to be at most %(t)s.")
            % {"t": threshold},
            ("income_below_threshold",),
        )
    if known:
        if scope == "undecided":
            reason = _("Income at most %(t)s: focus group once the home is in the target group.")
        else:
            reason = _("Income at most %(t)s: focus group, full unburdening.")
        return Criterion("income_below_threshold", "pass", reason % {"t": threshold})
    if scope == "undecided":
        reason = _("Income above %(t)s: partial unburdening once the home is in the target group.")
    else:
        reason = _("Income above %(t)s: partial unburdening (NIP contribution and ISDE).")
    return Criterion("income_below_threshold", "fail", reason % {"t": threshold})


def _spend(
    answers: Answers, params: NipParameters, scope: Scope
) -> tuple[Criterion, Decimal | None]:
    if scope == "out":
        return (
            Criterion("max_spend", "fail", _("Out of scope: nothing can be spent on this home.")),
            Decimal("0"),
        )
    if scope == "undecided":
        return (
            Criterion(
                "max_spend",
                "unknown",
                _(
                    "Not in the target group until the missing answers are known: nothing can "
                    "be spent on this home yet."
                ),
            ),
            Decimal("0"),
        )
    if answers.debt_relief:
        return (
            Criterion(
                "max_spend",
                "pass",
                _(
                    "Debt counselling, debt restructuring or special assistance: no maximum "
                    "per home applies."
                ),
            ),
            None,
        )
    cap = params.get("max_spend_per_home_eur")
    if cap is None:
        return (
            Criterion(
                "max_spend",
                "unknown",
                _("The maximum per home is missing from the NIP parameters %(version)s.")
                % {"version": params.version},
                ("parameters.max_spend_per_home_eur",),
            ),
            None,
        )
    return (
        Criterion(
            "max_spend",
            "pass",
            _("At most € %(cap)s may be spent on measures for this home.")
            % {"cap": formats.number_format(cap, 0, force_grouping=True)},
        ),
        cap,
    )


def eligibility(answers: Answers, params: NipParameters) -> Eligibility:
    """The group a home belongs to, with the reason for every criterion.

    Raises ValueError for answers outside their choices (a label, dwelling type or shell
    state that does not exist): the caller validates its input first.
    """
    _check_answers(answers)
    owner = _owner(answers)
    shell, poor_elements, estimated = _shell(answers, params)
    woz = _woz(answers)
    results = {criterion.result for criterion in (owner, shell, woz)}
    scope: Scope = "out" if "fail" in results else "undecided" if "unknown" in results else "in"
    income = _income(answers, params, scope)
    spend, max_spend = _spend(answers, params, scope)
    criteria = (owner, shell, woz, income, spend)
    group: Literal["focus", "partial", "out_of_scope"]
    contribution: Decimal | None
    if scope != "in":
        group = "out_of_scope"
        contribution = Decimal("0")
    else:
        group = "focus" if income.result == "pass" else "partial"
        contribution = params.get("amount_per_home_eur")
        if contribution is None:
            criteria += (
                Criterion(
                    "nip_contribution",
                    "unknown",
                    _(
                        "The NIP amount per home is missing from the NIP parameters "
                        "%(version)s; the programme's own amount applies."
                    )
                    % {"version": params.version},
                    ("parameters.amount_per_home_eur",),
                ),
            )
    return Eligibility(
        group=group,
        eligible=scope == "in",
        max_spend_eur=max_spend,
        nip_contribution_eur=contribution,
        criteria=criteria,
        poor_elements=poor_elements,
        estimated=estimated,
        parameter_version=params.version,
    )


# ---------------------------------------------------------------------------------------
# Executed measures against the ISDE minimums


@dataclass(frozen=True)
class MeasureFacts:
    code: str
    area_m2: Decimal | None = None
    rd_value: Decimal | None = None
    u_value: Decimal | None = None
    frame_u_value: Decimal | None = None
    # All glass, panels and doors of the application together, this measure included:
    # the ISDE minimum for glazing is on the sum.
    glazing_total_m2: Decimal | None = None
    small_home_exception: bool = False


@dataclass(frozen=True)
class MeasureCheck:
    qualifies: bool
    # Clear messages, one per requirement that is not met; the field they belong to.
    problems: tuple[tuple[str, str], ...]
    # Worth showing: requirements met only by an exception (small home), or not checked
    # because the parameters lack them.
    notes: tuple[str, ...] = ()


def _fmt(value: Decimal) -> str:
    return formats.number_format(value.normalize())


def check_measure(facts: MeasureFacts, params: NipParameters) -> MeasureCheck:
    """Does an executed measure meet the ISDE minimums the NIP holds it to?

    A minimum the parameters leave empty is not held against the measure; a note says it
    could not be checked.
    """
    problems: list[tuple[str, str]] = []
    notes: list[str] = []
    code = facts.code
    if code not in NIP_MEASURES:
        problems.append(("measure_type", _("The NIP does not pay for this measure.")))
        return MeasureCheck(qualifies=False, problems=tuple(problems))
    glazing = code in GLAZING_MEASURES
    if code in INSULATION_MEASURES or glazing:
        minimum = params.get(f"measure.{code}.min_m2")
        # For glass, panels and doors the minimum is on the application's sum, which
        # includes this measure: without the sum, this measure alone is what is known.
        area = facts.area_m2
        if glazing and facts.glazing_total_m2 is not None:
            area = max(facts.glazing_total_m2, facts.area_m2 or Decimal("0"))
        if facts.area_m2 is None:
            problems.append(("area_m2", _("Enter the area in m².")))
        elif minimum is None:
            notes.append(_missing_note(params))
        elif area is not None and area < minimum:
            if facts.small_home_exception:
                notes.append(
                    _("Smaller than the minimum of %(min)s m², allowed for a small home.")
                    % {"min": _fmt(minimum)}
                )
            elif glazing:
                problems.append(
                    (
                        "area_m2",
                        _(
                            "Glass, panels and doors together must be at least %(min)s m²; "
                            "this application has %(area)s m²."
                        )
                        % {"min": _fmt(minimum), "area": _fmt(area)},
                    )
                )
            else:
                problems.append(
                    (
                        "area_m2",
                        _("This measure needs at least %(min)s m²; %(area)s m² was entered.")
                        % {"min": _fmt(minimum), "area": _fmt(area)},
                    )
                )
    if code in INSULATION_MEASURES:
        min_rd = params.get(f"measure.{code}.min_rd")
        if facts.rd_value is None:
            problems.append(("rd_value", _("Enter the Rd value of the insulation added.")))
        elif min_rd is None:
            notes.append(_missing_note(params))
        elif facts.rd_value < min_rd:
            problems.append(
                (
                    "rd_value",
                    _("The Rd value must be at least %(min)s m²K/W; %(value)s was entered.")
                    % {"min": _fmt(min_rd), "value": _fmt(facts.rd_value)},
                )
            )
    if glazing:
        max_u = params.get(f"measure.{code}.max_u")
        if facts.u_value is None:
            problems.append(("u_value", _("Enter the U value of the glass, panel or door.")))
        elif max_u is None:
            notes.append(_missing_note(params))
        elif facts.u_value > max_u:
            problems.append(
                (
                    "u_value",
                    _("The U value may be at most %(max)s W/m²K; %(value)s was entered.")
                    % {"max": _fmt(max_u), "value": _fmt(facts.u_value)},
                )
            )
        max_frame = params.get(f"measure.{code}.max_frame_u")
        if max_frame is not None:
            if facts.frame_u_value is None:
                problems.append(("frame_u_value", _("Enter the U value of the new frame.")))
            elif facts.frame_u_value > max_frame:
                problems.append(
                    (
                        "frame_u_value",
                        _(
                            "The new frame's U value may be at most %(max)s W/m²K; "
                            "%(value)s was entered."
                        )
                        % {"max": _fmt(max_frame), "value": _fmt(facts.frame_u_value)},
                    )
                )
    return MeasureCheck(
        qualifies=not problems, problems=tuple(problems), notes=tuple(dict.fromkeys(notes))
    )


def _missing_note(params: NipParameters) -> str:
    return _(
        "A minimum requirement is missing from the NIP parameters %(version)s; it was not checked."
    ) % {"version": params.version}
