"""Intake, decisions and money: the budget and the per-home maximum always hold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from dossier.models import BuildingComponent, Dossier, MeasureType
from nip import services
from nip.models import Application, Commitment, ExecutedMeasure, ParameterSet
from tests import builders
from tests.nip.builders import make_application

DAY = dt.date(2024, 3, 1)
NOW = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)


def _intake(nip, **answers) -> Application:
    answers = {
        "owner_occupied": True,
        "energy_label": "E",
        "woz_below_limit": True,
        "income_below_threshold": True,
        **answers,
    }
    return services.application_open(
        programme=nip.programme,
        dwelling=builders.make_dwelling(),
        channel="municipality",
        by=None,
        answers=answers,
        today=DAY,
    )


def _approve(application, amounts, by):
    application.refresh_from_db()
    return services.application_approve(
        application=application,
        amounts={k: Decimal(v) for k, v in amounts.items()},
        by=by,
        version=application.version,
        now=NOW,
    )


def test_intake_is_checked_at_once_and_keeps_the_parameter_version(nip):
    application = _intake(nip)
    application.refresh_from_db()
    assert application.group == "focus"
    assert application.eligibility["eligible"] is True
    assert application.parameter_set.version == "nip-2024-1"


def test_an_intake_from_the_dossier_takes_what_the_dossier_knows(cast, nip):
    dossier = Dossier.objects.get(household=cast.household_a)
    dossier.ownership = "owner"
    dossier.build_year = 2005
    dossier.save()
    for kind, insulation in (("floor", "none"), ("cavity_wall", "partial"), ("roof", "good")):
        BuildingComponent.objects.update_or_create(
            dossier=dossier, kind=kind, defaults={"insulation": insulation}
        )
    application = services.application_open_from_household(
        programme=nip.programme, household=cast.household_a, channel="coach", by=cast.alice
    )
    application.refresh_from_db()
    assert application.owner_occupied is True
    assert (application.shell_floor, application.shell_facade, application.shell_roof) == (
        "poor",
        "poor",
        "insulated",
    )
    # Built in 2005, yet two groups are known to be poor: the equivalent state holds.
    shell = next(c for c in application.eligibility["criteria"] if c["code"] == "poorly_insulated")
    assert shell["result"] == "pass"
    # Money questions are never guessed from the dossier.
    assert application.woz_below_limit is None
    assert application.group == "out_of_scope"


def test_a_second_intake_for_the_same_home_is_refused(nip):
    first = _intake(nip)
    with pytest.raises(ValidationError) as refused:
        services.application_open(
            programme=nip.programme,
            dwelling=first.dwelling,
            channel="municipality",
            by=None,
            answers={},
        )
    assert refused.value.code == "duplicate"
    assert Application.objects.filter(dwelling=first.dwelling).count() == 1


def test_a_home_in_another_municipality_is_refused(nip):
    with pytest.raises(ValidationError) as refused:
        services.application_open(
            programme=nip.programme,
            dwelling=builders.make_dwelling(municipality_code="GM1904"),
            channel="municipality",
            by=None,
            answers={},
        )
    assert refused.value.code == "area"
    assert not Application.objects.exists()


def test_approval_commits_money_and_locks_the_parameters(cast, nip):
    application = _approve(
        _intake(nip), {"nip": "1460", "energy_poverty": "890"}, cast.municipality_staff
    )
    assert application.status == "approved"
    assert application.amount_granted_eur == Decimal("2350.00")
    assert set(application.commitments.values_list("source", "amount_eur")) == {
        ("nip", Decimal("1460.00")),
        ("energy_poverty", Decimal("890.00")),
    }
    assert ParameterSet.objects.get(version="nip-2024-1").locked is True


@pytest.mark.parametrize(
    ("now", "version"),
    [
        # 23:30 on 1 March in Amsterdam: the parameters of 1 March.
        (dt.datetime(2024, 3, 1, 22, 30, tzinfo=dt.UTC), "nip-2024-1"),
        # 00:30 on 2 March in Amsterdam, still 1 March in UTC: those of 2 March.
        (dt.datetime(2024, 3, 1, 23, 30, tzinfo=dt.UTC), "nip-2024-03-02"),
    ],
)
def test_a_decision_uses_the_parameters_of_that_day_in_the_netherlands(cast, nip, now, version):
    application = _intake(nip)
    newer = services.parameter_set_copy(
        parameter_set=ParameterSet.objects.get(version="nip-2024-1")
    )
    ParameterSet.objects.filter(pk=newer.pk).update(
        valid_from=dt.date(2024, 3, 2), version="nip-2024-03-02"
    )
    application.refresh_from_db()
    approved = services.application_approve(
        application=application,
        amounts={"nip": Decimal("1460")},
        by=cast.municipality_staff,
        version=application.version,
        now=now,
    )
    assert approved.parameter_set.version == version


def test_more_than_the_maximum_per_home_is_refused_and_changes_nothing(cast, nip):
    application = _intake(nip)
    with pytest.raises(ValidationError) as refused:
        _approve(application, {"nip": "1460", "energy_poverty": "2600"}, cast.municipality_staff)
    assert refused.value.code == "per_home_max"
    application.refresh_from_db()
    assert application.status == "intake"
    assert not Commitment.objects.exists()


def test_debt_relief_lifts_the_maximum_per_home(cast, nip):
    application = _intake(nip, debt_relief=True)
    approved = _approve(
        application, {"nip": "1460", "energy_poverty": "6000"}, cast.municipality_staff
    )
    assert approved.amount_granted_eur == Decimal("7460.00")


def test_a_source_cannot_commit_more_than_its_budget(cast, nip):
    # Energy poverty has € 80,000; 22 homes × € 3,600 = € 79,200 leaves € 800.
    for _ in range(22):
        make_application(nip.programme, commitments={"energy_poverty": "3600"})
    application = _intake(nip)
    with pytest.raises(ValidationError) as refused:
        _approve(application, {"nip": "1460", "energy_poverty": "890"}, cast.municipality_staff)
    assert "energy_poverty" in refused.value.message_dict
    assert "800,00" in refused.value.message_dict["energy_poverty"][0]
    assert not application.commitments.exists()
    approved = _approve(
        application, {"nip": "1460", "energy_poverty": "800"}, cast.municipality_staff
    )
    assert approved.status == "approved"
    total = Commitment.objects.filter(source="energy_poverty").aggregate(t=Sum("amount_eur"))["t"]
    assert total == Decimal("80000.00")


def test_withdrawing_gives_the_money_back(cast, nip):
    application = _approve(_intake(nip), {"nip": "1460"}, cast.municipality_staff)
    assert services.budget_room(nip.programme)["nip"].committed == Decimal("1460.00")
    services.application_withdraw(application=application, version=application.version)
    assert services.budget_room(nip.programme)["nip"].committed == Decimal("0")


def test_an_out_of_scope_home_is_not_granted(cast, nip):
    application = _intake(nip, owner_occupied=False)
    with pytest.raises(ValidationError) as refused:
        _approve(application, {"nip": "1460"}, cast.municipality_staff)
    assert refused.value.code == "not_eligible"


def test_homes_above_the_woz_limit_fit_only_within_the_80_percent_rule(cast, nip):
    # 187 homes: at most 37 above the limit (20 %).
    for _ in range(37):
        make_application(nip.programme, woz_below_limit=False, commitments={"cdoke": "10"})
    application = _intake(nip, woz_below_limit=False)
    with pytest.raises(ValidationError) as refused:
        _approve(application, {"energy_poverty": "2350"}, cast.municipality_staff)
    assert refused.value.code == "woz_share"
    nip.programme.target_homes = 200
    nip.programme.save()
    assert _approve(application, {"energy_poverty": "2350"}, cast.municipality_staff).status == (
        "approved"
    )


def test_a_form_opened_before_someone_else_saved_is_refused(cast, nip):
    application = _intake(nip)
    opened_version = application.version
    services.application_answers_save(
        application=application, answers={"debt_relief": True}, version=opened_version
    )
    with pytest.raises(services.StaleApplication):
        services.application_approve(
            application=application,
            amounts={"nip": Decimal("1460")},
            by=cast.municipality_staff,
            version=opened_version,
        )
    assert not Commitment.objects.exists()


def test_payments_never_exceed_the_commitment(cast, nip):
    application = _approve(_intake(nip), {"nip": "1460"}, cast.municipality_staff)
    services.payment_record(
        application=application, source="nip", amount=Decimal("1000"), version=application.version
    )
    application.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        services.payment_record(
            application=application,
            source="nip",
            amount=Decimal("500"),
            version=application.version,
        )
    assert "460,00" in refused.value.message_dict["amount"][0]
    assert Commitment.objects.get().spent_eur == Decimal("1000.00")


def test_a_measure_below_the_isde_minimum_is_refused_with_the_reason(cast, nip):
    application = _approve(_intake(nip), {"nip": "1460"}, cast.municipality_staff)
    application.species_check = "not_needed"
    application.save()
    application.refresh_from_db()
    facts = {
        "area_m2": Decimal("60"),
        "rd_value": Decimal("0.9"),
        "executed_on": dt.date(2024, 5, 1),
        "done_by": "third_party",
        "cost_eur": Decimal("2350"),
    }
    cavity = MeasureType.objects.get(code="cavity_wall_insulation")
    with pytest.raises(ValidationError) as refused:
        services.measure_record(
            application=application,
            measure_type=cavity,
            facts=facts,
            by=cast.municipality_staff,
            version=application.version,
        )
    assert "1,1" in refused.value.message_dict["rd_value"][0]
    assert not ExecutedMeasure.objects.exists()
    measure, check = services.measure_record(
        application=application,
        measure_type=cavity,
        facts={**facts, "rd_value": Decimal("1.3")},
        by=cast.municipality_staff,
        version=application.version,
    )
    assert check.qualifies and measure.area_m2 == Decimal("60")


def test_a_cavity_wall_needs_the_nature_inclusive_check_first(cast, nip):
    application = _approve(_intake(nip), {"nip": "1460"}, cast.municipality_staff)
    with pytest.raises(ValidationError) as refused:
        services.measure_record(
            application=application,
            measure_type=MeasureType.objects.get(code="cavity_wall_insulation"),
            facts={
                "area_m2": Decimal("60"),
                "rd_value": Decimal("1.3"),
                "executed_on": dt.date(2024, 5, 1),
                "done_by": "diy",
                "cost_eur": Decimal("900"),
            },
            by=cast.municipality_staff,
            version=application.version,
        )
    assert refused.value.code == "species"
    assert not ExecutedMeasure.objects.exists()
