"""The sharing agreements: the list, one agreement, its document, and the admin that records them.

Each page as a party to the agreement, as someone of another organisation or a role that
is never a party (404) and anonymously (login). The document is served only through a
view that checks access, as an attachment that is never stored in a cache.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from dataplatform import tasks
from dataplatform.models import (
    Level,
    OpenDataImport,
    Publication,
    PublicationDelivery,
    SharingAgreement,
)
from tests.dataplatform.builders import PDF, make_agreement
from tests.dataplatform.test_aggregation import make_home

pytestmark = pytest.mark.django_db

ADMIN = "/beheer/dataplatform"


def url(name: str, agreement: SharingAgreement | None = None) -> str:
    return reverse(f"dataplatform:{name}", args=[agreement.pk] if agreement else [])


@pytest.fixture
def agreements(cast, dp):
    """Initiative A with its municipality (pc6) and the province; initiative B with Utrecht."""
    return {
        "a_municipality": make_agreement(cast.initiative_a, cast.municipality, Level.PC6),
        "a_province": make_agreement(cast.initiative_a, cast.province, Level.DISTRICT),
        "b_utrecht": make_agreement(cast.initiative_b, dp.municipality_b, Level.ADDRESS),
    }


def listed(response) -> set[int]:
    return {agreement.pk for agreement, _current in response.context["rows"]}


# The list --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("coordinator", {"a_municipality", "a_province"}),
        ("municipality_staff", {"a_municipality"}),
        ("province_analyst", {"a_province"}),
        ("coordinator_b", {"b_utrecht"}),
    ],
)
def test_each_party_sees_its_own_agreements(cast, login, agreements, who, expected):
    response = login(getattr(cast, who)).get(url("agreement-list"))
    assert response.status_code == 200
    assert listed(response) == {agreements[name].pk for name in expected}


def test_staff_of_another_municipality_sees_only_theirs(cast, dp, login, agreements):
    response = login(dp.staff_b).get(url("agreement-list"))
    assert listed(response) == {agreements["b_utrecht"].pk}
    assert agreements["a_municipality"].reference not in response.content.decode()


@pytest.mark.parametrize("who", ["alice", "resident", "admin"])
def test_roles_that_are_never_a_party_get_a_404(cast, login, agreements, who):
    assert login(getattr(cast, who)).get(url("agreement-list")).status_code == 404


def test_a_party_without_agreements_sees_an_empty_list(cast, login):
    response = login(cast.coordinator).get(url("agreement-list"))
    assert response.status_code == 200
    assert 'id="no-agreements"' in response.content.decode()


def test_the_list_sends_anonymous_visitors_to_the_login(client, agreements):
    response = client.get(url("agreement-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# One agreement ---------------------------------------------------------------------------


def test_the_detail_shows_parties_level_what_it_allows_and_period(cast, login, agreements):
    agreement = agreements["a_municipality"]
    response = login(cast.municipality_staff).get(url("agreement-detail", agreement))
    assert response.status_code == 200
    assert response.context["in_force"] is True
    assert [str(label) for label in response.context["allowed_levels"]] == [
        str(Level.PC6.label),
        str(Level.NEIGHBOURHOOD.label),
        str(Level.DISTRICT.label),
        str(Level.MUNICIPALITY.label),
    ]
    html = response.content.decode()
    for text in (cast.initiative_a.name, cast.municipality.name, agreement.reference):
        assert text in html
    assert url("agreement-document", agreement) in html


def test_an_address_level_agreement_allows_every_level(cast, dp, login, agreements):
    response = login(dp.staff_b).get(url("agreement-detail", agreements["b_utrecht"]))
    assert len(response.context["allowed_levels"]) == len(Level.values)


def test_an_agreement_that_ended_or_expired_is_not_in_force(cast, login):
    today = timezone.localdate()
    ended = make_agreement(cast.initiative_a, cast.municipality, Level.PC6, reference="ended")
    SharingAgreement.objects.filter(pk=ended.pk).update(
        ended_at=timezone.now() - dt.timedelta(days=1)
    )
    expired = make_agreement(
        cast.initiative_a,
        cast.municipality,
        Level.DISTRICT,
        valid_from=today - dt.timedelta(days=400),
        valid_until=today - dt.timedelta(days=35),
        reference="expired",
    )
    client = login(cast.coordinator)
    response = client.get(url("agreement-detail", ended))
    assert response.context["in_force"] is False
    assert response.context["agreement"].ended_at is not None
    assert client.get(url("agreement-detail", expired)).context["in_force"] is False
    rows = client.get(url("agreement-list")).context["rows"]
    assert {agreement.pk: current for agreement, current in rows} == {
        ended.pk: False,
        expired.pk: False,
    }


@pytest.mark.parametrize("who", ["coordinator_b", "province_analyst", "alice", "resident"])
def test_others_get_a_404_for_an_agreement(cast, login, agreements, who):
    response = login(getattr(cast, who)).get(url("agreement-detail", agreements["a_municipality"]))
    assert response.status_code == 404


def test_the_detail_sends_anonymous_visitors_to_the_login(client, agreements):
    response = client.get(url("agreement-detail", agreements["a_municipality"]))
    assert response.status_code == 302


# The document -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["coordinator", "municipality_staff"])
def test_a_party_downloads_the_document_without_caching(cast, login, agreements, who):
    agreement = agreements["a_municipality"]
    response = login(getattr(cast, who)).get(url("agreement-document", agreement))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"sharing-agreement-{agreement.pk}.pdf" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Type"] == "application/pdf"


@pytest.mark.parametrize("who", ["coordinator_b", "province_analyst", "alice", "resident"])
def test_others_cannot_download_the_document(cast, login, agreements, who):
    response = login(getattr(cast, who)).get(
        url("agreement-document", agreements["a_municipality"])
    )
    assert response.status_code == 404


def test_staff_of_another_municipality_cannot_download_the_document(dp, login, agreements):
    response = login(dp.staff_b).get(url("agreement-document", agreements["a_municipality"]))
    assert response.status_code == 404


def test_the_document_sends_anonymous_visitors_to_the_login(client, agreements):
    response = client.get(url("agreement-document", agreements["a_municipality"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_missing_file_is_a_404(cast, login, agreements):
    agreement = agreements["a_municipality"]
    agreement.document.storage.delete(agreement.document.name)
    response = login(cast.coordinator).get(url("agreement-document", agreement))
    assert response.status_code == 404


def test_the_document_is_not_served_from_a_media_url(cast, login, agreements, settings):
    agreement = agreements["a_municipality"]
    response = login(cast.coordinator).get(
        settings.MEDIA_URL + agreement.document.name, follow=False
    )
    assert response.status_code == 404


# The admin -------------------------------------------------------------------------------


def agreement_form(cast, **overrides):
    data = {
        "initiative": cast.initiative_a.pk,
        "recipient": cast.municipality.pk,
        "level": Level.PC6,
        "valid_from": "2026-01-01",
        "valid_until": "",
        "reference": "DSA-2026-001",
        "document": SimpleUploadedFile("getekend.pdf", PDF, content_type="application/pdf"),
        "ended_at_0": "",
        "ended_at_1": "",
    }
    data.update(overrides)
    return data


def test_the_administrator_records_an_agreement_with_its_document(cast, login):
    response = login(cast.admin).post(f"{ADMIN}/sharingagreement/add/", agreement_form(cast))
    assert response.status_code == 302
    agreement = SharingAgreement.objects.get(reference="DSA-2026-001")
    assert agreement.created_by == cast.admin
    assert agreement.document.read() == PDF
    assert agreement.document.name.startswith("dataplatform/agreements/")


def test_a_document_that_is_not_a_pdf_is_refused(cast, login):
    data = agreement_form(
        cast, document=SimpleUploadedFile("x.pdf", b"<html>", content_type="application/pdf")
    )
    response = login(cast.admin).post(f"{ADMIN}/sharingagreement/add/", data)
    assert response.status_code == 200
    assert "document" in response.context["adminform"].form.errors
    assert not SharingAgreement.objects.exists()


def test_the_administrator_ends_an_agreement_but_cannot_delete_it(cast, login, agreements):
    agreement = agreements["a_municipality"]
    client = login(cast.admin)
    data = agreement_form(
        cast,
        valid_from=agreement.valid_from.isoformat(),
        reference=agreement.reference,
        ended_at_0=timezone.localdate().isoformat(),
        ended_at_1="00:00:00",
    )
    del data["document"]
    response = client.post(f"{ADMIN}/sharingagreement/{agreement.pk}/change/", data)
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.ended_at is not None
    assert agreement.created_by is None  # set on add only, not by a later change
    response = client.post(f"{ADMIN}/sharingagreement/{agreement.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert SharingAgreement.objects.filter(pk=agreement.pk).exists()


def test_recording_an_agreement_makes_the_recipients_figures_at_once(
    cast, login, django_capture_on_commit_callbacks
):
    make_home(cast.initiative_a, postcode="3731AD")
    with django_capture_on_commit_callbacks(execute=True):
        response = login(cast.admin).post(
            f"{ADMIN}/sharingagreement/add/", agreement_form(cast, valid_from="2020-01-01")
        )
    assert response.status_code == 302
    [publication] = Publication.objects.filter(recipient=cast.municipality)
    assert publication.households == 1
    assert not Publication.objects.exclude(recipient=cast.municipality).exists()


def publish_now(client, agreements_chosen):
    return client.post(
        f"{ADMIN}/sharingagreement/",
        {"action": "publish_now", "_selected_action": [a.pk for a in agreements_chosen]},
        follow=True,
    )


def test_the_administrator_publishes_the_chosen_recipients_figures_now(
    cast, login, agreements, django_capture_on_commit_callbacks
):
    make_home(cast.initiative_a, postcode="3731AD")
    make_agreement(cast.initiative_b, cast.municipality, Level.MUNICIPALITY)
    chosen = [agreements["a_municipality"], agreements["a_province"]]
    with django_capture_on_commit_callbacks(execute=True):
        response = publish_now(login(cast.admin), chosen)
    assert response.status_code == 200
    assert "De cijfers voor 2 ontvangers worden gemaakt" in response.text
    made = Publication.objects.values_list("recipient", flat=True)
    assert sorted(made) == sorted([cast.municipality.pk, cast.province.pk])
    # The province's figures are sent to the platform too: an outbox row waits for them.
    assert PublicationDelivery.objects.get().publication.recipient == cast.province


def test_an_agreement_no_longer_in_force_publishes_nothing(
    cast, login, agreements, django_capture_on_commit_callbacks
):
    SharingAgreement.objects.filter(pk=agreements["a_province"].pk).update(
        ended_at=timezone.now() - dt.timedelta(days=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = publish_now(login(cast.admin), [agreements["a_province"]])
    assert not Publication.objects.exists()
    assert "Geen van deze afspraken is van kracht" in response.text


def test_moving_an_agreement_to_another_recipient_makes_both_recipients_figures_again(
    cast, login, agreements, django_capture_on_commit_callbacks
):
    make_home(cast.initiative_a, postcode="3731AD")
    # The municipality keeps another agreement, so its figures can be made again.
    make_agreement(cast.initiative_b, cast.municipality, Level.MUNICIPALITY)
    agreement = agreements["a_municipality"]
    data = agreement_form(
        cast,
        recipient=cast.province.pk,
        valid_from=agreement.valid_from.isoformat(),
        reference=agreement.reference,
    )
    del data["document"]
    with django_capture_on_commit_callbacks(execute=True):
        response = login(cast.admin).post(f"{ADMIN}/sharingagreement/{agreement.pk}/change/", data)
    assert response.status_code == 302
    # Both recipients' figures are made again at once: the municipality's without
    # initiative A's households, which now go to the province.
    made = set(Publication.objects.values_list("recipient", flat=True))
    assert made == {cast.municipality.pk, cast.province.pk}
    assert Publication.objects.get(recipient=cast.municipality).households == 0
    assert Publication.objects.get(recipient=cast.province).households == 1


@pytest.mark.parametrize("who", ["coordinator", "municipality_staff", "province_analyst"])
def test_only_the_administrator_can_publish_now(
    cast, login, agreements, who, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = publish_now(login(getattr(cast, who)), list(agreements.values()))
    assert "/beheer/login/" in response.redirect_chain[-1][0]
    assert not Publication.objects.exists()


def test_publishing_for_an_organisation_that_receives_nothing_does_nothing(cast):
    tasks.publication_make_now.delay(cast.initiative_a.pk)
    tasks.publication_make_now.delay(999_999)
    assert not Publication.objects.exists()


def test_the_in_force_filter(cast, login, agreements):
    SharingAgreement.objects.filter(pk=agreements["a_province"].pk).update(
        ended_at=timezone.now() - dt.timedelta(days=1)
    )
    client = login(cast.admin)
    current = client.get(f"{ADMIN}/sharingagreement/", {"in_force": "yes"}).context["cl"]
    ended = client.get(f"{ADMIN}/sharingagreement/", {"in_force": "no"}).context["cl"]
    assert {a.pk for a in current.queryset} == {
        agreements["a_municipality"].pk,
        agreements["b_utrecht"].pk,
    }
    assert {a.pk for a in ended.queryset} == {agreements["a_province"].pk}


def test_open_data_imports_are_listed_read_only(cast, login):
    run = OpenDataImport.objects.create(
        kind="bag", file_name="bag-light.gpkg", file_date=dt.date(2026, 11, 1)
    )
    client = login(cast.admin)
    response = client.get(f"{ADMIN}/opendataimport/")
    assert response.status_code == 200
    assert "bag-light.gpkg" in response.content.decode()
    assert client.get(f"{ADMIN}/opendataimport/add/").status_code == 403
    assert (
        client.post(f"{ADMIN}/opendataimport/{run.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert OpenDataImport.objects.filter(pk=run.pk).exists()
