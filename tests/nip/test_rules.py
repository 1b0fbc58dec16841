"""The NIP rules: who a home's answers make it, and whether an executed measure qualifies.

Pure: the parameters are built here, no database (except the last tests, which use the
seeded sets). Messages are checked in English, the msgids, under translation.override.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from nip.parameters import GLAZING_MEASURES, NipParameters, parameters_on
from nip.rules import (
    ALL_LABELS,
    SHELL_GROUPS,
    Answers,
    Eligibility,
    MeasureFacts,
    check_measure,
    eligibility,
)

D = Decimal

# The first tranche's figures (seed 004), as the 2023 set holds them.
FIGURES_2023: dict[str, Decimal | None] = {
    "nhg_limit_eur": D("429300"),
    "amount_per_home_eur": D("1460"),
    "max_spend_per_home_eur": D("4000"),
    "woz_share_min": D("0.80"),
    "income_threshold_pct": D("130.0000"),
    "estimate.poor_before_year": D("1975"),
    "estimate.insulated_from_year": D("1992"),
}
# (code, min m², min Rd) and (code, min m², max U, max frame U)
INSULATION = [
    ("roof_insulation", "20", "3.5"),
    ("attic_floor_insulation", "20", "3.5"),
    ("facade_insulation", "10", "3.5"),
    ("cavity_wall_insulation", "10", "1.1"),
    ("floor_insulation", "20", "3.5"),
    ("soil_insulation", "20", "3.5"),
]
GLAZING = [
    ("hr_glass", "8", "1.2", None),
    ("triple_glass", "8", "0.7", "1.5"),
    ("insulating_panels", "8", "1.2", None),
    ("insulating_doors", "8", "1.5", None),
]
for _code, _m2, _rd in INSULATION:
    FIGURES_2023[f"measure.{_code}.min_m2"] = D(_m2)
    FIGURES_2023[f"measure.{_code}.min_rd"] = D(_rd)
for _code, _m2, _u, _frame in GLAZING:
    FIGURES_2023[f"measure.{_code}.min_m2"] = D(_m2)
    FIGURES_2023[f"measure.{_code}.max_u"] = D(_u)
    if _frame is not None:
        FIGURES_2023[f"measure.{_code}.max_frame_u"] = D(_frame)


def figures(version: str = "test-2023", **changes: Decimal | None) -> NipParameters:
    """The 2023 figures with some changed; a key given as None is a figure nobody found."""
    values = dict(FIGURES_2023)
    for key, value in changes.items():
        values[key.replace("__", ".")] = value
    return NipParameters(version=version, valid_from=dt.date(2023, 1, 1), values=values)


P = figures()

# Owner-occupied, label E, under the WOZ limit, income above the threshold: partial.
IN_SCOPE = Answers(
    owner_occupied=True,
    energy_label="E",
    build_year=1965,
    dwelling_type="terraced",
    woz_below_limit=True,
    income_below_threshold=False,
)
NO_LABEL = replace(IN_SCOPE, energy_label=None)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def with_shell(answers: Answers, shell: dict[str, str], **changes: object) -> Answers:
    return replace(answers, shell=shell, **changes)


def criterion(outcome: Eligibility, code: str):
    [found] = [c for c in outcome.criteria if c.code == code]
    return found


def shell_of(outcome: Eligibility):
    return criterion(outcome, "poorly_insulated")


# Owner-occupied -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "result", "missing"),
    [(True, "pass", ()), (False, "fail", ()), (None, "unknown", ("owner_occupied",))],
)
def test_the_owner_must_live_in_the_home(owner, result, missing):
    outcome = eligibility(replace(IN_SCOPE, owner_occupied=owner), P)
    found = criterion(outcome, "owner_occupied")
    assert (found.result, found.missing) == (result, missing)
    assert outcome.eligible is (owner is True)
    if owner is False:
        assert "landlord" in found.reason


# Poorly insulated: the registered label -----------------------------------------------------


@pytest.mark.parametrize("label", ["D", "E", "F", "G", "d", "g", " e "])
def test_a_registered_label_d_to_g_counts_as_poorly_insulated(label):
    outcome = eligibility(replace(IN_SCOPE, energy_label=label), P)
    assert shell_of(outcome).result == "pass"
    assert label.strip().upper() in shell_of(outcome).reason
    assert outcome.group == "partial"
    assert outcome.estimated is False


@pytest.mark.parametrize("label", ["C", "c", "B", "A", "a+", "A++++"])
def test_label_c_or_better_is_out_of_scope_whatever_the_shell(label):
    # The label decides: a poor shell or an old build year does not overrule it.
    answers = with_shell(
        IN_SCOPE,
        {"floor": "poor", "facade": "poor", "roof": "poor", "windows": "poor"},
        energy_label=label,
        build_year=1930,
    )
    outcome = eligibility(answers, P)
    assert shell_of(outcome).result == "fail"
    assert "C or better" in shell_of(outcome).reason
    assert (outcome.group, outcome.eligible) == ("out_of_scope", False)
    assert outcome.poor_elements == ()


@pytest.mark.parametrize(
    "answers",
    [
        replace(IN_SCOPE, energy_label="H"),
        replace(IN_SCOPE, energy_label="A+++++"),
        replace(IN_SCOPE, dwelling_type="castle"),
        with_shell(NO_LABEL, {"walls": "poor"}),
        with_shell(NO_LABEL, {"floor": "bad"}),
    ],
)
def test_answers_outside_their_choices_are_refused_not_misjudged(answers):
    with pytest.raises(ValueError):
        eligibility(answers, P)


# Poorly insulated: the equivalent state without a label -----------------------------------


def test_two_known_poor_groups_are_the_equivalent_state_whatever_the_build_year():
    answers = with_shell(NO_LABEL, {"facade": "poor", "windows": "poor"}, build_year=2010)
    outcome = eligibility(answers, P)
    assert shell_of(outcome).result == "pass"
    assert outcome.poor_elements == ("facade", "windows")
    assert outcome.estimated is False
    assert "known to be poorly insulated" in shell_of(outcome).reason
    assert outcome.eligible


def test_the_known_groups_are_listed_as_known_and_estimated_ones_left_out():
    # Two known poor decide; the build year would add floor and roof as estimates, which
    # must not be reported as known.
    answers = with_shell(NO_LABEL, {"facade": "poor", "windows": "poor"}, build_year=1960)
    outcome = eligibility(answers, P)
    assert outcome.poor_elements == ("facade", "windows")
    assert outcome.estimated is False
    assert "floor" not in shell_of(outcome).reason


def test_a_1960_corner_house_nobody_looked_at_is_estimated_poorly_insulated():
    answers = replace(NO_LABEL, build_year=1960, dwelling_type="corner")
    outcome = eligibility(answers, P)
    assert shell_of(outcome).result == "pass"
    assert outcome.estimated is True
    assert outcome.poor_elements == SHELL_GROUPS
    assert "estimate" in shell_of(outcome).reason
    assert outcome.group == "partial"


def test_a_home_built_in_2000_is_estimated_insulated_and_out_of_scope():
    outcome = eligibility(replace(NO_LABEL, build_year=2000), P)
    assert shell_of(outcome).result == "fail"
    assert shell_of(outcome).missing == ()
    assert outcome.estimated is True
    assert "estimate" in shell_of(outcome).reason
    assert outcome.group == "out_of_scope"


@pytest.mark.parametrize(
    ("year", "result"), [(1974, "pass"), (1975, "pass"), (1991, "pass"), (1992, "fail")]
)
def test_the_estimate_counts_moderately_insulated_homes_before_1992_as_poor(year, result):
    assert shell_of(eligibility(replace(NO_LABEL, build_year=year), P)).result == result


def test_the_estimate_follows_the_parameters_not_a_constant():
    later = figures(estimate__insulated_from_year=D("1980"))
    assert shell_of(eligibility(replace(NO_LABEL, build_year=1985), later)).result == "fail"
    assert shell_of(eligibility(replace(NO_LABEL, build_year=1985), P)).result == "pass"


def test_without_the_insulated_from_year_only_homes_before_the_poor_year_are_estimated():
    params = figures(estimate__insulated_from_year=None)
    assert shell_of(eligibility(replace(NO_LABEL, build_year=1960), params)).result == "pass"
    later = shell_of(eligibility(replace(NO_LABEL, build_year=1985), params))
    assert later.result == "unknown"


def test_one_known_poor_group_and_a_new_build_year_is_not_enough():
    answers = with_shell(NO_LABEL, {"roof": "poor"}, build_year=2000)
    outcome = eligibility(answers, P)
    assert shell_of(outcome).result == "fail"
    assert outcome.poor_elements == ("roof",)


def test_an_apartments_floor_and_roof_do_not_count_unless_known():
    old_flat = replace(NO_LABEL, build_year=1960, dwelling_type="apartment")
    outcome = eligibility(old_flat, P)
    assert shell_of(outcome).result == "pass"
    assert outcome.poor_elements == ("facade", "windows")
    # With the facade known to be insulated only the windows are left: not enough.
    outcome = eligibility(with_shell(old_flat, {"facade": "insulated"}), P)
    assert shell_of(outcome).result == "fail"
    assert outcome.poor_elements == ("windows",)
    # Known, they count: a new apartment above a cold crawl space under a poor roof.
    known = with_shell(old_flat, {"floor": "poor", "roof": "poor"}, build_year=2005)
    outcome = eligibility(known, P)
    assert shell_of(outcome).result == "pass"
    assert outcome.poor_elements == ("floor", "roof")


def test_an_unknown_dwelling_type_keeps_floor_and_roof_open_when_they_would_decide():
    answers = with_shell(
        NO_LABEL,
        {"facade": "insulated", "windows": "insulated"},
        build_year=1960,
        dwelling_type=None,
    )
    outcome = eligibility(answers, P)
    assert shell_of(outcome).result == "unknown"
    assert "dwelling_type" in shell_of(outcome).missing
    # Once the type is known the estimate decides, either way.
    assert shell_of(eligibility(replace(answers, dwelling_type="terraced"), P)).result == "pass"
    assert shell_of(eligibility(replace(answers, dwelling_type="apartment"), P)).result == "fail"


def test_an_unknown_dwelling_type_does_not_stop_a_clear_estimate():
    new = eligibility(replace(NO_LABEL, build_year=2001, dwelling_type=None), P)
    assert shell_of(new).result == "fail"
    old = eligibility(replace(NO_LABEL, build_year=1950, dwelling_type=None), P)
    assert shell_of(old).result == "pass"
    assert old.poor_elements == ("facade", "windows")


def test_no_label_and_no_build_year_is_unknown_and_says_what_would_decide():
    outcome = eligibility(replace(NO_LABEL, build_year=None), P)
    found = shell_of(outcome)
    assert found.result == "unknown"
    assert found.missing == ("energy_label", "build_year", "shell")
    assert (outcome.group, outcome.eligible) == ("out_of_scope", False)
    assert outcome.missing == ("energy_label", "build_year", "shell")
    unknown_type = eligibility(replace(NO_LABEL, build_year=None, dwelling_type=None), P)
    assert shell_of(unknown_type).missing == (
        "energy_label",
        "build_year",
        "dwelling_type",
        "shell",
    )


def test_three_groups_known_insulated_fail_even_without_a_build_year():
    answers = with_shell(
        NO_LABEL,
        {"floor": "insulated", "facade": "insulated", "roof": "insulated"},
        build_year=None,
    )
    found = shell_of(eligibility(answers, P))
    assert (found.result, found.missing) == ("fail", ())


def test_one_known_poor_group_and_an_unknown_build_year_is_still_open():
    answers = with_shell(NO_LABEL, {"windows": "poor"}, build_year=None)
    outcome = eligibility(answers, P)
    assert shell_of(outcome).result == "unknown"
    assert outcome.poor_elements == ("windows",)


# WOZ, income, the maximum and the NIP money -------------------------------------------------


@pytest.mark.parametrize(
    ("woz", "result", "group"),
    [(True, "pass", "partial"), (False, "fail", "out_of_scope"), (None, "unknown", "out_of_scope")],
)
def test_the_woz_value_must_be_at_or_under_the_limit(woz, result, group):
    outcome = eligibility(replace(IN_SCOPE, woz_below_limit=woz), P)
    assert criterion(outcome, "woz_below_limit").result == result
    assert outcome.group == group
    if woz is None:
        assert criterion(outcome, "woz_below_limit").missing == ("woz_below_limit",)
    if woz is False:
        assert "collective purchasing" in criterion(outcome, "woz_below_limit").reason


def test_income_at_or_under_the_threshold_is_the_focus_group():
    outcome = eligibility(replace(IN_SCOPE, income_below_threshold=True), P)
    assert (outcome.group, outcome.eligible) == ("focus", True)
    assert criterion(outcome, "income_below_threshold").result == "pass"
    assert "130 %" in criterion(outcome, "income_below_threshold").reason
    assert "full unburdening" in criterion(outcome, "income_below_threshold").reason


def test_income_above_the_threshold_is_partial_unburdening():
    outcome = eligibility(IN_SCOPE, P)
    assert (outcome.group, outcome.eligible) == ("partial", True)
    assert criterion(outcome, "income_below_threshold").result == "fail"


def test_an_unknown_income_is_partial_until_shown_and_asks_for_it():
    outcome = eligibility(replace(IN_SCOPE, income_below_threshold=None), P)
    assert (outcome.group, outcome.eligible) == ("partial", True)
    found = criterion(outcome, "income_below_threshold")
    assert (found.result, found.missing) == ("unknown", ("income_below_threshold",))
    assert outcome.missing == ("income_below_threshold",)


def test_in_scope_the_maximum_and_the_nip_money_come_from_the_parameters():
    outcome = eligibility(IN_SCOPE, P)
    assert outcome.max_spend_eur == D("4000")
    assert outcome.nip_contribution_eur == D("1460")
    assert "€ 4,000" in criterion(outcome, "max_spend").reason
    assert outcome.parameter_version == "test-2023"


def test_debt_relief_lifts_the_maximum_per_home():
    outcome = eligibility(replace(IN_SCOPE, debt_relief=True), P)
    assert outcome.max_spend_eur is None
    assert criterion(outcome, "max_spend").result == "pass"
    assert outcome.nip_contribution_eur == D("1460")


def test_out_of_scope_gets_no_money_and_no_maximum_even_with_debt_relief():
    answers = replace(IN_SCOPE, woz_below_limit=False, debt_relief=True)
    outcome = eligibility(answers, P)
    assert (outcome.group, outcome.eligible) == ("out_of_scope", False)
    assert outcome.max_spend_eur == D("0")
    assert outcome.nip_contribution_eur == D("0")
    assert criterion(outcome, "max_spend").result == "fail"


def test_out_of_scope_the_income_neither_promises_a_group_nor_is_asked_for():
    rich = eligibility(replace(IN_SCOPE, owner_occupied=False, income_below_threshold=True), P)
    found = criterion(rich, "income_below_threshold")
    assert "outside the target group" in found.reason
    assert "full unburdening" not in found.reason
    unknown = eligibility(replace(IN_SCOPE, owner_occupied=False, income_below_threshold=None), P)
    assert criterion(unknown, "income_below_threshold").missing == ()
    assert unknown.missing == ()


def test_undecided_is_out_of_scope_for_now_and_lists_every_missing_answer():
    answers = Answers(energy_label="F")
    outcome = eligibility(answers, P)
    assert (outcome.group, outcome.eligible) == ("out_of_scope", False)
    assert outcome.max_spend_eur == D("0")
    assert outcome.nip_contribution_eur == D("0")
    assert criterion(outcome, "max_spend").result == "unknown"
    assert outcome.missing == ("owner_occupied", "woz_below_limit", "income_below_threshold")


def test_a_missing_amount_gives_no_contribution_and_a_criterion_that_says_so():
    params = figures("test-2024", amount_per_home_eur=None)
    outcome = eligibility(IN_SCOPE, params)
    assert outcome.group == "partial"
    assert outcome.nip_contribution_eur is None
    found = criterion(outcome, "nip_contribution")
    assert (found.result, found.missing) == ("unknown", ("parameters.amount_per_home_eur",))
    assert "test-2024" in found.reason
    assert outcome.as_dict()["nip_contribution_eur"] is None


def test_a_missing_maximum_is_shown_as_missing_not_as_no_maximum():
    outcome = eligibility(IN_SCOPE, figures(max_spend_per_home_eur=None))
    assert outcome.max_spend_eur is None
    found = criterion(outcome, "max_spend")
    assert (found.result, found.missing) == ("unknown", ("parameters.max_spend_per_home_eur",))


def test_out_of_scope_adds_no_missing_amount_criterion():
    params = figures(amount_per_home_eur=None)
    outcome = eligibility(replace(IN_SCOPE, owner_occupied=False), params)
    assert outcome.nip_contribution_eur == D("0")
    assert "nip_contribution" not in {c.code for c in outcome.criteria}


def test_the_outcome_as_a_dict_holds_money_as_strings_and_every_criterion():
    data = eligibility(replace(IN_SCOPE, income_below_threshold=None), P).as_dict()
    assert data["max_spend_eur"] == "4000.00"
    assert data["nip_contribution_eur"] == "1460.00"
    assert [c["code"] for c in data["criteria"]] == [
        "owner_occupied",
        "poorly_insulated",
        "woz_below_limit",
        "income_below_threshold",
        "max_spend",
    ]
    assert data["missing"] == ["income_below_threshold"]
    assert data["criteria"][3]["missing"] == ["income_below_threshold"]
    assert data["parameter_version"] == "test-2023"


# Properties --------------------------------------------------------------------------------

labels = st.none() | st.sampled_from(sorted(ALL_LABELS)).flatmap(
    lambda label: st.sampled_from([label, label.lower()])
)
shells = st.dictionaries(
    st.sampled_from(SHELL_GROUPS), st.sampled_from(["poor", "insulated", "unknown"])
)
maybe = st.none() | st.booleans()
answers_st = st.builds(
    Answers,
    owner_occupied=maybe,
    energy_label=labels,
    build_year=st.none() | st.integers(1000, 2030),
    dwelling_type=st.none()
    | st.sampled_from(["detached", "semi_detached", "corner", "terraced", "apartment"]),
    woz_below_limit=maybe,
    income_below_threshold=maybe,
    debt_relief=st.booleans(),
    shell=shells,
)
params_st = st.sampled_from(
    [
        P,
        figures(amount_per_home_eur=None),
        figures(max_spend_per_home_eur=None),
        figures(estimate__insulated_from_year=None),
    ]
)
TARGET = ("owner_occupied", "poorly_insulated", "woz_below_limit")


@given(answers_st, params_st)
def test_a_fail_in_owner_shell_or_woz_is_always_out_of_scope(answers, params):
    outcome = eligibility(answers, params)
    if any(criterion(outcome, code).result == "fail" for code in TARGET):
        assert (outcome.group, outcome.eligible) == ("out_of_scope", False)
        assert outcome.max_spend_eur == D("0")
        assert outcome.nip_contribution_eur == D("0")


@given(answers_st, params_st)
def test_eligible_exactly_when_all_three_pass_and_then_focus_or_partial(answers, params):
    outcome = eligibility(answers, params)
    all_pass = all(criterion(outcome, code).result == "pass" for code in TARGET)
    assert outcome.eligible is all_pass
    assert outcome.eligible is (outcome.group in ("focus", "partial"))
    income = criterion(outcome, "income_below_threshold").result
    if outcome.group == "focus":
        assert income == "pass"
    if outcome.group == "partial":
        assert income != "pass"


@given(answers_st, params_st, maybe, st.booleans())
def test_out_of_scope_the_income_and_debt_relief_change_nothing(answers, params, income, debt):
    outcome = eligibility(answers, params)
    if outcome.eligible:
        return
    other = eligibility(replace(answers, income_below_threshold=income, debt_relief=debt), params)
    assert (other.group, other.eligible, other.max_spend_eur, other.nip_contribution_eur) == (
        outcome.group,
        outcome.eligible,
        outcome.max_spend_eur,
        outcome.nip_contribution_eur,
    )


@given(answers_st, params_st)
def test_only_an_unknown_asks_for_answers(answers, params):
    outcome = eligibility(answers, params)
    for found in outcome.criteria:
        if found.missing:
            assert found.result == "unknown", found
        assert found.reason
    for code in TARGET:
        found = criterion(outcome, code)
        if found.result == "unknown":
            assert found.missing, found


@given(answers_st, st.sampled_from(["D", "e", "F", "g", "C", "a", "A++"]), shells, st.integers())
def test_with_a_label_the_shell_and_build_year_do_not_matter(answers, label, shell, year):
    labelled = replace(answers, energy_label=label)
    other = replace(labelled, shell=shell, build_year=1000 + year % 1030)
    assert eligibility(labelled, P) == eligibility(other, P)


@given(answers_st)
def test_an_apartments_unknown_floor_and_roof_count_as_nothing(answers):
    flat = replace(answers, dwelling_type="apartment")
    shell = dict(flat.shell)
    for group in ("floor", "roof"):
        if shell.get(group, "unknown") == "unknown":
            shell[group] = "insulated"
    outcome = eligibility(flat, P)
    assert outcome.group == eligibility(replace(flat, shell=shell), P).group


@given(answers_st)
def test_a_passed_shell_without_label_names_at_least_two_groups(answers):
    outcome = eligibility(replace(answers, energy_label=None), P)
    assert set(outcome.poor_elements) <= set(SHELL_GROUPS)
    if shell_of(outcome).result == "pass":
        assert len(outcome.poor_elements) >= 2


# Executed measures against the ISDE minimums -------------------------------------------------


def problems(check) -> dict[str, str]:
    return dict(check.problems)


@pytest.mark.parametrize(("code", "min_m2", "min_rd"), INSULATION)
def test_each_insulation_measure_needs_its_minimum_area(code, min_m2, min_rd):
    ok = MeasureFacts(code=code, area_m2=D(min_m2), rd_value=D(min_rd))
    assert check_measure(ok, P).qualifies
    small = replace(ok, area_m2=D(min_m2) - D("0.5"))
    check = check_measure(small, P)
    assert not check.qualifies
    message = problems(check)["area_m2"]
    assert f"at least {min_m2} m²" in message
    assert f"{D(min_m2) - D('0.5')} m² was entered" in message


@pytest.mark.parametrize(("code", "min_m2", "min_rd"), INSULATION)
def test_each_insulation_measure_needs_its_minimum_rd(code, min_m2, min_rd):
    check = check_measure(MeasureFacts(code=code, area_m2=D("50"), rd_value=D("1.0")), P)
    assert list(problems(check)) == ["rd_value"]
    assert f"at least {min_rd} m²K/W; 1 was entered" in problems(check)["rd_value"]
    assert check_measure(MeasureFacts(code=code, area_m2=D("50"), rd_value=D(min_rd)), P).qualifies


def test_a_measure_without_area_or_rd_asks_for_them():
    check = check_measure(MeasureFacts(code="roof_insulation"), P)
    assert not check.qualifies
    assert problems(check) == {
        "area_m2": "Enter the area in m².",
        "rd_value": "Enter the Rd value of the insulation added.",
    }


@pytest.mark.parametrize(("code", "min_m2", "max_u", "max_frame"), GLAZING)
def test_glass_panels_and_doors_need_their_u_value(code, min_m2, max_u, max_frame):
    facts = MeasureFacts(
        code=code, area_m2=D("10"), u_value=D(max_u), frame_u_value=D("1.5") if max_frame else None
    )
    assert check_measure(facts, P).qualifies
    check = check_measure(replace(facts, u_value=D(max_u) + D("0.1")), P)
    assert list(problems(check)) == ["u_value"]
    assert f"at most {max_u} W/m²K; {D(max_u) + D('0.1')} was entered" in problems(check)["u_value"]
    missing = check_measure(replace(facts, u_value=None), P)
    assert problems(missing)["u_value"] == "Enter the U value of the glass, panel or door."


def test_triple_glass_needs_a_new_frame_with_a_low_u_value():
    facts = MeasureFacts(code="triple_glass", area_m2=D("10"), u_value=D("0.6"))
    check = check_measure(facts, P)
    assert problems(check) == {"frame_u_value": "Enter the U value of the new frame."}
    check = check_measure(replace(facts, frame_u_value=D("1.6")), P)
    assert "at most 1.5 W/m²K; 1.6 was entered" in problems(check)["frame_u_value"]
    assert check_measure(replace(facts, frame_u_value=D("1.5")), P).qualifies
    # HR++ glass has no frame requirement.
    hr = MeasureFacts(code="hr_glass", area_m2=D("10"), u_value=D("1.1"))
    assert check_measure(hr, P).qualifies


def test_the_glazing_minimum_is_on_the_applications_sum():
    alone = MeasureFacts(code="hr_glass", area_m2=D("5"), u_value=D("1.1"))
    check = check_measure(alone, P)
    assert "together must be at least 8 m²; this application has 5 m²" in problems(check)["area_m2"]
    assert check_measure(replace(alone, glazing_total_m2=D("9")), P).qualifies
    short = check_measure(replace(alone, glazing_total_m2=D("7.5")), P)
    assert "this application has 7.5 m²" in problems(short)["area_m2"]
    # A sum below this measure alone is a caller's slip: the measure itself still counts.
    assert check_measure(replace(alone, area_m2=D("9"), glazing_total_m2=D("2")), P).qualifies


def test_from_2026_three_square_metres_of_glass_are_enough():
    params_2026 = figures(
        "test-2026", **{f"measure__{code}__min_m2": D("3") for code in GLAZING_MEASURES}
    )
    facts = MeasureFacts(code="hr_glass", area_m2=D("4"), u_value=D("1.1"))
    assert not check_measure(facts, P).qualifies
    assert check_measure(facts, params_2026).qualifies


def test_a_small_home_may_stay_under_the_minimum_area_with_a_note():
    facts = MeasureFacts(
        code="roof_insulation", area_m2=D("12"), rd_value=D("3.5"), small_home_exception=True
    )
    check = check_measure(facts, P)
    assert check.qualifies
    assert check.notes == ("Smaller than the minimum of 20 m², allowed for a small home.",)
    # The exception is for the area only: a poor Rd value is still refused.
    assert not check_measure(replace(facts, rd_value=D("2")), P).qualifies


def test_ventilation_has_no_minimums_and_other_measures_are_not_the_nips():
    assert check_measure(MeasureFacts(code="balanced_ventilation"), P).qualifies
    check = check_measure(MeasureFacts(code="heat_pump", area_m2=D("100")), P)
    assert not check.qualifies
    assert list(problems(check)) == ["measure_type"]


def test_a_minimum_missing_from_the_parameters_is_noted_not_invented():
    params = figures("test-gap", measure__roof_insulation__min_rd=None)
    facts = MeasureFacts(code="roof_insulation", area_m2=D("30"), rd_value=D("0.5"))
    check = check_measure(facts, params)
    assert check.qualifies
    assert len(check.notes) == 1
    assert "test-gap" in check.notes[0]


def test_measure_messages_use_the_dutch_decimal_comma_in_dutch():
    facts = MeasureFacts(code="cavity_wall_insulation", area_m2=D("40"), rd_value=D("0.9"))
    with translation.override("nl"):
        message = problems(check_measure(facts, P))["rd_value"]
    assert "1,1" in message
    assert "0,9" in message


# The seeded parameter sets ------------------------------------------------------------------


def test_the_seeded_sets_give_the_first_tranches_money_and_then_say_it_is_missing(
    nip_parameters,
):
    params, _pk = parameters_on(dt.date(2023, 6, 1))
    outcome = eligibility(IN_SCOPE, params)
    assert outcome.parameter_version == "nip-2023"
    assert (outcome.nip_contribution_eur, outcome.max_spend_eur) == (D("1460"), D("4000"))
    assert "130 %" in criterion(outcome, "income_below_threshold").reason

    params, _pk = parameters_on(dt.date(2026, 3, 1))
    outcome = eligibility(IN_SCOPE, params)
    assert outcome.parameter_version == "nip-2026-1"
    assert outcome.group == "partial"
    assert outcome.nip_contribution_eur is None
    assert criterion(outcome, "nip_contribution").missing == ("parameters.amount_per_home_eur",)
    # The 2026 set lowers the glazing minimum to 3 m².
    glass = MeasureFacts(code="hr_glass", area_m2=D("4"), u_value=D("1.1"))
    assert check_measure(glass, params).qualifies
    assert not check_measure(glass, parameters_on(dt.date(2025, 6, 1))[0]).qualifies
