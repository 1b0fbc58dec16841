"""Every stored field is classified, and the register downloads for those who answer for it."""

from __future__ import annotations

import csv
import io

import pytest
from django.apps import apps
from django.urls import reverse

from accounts.models import Organisation
from privacy.register import REGISTER, DataClass, Entry, register_rows, stored_fields


def test_every_field_of_every_installed_model_is_classified():
    missing = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in stored_fields(model)
        if field.name not in REGISTER.get(model._meta.label, Entry("", "")).classes()
    ]
    assert missing == []


def test_the_register_names_no_model_or_field_that_is_gone():
    stale = []
    for label, entry in REGISTER.items():
        try:
            model = apps.get_model(label)
        except LookupError:
            stale.append(label)
            continue
        names = {field.name for field in stored_fields(model)}
        stale += [f"{label}.{name}" for name in entry.classes() if name not in names]
    assert stale == []


def test_a_field_is_classified_once():
    with pytest.raises(ValueError, match="twice"):
        Entry("", "", personal="name", operational="name").classes()


@pytest.mark.parametrize(
    "field",
    [
        "accounts.User.email",
        "accounts.User.first_name",
        "accounts.User.phone",
        "dossier.Household.name",
        "dossier.Dwelling.street",
        "dossier.Dwelling.house_number",
        "dossier.Message.body",
        "dossier.DossierSection.notes",
        "crm.Case.contact_email",
        "crm.Case.contact_phone",
        "auditlog.LogEntry.actor_email",
        "nip.Application.income_below_threshold",
    ],
)
def test_what_names_or_reaches_a_person_is_personal(field):
    label, name = field.rsplit(".", 1)
    assert REGISTER[label].classes()[name] in (DataClass.PERSONAL, DataClass.SPECIAL)


def test_the_rows_hold_every_stored_field_once():
    rows = list(register_rows())
    keys = [(row.model, row.field) for row in rows]
    total = sum(len(stored_fields(model)) for model in apps.get_models())
    assert len(keys) == len(set(keys)) == total


def test_an_unclassified_field_stops_the_register(monkeypatch):
    entry = REGISTER["crm.Task"]
    without = Entry(
        entry.activity,
        entry.retention,
        entry.personal.replace("title", ""),
        operational=entry.operational,
    )
    monkeypatch.setitem(REGISTER, "crm.Task", without)
    with pytest.raises(LookupError, match=r"crm\.Task\.title"):
        list(register_rows())


# --- the download -----------------------------------------------------------------------


def download(client):
    return client.get(reverse("privacy:register-csv"))


def read(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["coordinator", "coordinator_b", "municipality_staff", "admin"])
def test_coordinators_municipality_staff_and_the_administrator_download_it(cast, login, who):
    response = download(login(getattr(cast, who)))

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="verwerkingsregister.csv"'
    table = read(response)
    assert table[0][:3] == ["Tabel", "Opgeslagen in", "Veld"]
    email = next(row for row in table if row[1:3] == ["accounts.User", "email"])
    assert email[4] == "persoonsgegevens"
    assert len(table) - 1 == len(list(register_rows()))


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["resident", "alice", "province_analyst"])
def test_residents_coaches_and_analysts_are_refused(cast, login, who):
    assert download(login(getattr(cast, who))).status_code == 403


@pytest.mark.django_db
def test_anonymous_is_sent_to_the_login(client):
    response = download(client)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- what repeats a special answer is special too ----------------------------------------

# Derived from the income and debt answers: the group (the focus group is the income
# answer), the stored eligibility check (its reasons repeat the answers), the amount granted
# and its commitments (full unburdening for the focus group, no maximum under debt
# counselling), and the RVO monitoring file (a row per application with its debt answer).
DERIVED_SPECIAL = [
    "nip.Application.group",
    "nip.Application.eligibility",
    "nip.Application.amount_granted_eur",
    "nip.Commitment.amount_eur",
    "nip.Commitment.spent_eur",
    "nip.MonitoringExport.file",
]


@pytest.mark.parametrize(
    "field", ["nip.Application.income_below_threshold", "nip.Application.debt_relief"]
)
def test_the_income_and_debt_answers_are_special(field):
    label, name = field.rsplit(".", 1)
    assert REGISTER[label].classes()[name] == DataClass.SPECIAL


@pytest.mark.parametrize("field", DERIVED_SPECIAL)
def test_what_is_derived_from_the_income_or_debt_answer_is_special(field):
    label, name = field.rsplit(".", 1)
    assert REGISTER[label].classes()[name] == DataClass.SPECIAL


# Bookkeeping that changes with any save, whatever was answered.
BOOKKEEPING = {"version", "updated_at"}


@pytest.mark.django_db
@pytest.mark.parametrize("answer", ["income_below_threshold", "debt_relief"])
def test_every_field_the_check_stores_from_a_special_answer_is_special(answer):
    """Change only one special answer and evaluate: whatever else changes repeats it."""
    from demo.nip_plan import programme_from_plan
    from nip import services
    from nip.models import Application
    from tests import builders
    from tests.nip.builders import make_application

    municipality = builders.make_organisation(
        Organisation.Kind.MUNICIPALITY, name="Gemeente R", slug="gemeente-r"
    )
    application = make_application(programme_from_plan(municipality), group="")
    stored = [f for f in stored_fields(Application) if not f.many_to_many]

    def evaluate(value: bool) -> dict[str, object]:
        fresh = Application.objects.get(pk=application.pk)
        services.application_answers_save(
            application=fresh, answers={answer: value}, version=fresh.version
        )
        fresh = Application.objects.get(pk=application.pk)
        return {f.name: f.value_from_object(fresh) for f in stored}

    low, high = evaluate(True), evaluate(False)
    changed = {name for name in low if low[name] != high[name]} - BOOKKEEPING - {answer}

    classes = REGISTER["nip.Application"].classes()
    assert changed, "the answer changed nothing: the test no longer shows the derivation"
    assert {name: classes[name] for name in changed} == dict.fromkeys(changed, DataClass.SPECIAL)


@pytest.mark.django_db
def test_the_audit_log_keeps_no_trace_of_the_group_changing():
    """A masked change of the group would still say the income answer changed."""
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from demo.nip_plan import programme_from_plan
    from nip import services
    from nip.models import Application
    from tests import builders
    from tests.nip.builders import make_application

    municipality = builders.make_organisation(
        Organisation.Kind.MUNICIPALITY, name="Gemeente S", slug="gemeente-s"
    )
    application = make_application(programme_from_plan(municipality), group="")
    for value in (True, False):
        fresh = Application.objects.get(pk=application.pk)
        services.application_answers_save(
            application=fresh, answers={"income_below_threshold": value}, version=fresh.version
        )

    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Application), object_id=application.pk
    )
    assert Application.objects.get(pk=application.pk).group == "partial"
    changed = {name for entry in entries for name in (entry.changes or {})}
    assert not changed & {"group", "eligibility", "income_below_threshold"}
