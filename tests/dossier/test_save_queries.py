"""One autosave of a topic costs a fixed, small number of queries.

The coach's autosave is the request the product answers most often while coaches work
(bench/run.py coach-load measures it under load). These tests pin what it costs, so a
new query per save, per changed answer or per measure cannot slip in unnoticed, and
check that the save still stores what the slower path stored.
"""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dataplatform import consent
from dataplatform.models import Channel, Purpose, SharedHousehold
from dossier.models import DossierMeasure, DossierSection, Source, ValueRecord
from dossier.services import MEASURE_FIELDS, as_text
from tests import builders
from tests.clock import frozen_at
from tests.dataplatform.builders import make_consent_text
from tests.dossier.test_dossier_pages import form_data, reload, step, version

pytestmark = pytest.mark.django_db

# An htmx autosave by a coach of one topic, answered with the topic's form:
#  - the session, the user and the user's roles (middleware);
#  - the dossier with its household, the residents (access check, form); not the topic's
#    row: the posted form validates without it, and the save reads it under its lock;
#  - the save: a savepoint, the topic's row locked, the dossier read under that lock, the
#    old values auditlog compares with (dossier, topic), one audit entry and one UPDATE
#    each, one upsert of the sources of every changed answer, the savepoint released;
#  - the answer: the sources of the dossier's answers;
#  - the access log's look-up of this minute's entry (written by the first autosave).
# In the tests the request runs inside a savepoint of the test's transaction (2 more).
# Before the save path was trimmed (issue 19) the same request took 34, then 21.
SAVE_MAX_QUERIES = 20


def topic_data(household, section: str = "energy", **values: str) -> dict[str, str]:
    data = form_data(household, section, **values)
    data["mode"] = "visit"
    return data


def post(client, household, data: dict[str, str], section: str = "energy"):
    return client.post(
        step(household, section), data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET=f"form-{section}"
    )


def autosave(client, household, section: str = "energy", **values: str):
    return post(client, household, topic_data(household, section, **values), section)


def count_save(client, household, **values: str) -> int:
    data = topic_data(household, **values)
    with CaptureQueriesContext(connection) as queries:
        response = post(client, household, data)
    assert response.status_code == 200
    return len(queries)


def audit_entries(model, pk: int) -> int:
    from django.contrib.contenttypes.models import ContentType

    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(model),
        object_id=pk,
        action=LogEntry.Action.UPDATE,
    ).count()


def test_a_coachs_autosave_takes_a_bounded_number_of_queries(
    cast, login, django_assert_max_num_queries
):
    household = cast.household_a
    client = login(cast.alice)
    # One minute for both saves: the first writes the session's and the access log's
    # entries of the minute; the second is an ordinary autosave.
    with frozen_at(timezone.now()):
        assert autosave(client, household, electricity_kwh_per_year="3000").status_code == 200
        before = version(household, "energy")
        row = DossierSection.objects.get(dossier=household.dossier, section="energy")
        audited = audit_entries(DossierSection, row.pk)
        data = topic_data(household, electricity_kwh_per_year="3100")

        with django_assert_max_num_queries(SAVE_MAX_QUERIES):
            response = post(client, household, data)

    assert response.status_code == 200
    # Everything the save promised is stored: the value, the next version (also in the
    # answer the next autosave starts from), the coach as its source, the audit entry.
    assert reload(household).electricity_kwh_per_year == 3100
    assert version(household, "energy") == before + 1
    assert f'name="s-energy-version" value="{before + 1}"' in response.text
    record = ValueRecord.objects.get(
        dossier=household.dossier, field="electricity_kwh_per_year", source=Source.COACH
    )
    assert (record.value, record.recorded_by) == ("3100", cast.alice)
    assert audit_entries(DossierSection, row.pk) == audited + 1


def test_more_changed_answers_cost_no_more_queries(cast, login):
    household = cast.household_a
    client = login(cast.alice)
    with frozen_at(timezone.now()):
        autosave(client, household, occupants="2")
        one = count_save(client, household, occupants="3")
        four = count_save(
            client,
            household,
            occupants="4",
            gas_m3_per_year="1400",
            electricity_kwh_per_year="2600",
            thermostat_c="19,5",
        )
    assert four == one
    dossier = reload(household)
    assert (dossier.occupants, dossier.gas_m3_per_year, dossier.electricity_kwh_per_year) == (
        4,
        1400,
        2600,
    )
    stored = dict(
        ValueRecord.objects.filter(dossier=household.dossier, source=Source.COACH).values_list(
            "field", "value"
        )
    )
    assert {k: stored[k] for k in ("occupants", "gas_m3_per_year", "thermostat_c")} == {
        "occupants": "4",
        "gas_m3_per_year": "1400",
        "thermostat_c": "19.5",
    }


def test_the_answer_shows_the_stored_values_and_their_new_source(cast, login):
    household = cast.household_a
    client = login(cast.alice)
    response = autosave(client, household, thermostat_c="19,5")
    assert response.status_code == 200
    # The form comes back with the stored value and, below it, the coach's source, which
    # this save wrote.
    assert 'value="19,5"' in response.text
    assert "wd-provenance__item--coach" in response.text


def measures_data(household) -> dict[str, str]:
    """What a coach's measures topic posts: every measure's fields as stored."""
    data = {"s-measures-version": str(version(household, "measures"))}
    for measure in DossierMeasure.objects.filter(dossier=household.dossier):
        for name in MEASURE_FIELDS:
            data[f"m-{measure.pk}-{name}"] = as_text(getattr(measure, name))
    return data


@pytest.fixture
def consenting(cast):
    """Household A with aggregates consent and one measure: it has a shared row."""
    for purpose in Purpose.values:
        make_consent_text(purpose)
    household = cast.household_a
    measure_type = builders.make_measure_type(code="spouw", name="Spouwmuur", category="small")
    measure = DossierMeasure.objects.create(dossier=household.dossier, measure_type=measure_type)
    consent.consent_give(
        household=household, purpose=Purpose.AGGREGATES, channel=Channel.ONLINE, actor=cast.resident
    )
    assert SharedHousehold.objects.filter(household=household).exists()
    return household, measure


def save_measures(client, household, **fields: str):
    data = measures_data(household)
    data.update(fields)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(step(household, "measures"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_a_measure_saved_without_a_new_status_leaves_the_shared_row_alone(cast, login, consenting):
    household, measure = consenting
    client = login(cast.alice)
    queries = save_measures(client, household, **{f"m-{measure.pk}-quote_company": "Isolatie BV"})
    measure.refresh_from_db()
    assert measure.quote_company == "Isolatie BV"
    # The data platform's row counts only the status: nothing to count again.
    assert not [sql for sql in queries if "dataplatform_" in sql]
    assert audit_entries(DossierMeasure, measure.pk) == 1


def test_a_measure_with_a_new_status_is_counted_in_the_shared_row(cast, login, consenting):
    household, measure = consenting
    client = login(cast.alice)
    save_measures(
        client,
        household,
        **{
            f"m-{measure.pk}-status": "done",
            f"m-{measure.pk}-done_year": "2021",
            f"m-{measure.pk}-done_by": "diy",
        },
    )
    shared = SharedHousehold.objects.get(household=household)
    assert shared.measures_done == 1 << measure.measure_type_id != 0
    measure.refresh_from_db()
    assert (measure.status, measure.done_year, measure.done_by) == ("done", 2021, "diy")
    # Back to no status: the year and who did it go, and the row follows.
    save_measures(client, household, **{f"m-{measure.pk}-status": ""})
    measure.refresh_from_db()
    assert (measure.status, measure.done_year, measure.done_by) == ("", None, "")
    assert SharedHousehold.objects.get(household=household).measures_done == 0
