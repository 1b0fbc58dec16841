"""The resident's own data: every personal value of theirs in a JSON file and a readable PDF."""

from __future__ import annotations

import io
import json

import pytest
from auditlog.models import LogEntry
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext
from pypdf import PdfReader

from dossier.models import Household
from privacy import export
from privacy.register import REGISTER, DataClass
from tests.privacy.test_erasure import (
    EMAIL,
    FIRST,
    LAST,
    MESSAGE_COACH,
    MESSAGE_RESIDENT,
    NOTE,
    PHONE,
    POSTCODE,
    SECRETS,
    STREET,
    fill_household,
)

pytestmark = pytest.mark.django_db

# What the JSON file holds as text: the secrets that are stored as text (the document's
# content is a file; its name is random) and the parts of the address as stored.
IN_JSON = set(SECRETS) - {"Inhoud-Porseleinhoen-31", "Besluit-Merel-07", "3584 QX"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def filled(cast, django_capture_on_commit_callbacks):
    return fill_household(cast, django_capture_on_commit_callbacks)


def related_rows(household: Household, user) -> list[models.Model]:
    """Every row that points at the household or the user, and the rows below those."""
    found: dict[tuple[str, object], models.Model] = {}
    queue: list[models.Model] = [household, user]
    found[("dossier.Dwelling", household.dwelling_id)] = household.dwelling
    while queue:
        obj = queue.pop()
        found[(obj._meta.label, obj.pk)] = obj
        for relation in obj._meta.get_fields(include_hidden=True):
            if relation.concrete or not relation.auto_created or relation.many_to_many:
                continue
            if relation.related_model._meta.auto_created:  # a many-to-many table
                continue
            rows = relation.related_model._base_manager.filter(**{relation.field.name: obj})
            for row in rows:
                if (row._meta.label, row.pk) not in found:
                    found[(row._meta.label, row.pk)] = row
                    queue.append(row)
    return list(found.values())


def personal_values(obj: models.Model) -> dict[str, object]:
    classes = REGISTER[obj._meta.label].classes()
    withheld = export.WITHHELD.get(obj._meta.label, {})
    values = {}
    for name, data_class in classes.items():
        if data_class not in (DataClass.PERSONAL, DataClass.SPECIAL) or name in withheld:
            continue
        field = obj._meta.get_field(name)
        value = getattr(obj, name)
        if field.many_to_many:
            value = list(value.all())
        if value not in (None, "", [], {}) and not (hasattr(value, "name") and not value):
            values[name] = value
    return values


def download(client, name: str):
    response = client.get(reverse(f"privacy:{name}"))
    assert response.status_code == 200
    return response


def test_every_personal_value_of_every_related_row_is_in_the_json(filled):
    data = json.loads(download(filled.resident_client, "my-data-json").content)

    parts = {label: key for key, label in export.ACCOUNT_PARTS.items()}
    parts |= {label: key for key, label in export.HOUSEHOLD_PARTS.items()}
    (household,) = data["households"]
    checked = set()
    for row in related_rows(filled.household, filled.resident):
        label = row._meta.label
        if label in export.WITHHELD_MODELS:
            continue
        assert label in parts, f"{label} is related to the household but not in the export"
        key = parts[label]
        records = data["account"][key] if key in export.ACCOUNT_PARTS else household[key]
        (record,) = [r for r in records if r["id"] == row.pk]
        for name in personal_values(row):
            assert record.get(name) not in (None, "", []), f"{label}.{name} is missing"
            checked.add(f"{label}.{name}")
    # The walk reached the tables that matter most.
    assert {
        "accounts.User.email",
        "dossier.Household.name",
        "dossier.Dwelling.street",
        "dossier.Dossier.wishes",
        "dossier.DossierSection.notes",
        "dossier.Message.body",
        "dossier.Document.title",
        "dossier.Photo.caption",
        "dossier.AdviceReport.summary",
        "crm.Case.contact_email",
        "crm.CaseEvent.text",
        "crm.Task.title",
        "dataplatform.ConsentRecord.household",
        "usersessions.UserSession.ip",
    } <= checked


def test_the_json_holds_the_distinctive_values_and_the_consent_texts(filled):
    response = download(filled.resident_client, "my-data-json")
    text = response.content.decode()
    assert [secret for secret in IN_JSON if secret not in text] == []
    data = json.loads(text)
    (household,) = data["households"]
    assert {c["purpose"] for c in household["consents"]} == {"aggregates", "processing"}
    assert all(c["text_content"] and c["text_version"] for c in household["consents"])
    (report,) = household["reports"]
    assert report["download"].endswith(
        reverse("dossier:report-file", args=[filled.dossier.pk, report["id"]])
    )
    assert {m["body"] for m in household["messages"]} == {MESSAGE_RESIDENT, MESSAGE_COACH}


def test_the_json_lists_with_whom_the_figures_were_shared(filled, cast):
    from tests.dataplatform.builders import make_agreement, make_publication

    agreement = make_agreement(cast.initiative_a, cast.municipality)
    make_publication(cast.municipality)
    data = json.loads(download(filled.resident_client, "my-data-json").content)
    (shared,) = data["households"][0]["sharing"]
    assert shared["recipient"] == cast.municipality.name
    assert shared["agreement"] == agreement.reference
    assert shared["your_consent"] is True
    assert len(shared["publications"]) == 1


def test_the_pdf_renders_the_same_data_readably(filled):
    response = download(filled.resident_client, "my-data-pdf")
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(response.content))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    for value in (FIRST, LAST, EMAIL, PHONE, STREET, POSTCODE, NOTE, MESSAGE_RESIDENT):
        assert value in text, value
    assert gettext("Your personal data") in text


@pytest.mark.parametrize("name", ["my-data-json", "my-data-pdf"])
def test_a_download_is_never_cached_names_no_one_and_is_logged(filled, name):
    response = download(filled.resident_client, name)
    assert "no-store" in response["Cache-Control"]
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="mijn-gegevens-')
    assert LAST.lower() not in disposition.lower()
    assert STREET.lower() not in disposition.lower()
    entry = LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS, additional_data__export="resident_data"
    ).get()
    assert entry.actor == filled.resident
    assert entry.additional_data["format"] == name.rsplit("-", 1)[1]
    assert LAST not in entry.object_repr


def test_a_resident_gets_only_their_own_household(cast, login, filled):
    client = login(cast.resident)
    text = download(client, "my-data-json").content.decode()
    assert [secret for secret in IN_JSON if secret in text] == []
    data = json.loads(text)
    assert [h["id"] for h in data["households"]] == [cast.household_a.pk]


@pytest.mark.parametrize("name", ["my-data", "my-data-json", "my-data-pdf"])
def test_staff_have_no_my_data_page(cast, login, name):
    for user in (cast.coordinator, cast.alice, cast.coordinator_b, cast.municipality_staff):
        client = login(user)
        assert client.get(reverse(f"privacy:{name}")).status_code == 404
        client.logout()


@pytest.mark.parametrize("name", ["my-data", "my-data-json", "my-data-pdf"])
def test_it_sends_an_anonymous_visitor_to_the_login(client, name):
    response = client.get(reverse(f"privacy:{name}"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_resident_finds_the_page_from_their_overview(cast, login):
    client = login(cast.resident)
    page = client.get(reverse("dossier:dashboard")).content.decode()
    assert reverse("privacy:my-data") in page
    response = client.get(reverse("privacy:my-data"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    content = response.content.decode()
    assert reverse("privacy:my-data-json") in content
    assert reverse("privacy:my-data-pdf") in content


def test_an_application_for_the_address_without_the_household_is_not_theirs(cast, login, filled):
    # The municipality took in a request for the address at its desk: the owner's, or a
    # previous occupant's. Its answers (income, debts) are someone else's data.
    from demo.nip_plan import programme_from_plan
    from tests.nip.builders import make_application

    theirs = make_application(
        programme_from_plan(cast.municipality),
        dwelling=cast.household_a.dwelling,
        household=cast.household_a,
        decision_note="Besluit-Eigen-Aanvraag-11",
    )
    make_application(
        programme_from_plan(cast.municipality, tranche=2, name="Tweede tranche"),
        dwelling=cast.household_a.dwelling,
        household=None,
        decision_note="Besluit-Vreemde-Aanvrager-42",
    )

    text = download(login(cast.resident), "my-data-json").content.decode()

    assert theirs.decision_note in text
    assert "Besluit-Vreemde-Aanvrager-42" not in text
