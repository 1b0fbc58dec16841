"""The dossier's writes: creation, saving a topic with its sources, optimistic locking."""

from __future__ import annotations

from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from dossier import services
from dossier.models import (
    BuildingComponent,
    ComponentKind,
    Dossier,
    DossierMeasure,
    DossierSection,
    MeasureType,
    Section,
    Source,
    ValueRecord,
)
from tests import builders

pytestmark = pytest.mark.django_db


def _version(dossier: Dossier, section: str) -> int:
    return DossierSection.objects.get(dossier=dossier, section=section).version


def test_it_seeds_every_nip_insulation_measure_and_the_other_kinds_in_the_catalogue():
    codes = set(MeasureType.objects.values_list("code", flat=True))
    assert {
        "roof_insulation",
        "attic_floor_insulation",
        "facade_insulation",
        "cavity_wall_insulation",
        "floor_insulation",
        "soil_insulation",
        "hr_glass",
        "triple_glass",
        "insulating_panels",
        "insulating_doors",
        "balanced_ventilation",
        "hybrid_heat_pump",
        "heat_pump",
        "solar_panels",
        "solar_boiler",
        "draught_proofing",
    } <= codes
    assert set(
        MeasureType.objects.filter(nip_eligible=True, category="insulation").values_list(
            "component", flat=True
        )
    ) == {"roof", "facade", "cavity_wall", "floor"}


def test_it_creates_a_dossier_with_every_topic_component_and_measure_prefilled_from_open_data(
    cast,
):
    dossier = cast.household_a.dossier
    assert set(dossier.sections.values_list("section", flat=True)) == set(Section.values)
    assert set(dossier.components.values_list("kind", flat=True)) == set(ComponentKind.values)
    assert dossier.measures.count() == MeasureType.objects.filter(is_active=True).count()
    assert dossier.build_year == cast.household_a.dwelling.build_year
    record = ValueRecord.objects.get(dossier=dossier, field="build_year")
    assert record.source == Source.OPEN_DATA
    assert record.value == str(cast.household_a.dwelling.build_year)
    # Calling it again returns the same dossier instead of a second one.
    assert services.dossier_create(household=cast.household_a) == dossier
    assert Dossier.objects.filter(household=cast.household_a).count() == 1


def test_it_stores_a_residents_answer_with_its_source_and_bumps_the_version(cast):
    dossier = cast.household_a.dossier
    section = services.section_save(
        dossier=dossier,
        section=Section.ENERGY,
        version=0,
        actor=cast.resident,
        values={"gas_m3_per_year": 1450, "thermostat_c": Decimal("19.5")},
    )
    dossier.refresh_from_db()
    assert (dossier.gas_m3_per_year, dossier.thermostat_c) == (1450, Decimal("19.5"))
    assert section.version == 1
    assert section.updated_by == cast.resident
    record = ValueRecord.objects.get(dossier=dossier, field="gas_m3_per_year")
    assert (record.source, record.value, record.recorded_by) == (
        Source.RESIDENT,
        "1450",
        cast.resident,
    )
    assert ValueRecord.objects.get(dossier=dossier, field="thermostat_c").value == "19.5"


def test_it_keeps_the_residents_answer_beside_the_coachs_when_they_differ(cast):
    dossier = cast.household_a.dossier
    services.section_save(
        dossier=dossier,
        section=Section.INSULATION,
        version=0,
        actor=cast.resident,
        components={"roof": {"insulation": "unknown"}},
    )
    services.section_save(
        dossier=dossier,
        section=Section.INSULATION,
        version=1,
        actor=cast.alice,
        components={"roof": {"insulation": "partial", "rc_value": Decimal("1.30")}},
    )
    rows = ValueRecord.objects.filter(dossier=dossier, field="roof.insulation")
    records = {r.source: r.value for r in rows}
    assert records == {Source.RESIDENT: "unknown", Source.COACH: "partial"}
    assert BuildingComponent.objects.get(dossier=dossier, kind="roof").insulation == "partial"


def test_it_records_a_coach_filling_in_with_the_resident_as_the_residents_answer(cast):
    dossier = cast.household_a.dossier
    services.section_save(
        dossier=dossier,
        section=Section.COMFORT,
        version=0,
        actor=cast.alice,
        values={"complaint_draught": "yes"},
        on_behalf_of_resident=True,
    )
    record = ValueRecord.objects.get(dossier=dossier, field="complaint_draught")
    assert (record.source, record.recorded_by) == (Source.RESIDENT, cast.alice)


def test_it_refuses_a_save_based_on_an_older_version_and_stores_nothing_of_it(cast):
    dossier = cast.household_a.dossier
    services.section_save(
        dossier=dossier,
        section=Section.ENERGY,
        version=0,
        actor=cast.alice,
        values={"occupants": 2},
    )
    with pytest.raises(services.SectionConflict) as conflict:
        services.section_save(
            dossier=dossier,
            section=Section.ENERGY,
            version=0,
            actor=cast.resident,
            values={"occupants": 4, "gas_m3_per_year": 900},
        )
    assert conflict.value.differences["occupants"] == (2, 4)
    dossier.refresh_from_db()
    assert (dossier.occupants, dossier.gas_m3_per_year) == (2, None)
    assert _version(dossier, Section.ENERGY) == 1
    assert not ValueRecord.objects.filter(dossier=dossier, field="gas_m3_per_year").exists()


def test_it_lets_two_topics_be_saved_from_two_tabs_without_a_conflict(cast):
    dossier = cast.household_a.dossier
    services.section_save(
        dossier=dossier,
        section=Section.ENERGY,
        version=0,
        actor=cast.alice,
        values={"occupants": 3},
    )
    services.section_save(
        dossier=dossier,
        section=Section.HOUSE,
        version=0,
        actor=cast.resident,
        values={"floor_area_m2": 120},
    )
    dossier.refresh_from_db()
    assert (dossier.occupants, dossier.floor_area_m2) == (3, 120)


def test_it_ignores_fields_of_another_topic_and_advice_sent_by_a_resident(cast):
    dossier = cast.household_a.dossier
    measure = dossier.measures.get(measure_type__code="floor_insulation")
    services.section_save(
        dossier=dossier,
        section=Section.ENERGY,
        version=0,
        actor=cast.resident,
        values={"occupants": 2, "build_year": 1800},
    )
    services.section_save(
        dossier=dossier,
        section=Section.MEASURES,
        version=0,
        actor=cast.resident,
        measures={measure.pk: {"status": "wanted_now", "advice_priority": "high"}},
    )
    dossier.refresh_from_db()
    measure.refresh_from_db()
    assert dossier.build_year == cast.household_a.dwelling.build_year
    assert (measure.status, measure.advice_priority) == ("wanted_now", "")


def test_it_keeps_notes_and_the_home_check_to_staff(cast):
    dossier = cast.household_a.dossier
    services.section_save(
        dossier=dossier,
        section=Section.HOUSE,
        version=0,
        actor=cast.resident,
        notes="resident writes here",
        checked_in_home=True,
    )
    row = DossierSection.objects.get(dossier=dossier, section=Section.HOUSE)
    assert (row.notes, row.checked_in_home, row.version) == ("", False, 0)
    services.section_save(
        dossier=dossier,
        section=Section.HOUSE,
        version=0,
        actor=cast.alice,
        notes="Kruipruimte is droog.",
        checked_in_home=True,
    )
    row.refresh_from_db()
    assert (row.notes, row.checked_in_home, row.version) == ("Kruipruimte is droog.", True, 1)


def test_it_clears_the_year_and_who_did_it_when_a_measure_is_no_longer_done(cast):
    dossier = cast.household_a.dossier
    measure = dossier.measures.get(measure_type__code="roof_insulation")
    services.section_save(
        dossier=dossier,
        section=Section.MEASURES,
        version=0,
        actor=cast.resident,
        measures={measure.pk: {"status": "done", "done_year": 2015, "done_by": "diy"}},
    )
    services.section_save(
        dossier=dossier,
        section=Section.MEASURES,
        version=1,
        actor=cast.resident,
        measures={measure.pk: {"status": "later"}},
    )
    measure.refresh_from_db()
    assert (measure.status, measure.done_year, measure.done_by) == ("later", None, "")


def test_it_refuses_an_invalid_value_and_stores_nothing(cast):
    dossier = cast.household_a.dossier
    with pytest.raises(ValidationError):
        services.section_save(
            dossier=dossier,
            section=Section.ENERGY,
            version=0,
            actor=cast.alice,
            values={"occupants": 2, "thermostat_c": Decimal("45")},
        )
    dossier.refresh_from_db()
    assert dossier.occupants is None
    assert _version(dossier, Section.ENERGY) == 0


def test_it_marks_a_value_checked_in_the_home(cast):
    dossier = cast.household_a.dossier
    record = services.value_check(dossier=dossier, key="build_year", actor=cast.alice)
    assert (record.source, record.checked_in_home, record.value) == (
        Source.COACH,
        True,
        str(dossier.build_year),
    )


def test_it_writes_every_change_to_the_audit_log_with_who_and_what(cast):
    dossier = cast.household_a.dossier
    from auditlog.context import set_actor

    with set_actor(cast.alice):
        services.section_save(
            dossier=dossier,
            section=Section.ENERGY,
            version=0,
            actor=cast.alice,
            values={"gas_m3_per_year": 1200},
        )
    entry = LogEntry.objects.get_for_object(dossier).latest("timestamp")
    assert entry.actor == cast.alice
    assert "gas_m3_per_year" in entry.changes_dict


def test_it_keeps_unknown_apart_from_not_answered_and_refuses_a_label_without_its_kind(cast):
    dossier = cast.household_a.dossier
    assert dossier.is_monument == ""
    services.section_save(
        dossier=dossier,
        section=Section.HOUSE,
        version=0,
        actor=cast.resident,
        values={"is_monument": "unknown"},
    )
    dossier.refresh_from_db()
    assert dossier.is_monument == "unknown"
    with pytest.raises(IntegrityError), transaction.atomic():
        Dossier.objects.filter(pk=dossier.pk).update(energy_label="C", energy_label_kind="")


def test_it_refuses_a_done_year_on_a_measure_that_is_not_done_in_the_database():
    household = builders.make_household(builders.make_organisation())
    measure = household.dossier.measures.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        DossierMeasure.objects.filter(pk=measure.pk).update(status="later", done_year=2010)
