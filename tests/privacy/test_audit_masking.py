"""The audit log shows that personal data changed, never what it says."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from crm.models import Case
from dossier.models import Dossier, Dwelling, Household, Message
from privacy.audit import MASK

pytestmark = pytest.mark.django_db


def entries_of(model, pk) -> list[LogEntry]:
    content_type = ContentType.objects.get_for_model(model)
    return list(LogEntry.objects.filter(content_type=content_type, object_pk=str(pk)))


def everything_stored() -> str:
    return " ".join(
        f"{e.object_repr} {e.changes} {e.changes_text} {e.serialized_data} {e.additional_data}"
        for e in LogEntry.objects.all()
    )


def test_a_renamed_household_is_logged_without_either_name(cast):
    household = Household.objects.get(pk=cast.household_a.pk)
    old = household.name
    household.name = "Familie Zeldzaamnaam"
    household.save()

    [entry] = [
        e
        for e in entries_of(Household, household.pk)
        if e.action == LogEntry.Action.UPDATE and "name" in e.changes
    ]
    assert entry.object_repr == f"household {household.pk}"
    assert entry.changes["name"] == [MASK, MASK]
    stored = everything_stored()
    assert "Zeldzaamnaam" not in stored
    assert old not in stored


def test_an_address_change_is_logged_and_masked(cast):
    dwelling = Dwelling.objects.get(pk=cast.household_a.dwelling_id)
    dwelling.street = "Geheimelaan"
    dwelling.house_number = 77
    dwelling.build_year = 1931
    dwelling.save()

    [entry] = [e for e in entries_of(Dwelling, dwelling.pk) if e.action == LogEntry.Action.UPDATE]
    assert entry.changes["street"] == [MASK, MASK]
    assert entry.changes["house_number"] == [MASK, MASK]
    # A house characteristic is not personal on its own: it stays readable.
    assert entry.changes["build_year"][1] == "1931"
    assert "Geheimelaan" not in everything_stored()


def test_a_message_body_and_case_contact_details_never_reach_the_log(cast):
    dossier = Dossier.objects.get(household=cast.household_a)
    Message.objects.create(
        dossier=dossier, author=cast.alice, body="Mijn pincode is zwaluwstaart-4321"
    )
    case = Case.objects.filter(household=cast.household_a).first() or Case.objects.create(
        initiative=cast.initiative_a, household=cast.household_a
    )
    case.contact_email = "geheim.adres@example.org"
    case.contact_phone = "0612345678"
    case.save()

    stored = everything_stored()
    # A distinctive word, not a bare number: a row id or a timestamp in the
    # log may well contain "4321" by chance.
    for secret in ("zwaluwstaart", "geheim.adres", "0612345678"):
        assert secret not in stored
    assert entries_of(Message, Message.objects.get(dossier=dossier).pk)


def test_a_model_without_personal_data_keeps_its_representation(cast):
    organisation = cast.initiative_a
    organisation.name = "Energie A Nieuw"
    organisation.save()

    [entry] = [
        e
        for e in entries_of(type(organisation), organisation.pk)
        if e.action == LogEntry.Action.UPDATE and "name" in e.changes
    ]
    assert entry.object_repr == "Energie A Nieuw"
    assert entry.changes["name"] == ["Energie A", "Energie A Nieuw"]
