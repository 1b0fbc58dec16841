"""SharedHousehold follows the dossier, the dwelling and the consent through the real paths.

After each change the row must be what a full recount says (`shared_households_check`
finds nothing to put right), and the aggregates read it.
"""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dataplatform import consent, publication, tasks
from dataplatform.aggregation import level_counts
from dataplatform.models import Channel, Level, Purpose, SharedHousehold
from dataplatform.shared import (
    MASK_LAST_ID,
    measures_mask,
    shared_households_check,
    shared_households_refresh,
)
from dossier.models import Dossier, DossierMeasure, Dwelling, MeasureType
from tests import builders
from tests.dataplatform.builders import give_consent, make_consent_text
from tests.dossier.test_dossier_pages import form_data, step, version


@pytest.fixture
def texts(db):
    for purpose in Purpose.values:
        make_consent_text(purpose)


def row(household) -> SharedHousehold | None:
    return SharedHousehold.objects.filter(household=household).first()


def consent_online(household, user):
    return consent.consent_give(
        household=household, purpose=Purpose.AGGREGATES, channel=Channel.ONLINE, actor=user
    )


def in_step(expected_rows: int) -> None:
    """The table holds `expected_rows` rows and a full recount changes none of them."""
    assert SharedHousehold.objects.count() == expected_rows
    assert shared_households_check() == 0


def test_consent_online_adds_the_household_and_withdrawing_removes_it(cast, texts):
    household = cast.household_a
    assert row(household) is None

    consent_online(household, cast.resident)

    shared = row(household)
    dwelling = household.dwelling
    assert (shared.initiative_id, shared.postcode, shared.municipality_code) == (
        household.initiative_id,
        dwelling.postcode,
        dwelling.municipality_code,
    )
    in_step(1)
    scope = {"initiative_ids": [household.initiative_id], "municipality_codes": ["GM0310"]}
    assert level_counts(Level.MUNICIPALITY, **scope).households == 1

    consent.consent_withdraw(
        household=household,
        purpose=Purpose.AGGREGATES,
        channel=Channel.ONLINE,
        actor=cast.resident,
    )

    assert row(household) is None
    in_step(0)
    assert level_counts(Level.MUNICIPALITY, **scope).households == 0


def test_another_purpose_does_not_add_the_household(cast, texts):
    consent.consent_give(
        household=cast.household_a,
        purpose=Purpose.RESEARCH,
        channel=Channel.ONLINE,
        actor=cast.resident,
    )
    in_step(0)


def test_the_dossier_pages_keep_the_row_in_step(cast, login, texts):
    household = cast.household_a
    consent_online(household, cast.resident)
    client = login(cast.resident)

    client.post(
        step(household),
        form_data(
            household,
            energy_label_kind="registered",
            energy_label="C",
            build_year="1931",
            dwelling_type="corner",
        ),
    )

    shared = row(household)
    assert (shared.energy_label, shared.build_year, shared.dwelling_type) == ("C", 1931, "corner")
    in_step(1)

    measure_type = builders.make_measure_type(
        code="dak-test", name="Dakisolatie", category="insulation", component="roof"
    )
    measure = DossierMeasure.objects.create(dossier=household.dossier, measure_type=measure_type)
    client.post(
        step(household, "measures"),
        {
            "s-measures-version": str(version(household, "measures")),
            f"m-{measure.pk}-status": "done",
            f"m-{measure.pk}-done_year": "2020",
            f"m-{measure.pk}-done_by": "diy",
        },
    )

    measure.refresh_from_db()
    assert measure.status == "done"
    assert row(household).measures_done == measures_mask([measure_type.pk]) != 0
    in_step(1)


def test_model_changes_keep_the_row_in_step(cast, texts):
    household = cast.household_a
    consent_online(household, cast.resident)
    dossier = Dossier.objects.get(household=household)
    types = list(MeasureType.objects.order_by("pk")[:2])

    measure = DossierMeasure.objects.get(dossier=dossier, measure_type=types[0])
    measure.status = "wanted_now"
    measure.save(update_fields=["status"])
    assert row(household).measures_wanted == measures_mask([types[0].pk])

    measure.delete()
    assert row(household).measures_wanted == 0
    in_step(1)

    dwelling = Dwelling.objects.get(pk=household.dwelling_id)
    dwelling.postcode = "3732AA"
    dwelling.neighbourhood_code = "BU03100002"
    dwelling.district_code = "WK031000"
    dwelling.save()
    shared = row(household)
    assert (shared.postcode, shared.neighbourhood_code) == ("3732AA", "BU03100002")
    in_step(1)

    household.initiative = cast.initiative_b
    household.save()
    assert row(household).initiative_id == cast.initiative_b.pk
    in_step(1)

    dossier.delete()
    assert row(household) is None
    in_step(0)


def test_a_household_deleted_takes_its_row_with_it(cast, texts):
    household = builders.make_household(cast.initiative_a)
    give_consent(household, Purpose.AGGREGATES, channel=Channel.PAPER, by=cast.coordinator)
    assert row(household) is not None

    Dossier.objects.filter(household=household).delete()
    household.delete()

    in_step(0)


def test_a_save_that_leaves_the_characteristics_alone_does_not_read_the_table(cast, texts):
    dwelling = Dwelling.objects.get(pk=cast.household_a.dwelling_id)
    dwelling.street = "Andere straat"
    with CaptureQueriesContext(connection) as captured:
        dwelling.save(update_fields=["street"])
    tables = " ".join(query["sql"] for query in captured.captured_queries)
    # The UPDATE, and the audit log's entry; no look-up of households or their rows.
    assert "dossier_dwelling" in tables
    assert "dataplatform_sharedhousehold" not in tables
    assert "dossier_household" not in tables


def test_the_nightly_check_puts_right_what_a_bulk_update_changed(cast, texts, caplog):
    household = cast.household_a
    consent_online(household, cast.resident)
    # A queryset update sends no signal: the row is now out of step.
    Dossier.objects.filter(household=household).update(
        energy_label="A", energy_label_kind="registered"
    )
    assert row(household).energy_label != "A"

    with caplog.at_level(logging.WARNING, logger="dataplatform.shared"):
        assert shared_households_check() == 1

    assert row(household).energy_label == "A"
    assert "1 household rows" in caplog.text
    assert household.name not in caplog.text
    in_step(1)


def test_refresh_of_households_without_consent_writes_nothing(cast, texts):
    assert shared_households_refresh([cast.household_a.pk, cast.household_b.pk]) == 0
    in_step(0)


def test_the_table_holds_house_characteristics_only():
    names = {field.name for field in SharedHousehold._meta.get_fields()}
    assert names == {
        "household",
        "initiative",
        "municipality_code",
        "postcode",
        "neighbourhood_code",
        "district_code",
        "energy_label",
        "dwelling_type",
        "build_year",
        "measures_done",
        "measures_wanted",
    }


def test_a_measure_type_beyond_the_mask_is_left_out():
    assert measures_mask([1, 3, MASK_LAST_ID]) == (1 << 1) | (1 << 3) | (1 << MASK_LAST_ID)
    assert measures_mask([MASK_LAST_ID + 1]) == 0
    assert measures_mask([1, 1 << 3]) < 2**63


def test_a_measure_type_beyond_the_mask_is_warned_of(cast, texts, caplog):
    consent_online(cast.household_a, cast.resident)
    beyond = MeasureType.objects.create(
        pk=MASK_LAST_ID + 5, code="ver-weg", name="Ver weg", category="small"
    )
    scope = {"initiative_ids": [cast.initiative_a.pk], "municipality_codes": ["GM0310"]}

    with caplog.at_level(logging.WARNING, logger="dataplatform.aggregation"):
        raw = level_counts(Level.MUNICIPALITY, **scope)

    assert str(beyond.pk) in caplog.text
    assert not any("ver-weg" in measure for measure in raw.detailed["GM0310"])


def test_the_daily_publication_job_puts_rows_right_before_it_publishes(cast, texts, monkeypatch):
    household = cast.household_a
    consent_online(household, cast.resident)
    Dossier.objects.filter(household=household).update(
        energy_label="A", energy_label_kind="registered"
    )
    seen: list[str] = []
    monkeypatch.setattr(
        publication, "publications_make", lambda: seen.append(row(household).energy_label)
    )

    tasks.publications_make.delay()

    assert seen == ["A"]
