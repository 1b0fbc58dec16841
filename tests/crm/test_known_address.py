"""A sign-up at an address where a household already lives never lands on that household.

Every entry path (the public form, the API, the import, the NIP intake) finds the
dwelling through dossier.dwellings.dwelling_at; a sign-up there by someone else becomes
a household and case of its own, marked "at a known address", until the coordinator
says on the case page whether it is the same household, new occupants or a second
household.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone, translation

from accounts import api_tokens
from crm import pipeline, services, signup
from crm.models import Case, CaseEvent, CaseStatus, PrivacyStatement
from dossier import dwellings
from dossier.models import (
    BuildingComponent,
    Dossier,
    DossierSection,
    Dwelling,
    Household,
    Occupancy,
    Source,
    ValueRecord,
)
from privacy import retention
from tests.conftest import skip_or_fail
from tests.crm.test_api import key_client
from tests.crm.test_import import confirm, csv_upload, prepared

pytestmark = pytest.mark.django_db

NEWCOMER = {
    "name": "Nieuwe Bewoner",
    "contact_email": "nieuw@example.org",
    "contact_phone": "0612345678",
}


@pytest.fixture
def statement(cast) -> PrivacyStatement:
    return PrivacyStatement.objects.create(
        initiative=cast.initiative_a,
        version="2026-1",
        text="Wij gebruiken uw gegevens alleen om u te helpen.",
        valid_from=timezone.now() - dt.timedelta(days=1),
    )


@pytest.fixture
def occupied(cast) -> Case:
    """Familie Alfa lives at the address, with Alice as coach and an open case."""
    case = services.case_open(household=cast.household_a, contact_email="alfa@example.org")
    return services.case_assign(case=case, coach=cast.alice, actor=cast.coordinator)


def address_of(household: Household) -> dict[str, str]:
    dwelling = household.dwelling
    return {
        "postcode": dwelling.postcode,
        "house_number": str(dwelling.house_number),
        "house_letter": dwelling.house_letter,
        "addition": dwelling.house_number_addition,
    }


def snapshot(household: Household) -> tuple:
    """What must not change about the household living there."""
    household.refresh_from_db()
    cases = [
        (c.pk, c.status, c.contact_email, c.contact_phone, c.wants_help_with, c.events.count())
        for c in Case.objects.filter(household=household).order_by("pk")
    ]
    return (
        household.name,
        household.occupancy,
        household.ended_at,
        household.assigned_coach_id,
        list(household.residents.values_list("pk", flat=True)),
        Dossier.objects.get(household=household).pk,
        cases,
    )


def known_case(cast) -> Case:
    return Case.objects.get(
        initiative=cast.initiative_a, household__occupancy=Occupancy.KNOWN_ADDRESS
    )


def assert_kept_apart(cast, case: Case, before: tuple) -> None:
    """The newcomer's own household and case, with their details; Alfa's untouched."""
    household = case.household
    assert household != cast.household_a
    assert household.dwelling == cast.household_a.dwelling
    assert household.at_known_address and household.name == NEWCOMER["name"]
    assert household.assigned_coach is None
    assert (case.contact_email, case.contact_phone) == (
        NEWCOMER["contact_email"],
        NEWCOMER["contact_phone"],
    )
    assert Dossier.objects.get(household=household) != Dossier.objects.get(
        household=cast.household_a
    )
    assert snapshot(cast.household_a) == before


# The four entry paths ----------------------------------------------------------------------


def test_the_public_form_at_an_occupied_address_makes_a_case_of_its_own(
    cast, client, statement, occupied, mailoutbox, django_capture_on_commit_callbacks, login
):
    before = snapshot(cast.household_a)
    dwellings_before = Dwelling.objects.count()
    answers = {
        **address_of(cast.household_a),
        **NEWCOMER,
        "wants_help_with": "Wij zijn net verhuisd.",
        "heard_via": "neighbour",
        "accept_privacy": "on",
        "website": "",
    }
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("signup:form", args=[cast.initiative_a.slug]), answers)

    assert response.status_code == 302
    assert Dwelling.objects.count() == dwellings_before
    case = known_case(cast)
    assert_kept_apart(cast, case, before)
    assert case.wants_help_with == "Wij zijn net verhuisd."
    # The normal confirmation, to the newcomer only; Alfa's coach is not mailed.
    assert [m.to for m in mailoutbox] == [[NEWCOMER["contact_email"]]]
    # Neither party sees the other: Alfa's coach does not see the newcomer's case.
    alice = login(cast.alice)
    assert alice.get(reverse("crm:case-detail", args=[case.pk])).status_code == 404
    assert alice.get(reverse("crm:case-detail", args=[occupied.pk])).status_code == 200
    assert Dossier.objects.visible_to(cast.alice).filter(household=case.household).count() == 0


def test_the_same_person_signing_up_again_gets_their_own_case_back(
    cast, client, statement, occupied
):
    url = reverse("signup:form", args=[cast.initiative_a.slug])
    answers = {
        **address_of(cast.household_a),
        **NEWCOMER,
        "wants_help_with": "Eerste keer",
        "accept_privacy": "on",
        "website": "",
    }

    responses = [
        client.post(url, answers),
        client.post(url, {**answers, "wants_help_with": "Nog een keer"}),
        # Alfa's own e-mail address: their open case comes back, nothing new.
        client.post(url, {**answers, "name": "Alfa", "contact_email": "ALFA@example.org"}),
    ]

    assert [r.status_code for r in responses] == [302, 302, 302]
    assert Case.objects.filter(household__dwelling=cast.household_a.dwelling).count() == 2
    assert known_case(cast).wants_help_with == "Eerste keer"
    assert Household.objects.filter(dwelling=cast.household_a.dwelling).count() == 2


def test_the_api_at_an_occupied_address_makes_a_case_of_its_own(
    cast, statement, occupied, mailoutbox, django_capture_on_commit_callbacks
):
    _token, key = api_tokens.api_token_create(
        organisation=cast.initiative_a, name="Website", actor=cast.coordinator
    )
    before = snapshot(cast.household_a)
    mailoutbox.clear()
    body = {
        **address_of(cast.household_a),
        **NEWCOMER,
        "house_number": cast.household_a.dwelling.house_number,
        "privacy_statement_version": "2026-1",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = key_client(key).post(
            "/api/v1/cases/open/", body, content_type="application/json"
        )

    assert response.status_code == 201, response.content
    case = known_case(cast)
    assert response.json()["id"] == case.pk
    assert response.json()["at_known_address"] is True
    assert response.json()["household"] != cast.household_a.pk
    assert_kept_apart(cast, case, before)
    assert [m.to for m in mailoutbox] == [[NEWCOMER["contact_email"]]]


def test_the_import_at_an_occupied_address_makes_a_case_of_its_own(
    cast, login, occupied, settings, tmp_path, mailoutbox, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    before = snapshot(cast.household_a)
    dwelling = cast.household_a.dwelling
    text = (
        "Naam;Postcode;Huisnummer;E-mail;Telefoon\n"
        f"{NEWCOMER['name']};{dwelling.postcode};{dwelling.house_number};"
        f"{NEWCOMER['contact_email']};{NEWCOMER['contact_phone']}\n"
    )
    client = login(cast.coordinator)
    mailoutbox.clear()

    upload_id = prepared(client, csv_upload(text))
    preview = client.get(reverse("crm:import-preview", args=[upload_id]))
    (row,) = preview.context["preview"].rows
    assert row.known_address and row.household is None
    assert "New household at a known address" in preview.content.decode() or (
        "bekend adres" in preview.content.decode()
    )
    confirm(client, upload_id, django_capture_on_commit_callbacks)

    case = known_case(cast)
    assert_kept_apart(cast, case, before)
    assert mailoutbox == []


def test_one_service_finds_or_makes_the_dwelling_and_fills_in_only_what_is_blank():
    made = dwellings.dwelling_at(postcode="3731AB", house_number=5, street="", city="")
    found = dwellings.dwelling_at(
        postcode="3731AB", house_number=5, street="Kerkstraat", city="De Bilt"
    )
    again = dwellings.dwelling_at(postcode="3731AB", house_number=5, street="Anders", city="X")

    assert made.pk == found.pk == again.pk
    assert (again.street, again.city) == ("Kerkstraat", "De Bilt")
    assert Dwelling.objects.filter(postcode="3731AB", house_number=5).count() == 1


# Resolving it on the case page -------------------------------------------------------------


@pytest.fixture
def newcomer(cast, statement) -> Case:
    page = signup.signup_page(slug=cast.initiative_a.slug)
    answers = {k: v for k, v in address_of(cast.household_a).items() if k != "house_number"}
    return signup.signup_submit(
        page=page,
        house_number=cast.household_a.dwelling.house_number,
        wants_help_with="Koude vloeren",
        **answers,
        **NEWCOMER,
    )


def test_the_same_household_joins_its_open_case_without_losing_what_was_typed(
    cast, occupied, newcomer
):
    name_before = cast.household_a.name

    services.case_known_address_resolve(
        case=newcomer, choice=services.SAME_HOUSEHOLD, actor=cast.coordinator
    )

    newcomer.refresh_from_db()
    occupied.refresh_from_db()
    cast.household_a.refresh_from_db()
    # The open case of the household stays the one case; the newcomer's details are on it.
    assert newcomer.household == cast.household_a
    assert newcomer.status == CaseStatus.WITHDRAWN
    assert (newcomer.contact_email, newcomer.wants_help_with) == (
        NEWCOMER["contact_email"],
        "Koude vloeren",
    )
    note = CaseEvent.objects.get(case=occupied, action=services.KNOWN_ADDRESS_ACTION)
    assert NEWCOMER["name"] in note.text and NEWCOMER["contact_phone"] in note.text
    assert note.actor == cast.coordinator
    assert cast.household_a.name == name_before and cast.household_a.ended_at is None
    provisional = Household.objects.get(name=NEWCOMER["name"])
    assert provisional.occupancy == Occupancy.MERGED and provisional.ended_at is not None
    assert not provisional.at_known_address


def test_joining_a_household_with_an_open_case_waits_for_a_planned_visit_to_be_cancelled(
    cast, occupied, newcomer
):
    newcomer = services.case_assign(case=newcomer, coach=cast.bob, actor=cast.coordinator)
    services.visit_plan(
        case=newcomer,
        coach=cast.bob,
        start=timezone.now() + dt.timedelta(days=3),
        duration_minutes=60,
        actor=cast.coordinator,
    )

    with pytest.raises(ValidationError) as refused:
        services.case_known_address_resolve(
            case=newcomer, choice=services.SAME_HOUSEHOLD, actor=cast.coordinator
        )

    assert refused.value.code == "visit_planned"
    newcomer.refresh_from_db()
    assert newcomer.is_open and newcomer.household.at_known_address


def test_the_same_household_without_an_open_case_takes_the_case_over(cast, newcomer):
    services.case_known_address_resolve(
        case=newcomer, choice=services.SAME_HOUSEHOLD, actor=cast.coordinator
    )

    newcomer.refresh_from_db()
    assert newcomer.household == cast.household_a and newcomer.is_open
    # Alfa's coach now coaches this case: it is theirs.
    assert Case.objects.visible_to(cast.alice).filter(pk=newcomer.pk).exists()
    assert cast.household_a.name == Household.objects.get(pk=cast.household_a.pk).name


def test_new_occupants_end_the_old_household_and_inherit_the_home_not_the_people(
    cast, occupied, newcomer
):
    old = Dossier.objects.get(household=cast.household_a)
    Dossier.objects.filter(pk=old.pk).update(
        build_year=1931,
        roof_type="pitched",
        heating_system="",
        gas_m3_per_year=1800,
        wishes="Geheim: wij gaan scheiden",
        occupants=4,
        ownership="owner",
    )
    BuildingComponent.objects.filter(dossier=old, kind="roof").update(insulation="good")

    services.case_known_address_resolve(
        case=newcomer, choice=services.NEW_OCCUPANTS, actor=cast.coordinator
    )

    cast.household_a.refresh_from_db()
    occupied.refresh_from_db()
    # Ended, not deleted: retention picks it up; the new household it does not.
    assert cast.household_a.ended_at is not None
    assert occupied.status == CaseStatus.WITHDRAWN
    later = timezone.now() + dt.timedelta(days=1)
    inactive = retention.inactive_households(organisation=cast.initiative_a, cutoff=later)
    assert cast.household_a in inactive
    new_household = Household.objects.get(pk=newcomer.household_id)
    assert new_household not in inactive
    assert new_household.occupancy == Occupancy.MAIN and not new_household.at_known_address
    # The home carries over, marked with its source; the people's data does not.
    new = Dossier.objects.get(household=new_household)
    assert new.pk != old.pk
    assert (new.build_year, new.roof_type) == (1931, "pitched")
    assert BuildingComponent.objects.get(dossier=new, kind="roof").insulation == "good"
    assert (new.gas_m3_per_year, new.wishes, new.occupants, new.ownership) == (None, "", None, "")
    carried = {
        r.field: r.value
        for r in ValueRecord.objects.filter(dossier=new, source=Source.PREVIOUS_OCCUPANTS)
    }
    assert carried["build_year"] == "1931" and carried["roof.insulation"] == "good"
    assert not {"gas_m3_per_year", "wishes", "occupants", "ownership"} & set(carried)
    with translation.override("nl"):
        assert str(Source.PREVIOUS_OCCUPANTS.label) == "vorige bewoners"
    # The old dossier and its personal answers stay where they were, untouched.
    old.refresh_from_db()
    assert old.wishes == "Geheim: wij gaan scheiden"
    # Alfa's coach never sees the new household's case or dossier.
    assert not Case.objects.visible_to(cast.alice).filter(pk=newcomer.pk).exists()


def test_carried_values_show_their_source_and_never_overwrite_the_new_households_answers(
    cast, login, occupied, newcomer
):
    old = Dossier.objects.get(household=cast.household_a)
    Dossier.objects.filter(pk=old.pk).update(build_year=1931, storeys=3)
    new = Dossier.objects.get(household_id=newcomer.household_id)
    # The newcomer's coach already wrote down the number of storeys.
    Dossier.objects.filter(pk=new.pk).update(storeys=2)
    ValueRecord.objects.create(
        dossier=new, field="storeys", source=Source.COACH, value="2", recorded_at=timezone.now()
    )
    house = DossierSection.objects.get(dossier=new, section="house")

    carried = services.case_known_address_resolve(
        case=newcomer, choice=services.NEW_OCCUPANTS, actor=cast.coordinator
    )

    new.refresh_from_db()
    assert (new.build_year, new.storeys) == (1931, 2)
    assert carried.household_id == new.household_id
    # An editor that had the topic open is told it changed, instead of overwriting it.
    assert DossierSection.objects.get(pk=house.pk).version == house.version + 1
    page = login(cast.coordinator).get(reverse("dossier:dossier-section", args=[new.pk, "house"]))
    assert page.status_code == 200
    assert "Vorige bewoners" in page.content.decode()


def test_new_occupants_may_start_without_the_previous_dossier(cast, occupied, newcomer):
    Dossier.objects.filter(household=cast.household_a).update(roof_type="flat")

    services.case_known_address_resolve(
        case=newcomer, choice=services.NEW_OCCUPANTS, actor=cast.coordinator, carry_over=False
    )

    new = Dossier.objects.get(household_id=newcomer.household_id)
    assert new.roof_type == ""
    assert not ValueRecord.objects.filter(dossier=new, source=Source.PREVIOUS_OCCUPANTS).exists()
    note = CaseEvent.objects.filter(case=newcomer, action=services.KNOWN_ADDRESS_ACTION).get()
    assert "0 kenmerken van de woning zijn uit het vorige dossier overgenomen" in note.text


def test_the_timeline_counts_one_carried_characteristic_in_the_singular(cast, occupied, newcomer):
    # Only the build year is known of the old home, so one characteristic carries over.
    Dossier.objects.filter(household=cast.household_a).update(build_year=1931)
    with translation.override("nl"):
        services.case_known_address_resolve(
            case=newcomer, choice=services.NEW_OCCUPANTS, actor=cast.coordinator
        )
    new = Dossier.objects.get(household_id=newcomer.household_id)
    count = ValueRecord.objects.filter(dossier=new, source=Source.PREVIOUS_OCCUPANTS).count()
    note = CaseEvent.objects.filter(case=newcomer, action=services.KNOWN_ADDRESS_ACTION).get()
    assert count == 1
    assert "1 kenmerk van de woning is uit het vorige dossier overgenomen" in note.text


def test_a_second_household_keeps_both_and_clears_the_mark(cast, occupied, newcomer):
    before = snapshot(cast.household_a)

    services.case_known_address_resolve(
        case=newcomer, choice=services.SECOND_HOUSEHOLD, actor=cast.coordinator
    )

    household = Household.objects.get(pk=newcomer.household_id)
    assert household.occupancy == Occupancy.SECOND and not household.at_known_address
    assert household.ended_at is None and Case.objects.get(pk=newcomer.pk).is_open
    assert snapshot(cast.household_a)[:-1] == before[:-1]
    # Resolved once: a second answer is refused.
    with pytest.raises(ValidationError) as refused:
        services.case_known_address_resolve(
            case=newcomer, choice=services.SAME_HOUSEHOLD, actor=cast.coordinator
        )
    assert refused.value.code == "resolved"


# The page ----------------------------------------------------------------------------------


def resolve_url(case: Case) -> str:
    return reverse("crm:case-known-address", args=[case.pk])


def test_the_coordinator_sees_the_choice_on_the_case_page_and_resolves_it(
    cast, login, occupied, newcomer
):
    client = login(cast.coordinator)

    page = client.get(reverse("crm:case-detail", args=[newcomer.pk]))
    html = page.content.decode()
    assert 'id="known-address"' in html and 'data-mark="known-address"' in html
    assert cast.household_a.name in html
    assert 'name="choice"' in html and 'type="radio"' in html
    queue = client.get(reverse("crm:case-list")).content.decode()
    assert 'data-mark="known-address"' in queue

    response = client.post(resolve_url(newcomer), {"choice": services.SECOND_HOUSEHOLD})

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:case-detail", args=[newcomer.pk])
    assert Household.objects.get(pk=newcomer.household_id).occupancy == Occupancy.SECOND
    page = client.get(reverse("crm:case-detail", args=[newcomer.pk]))
    assert 'id="known-address"' not in page.content.decode()


def test_the_form_without_a_choice_is_shown_again_with_its_error(cast, login, newcomer):
    response = login(cast.coordinator).post(resolve_url(newcomer), {})

    assert response.status_code == 200
    assert response.context["known_address"]["form"].errors["choice"]
    assert Household.objects.get(pk=newcomer.household_id).at_known_address


def test_a_coordinator_of_another_initiative_gets_404(cast, login, newcomer):
    client = login(cast.coordinator_b)

    assert client.get(reverse("crm:case-detail", args=[newcomer.pk])).status_code == 404
    response = client.post(resolve_url(newcomer), {"choice": services.SECOND_HOUSEHOLD})

    assert response.status_code == 404
    assert Household.objects.get(pk=newcomer.household_id).at_known_address


def test_a_coach_may_not_resolve_it(cast, login, occupied, newcomer):
    # Alfa's coach does not even see the case; the newcomer's own coach sees it but
    # does not decide who lives where.
    assert (
        login(cast.alice).post(resolve_url(newcomer), {"choice": "second_household"}).status_code
        == 404
    )
    services.case_assign(case=newcomer, coach=cast.bob, actor=cast.coordinator)
    response = login(cast.bob).post(resolve_url(newcomer), {"choice": "second_household"})

    assert response.status_code == 403
    assert Household.objects.get(pk=newcomer.household_id).at_known_address
    page = login(cast.bob).get(reverse("crm:case-detail", args=[newcomer.pk]))
    assert 'id="known-address"' not in page.content.decode()
    assert cast.household_a.name not in page.content.decode()


def test_anonymous_visitors_are_sent_to_the_login(cast, client, newcomer):
    response = client.post(resolve_url(newcomer), {"choice": services.SECOND_HOUSEHOLD})

    assert response.status_code == 302 and "/login/" in response["Location"]
    assert Household.objects.get(pk=newcomer.household_id).at_known_address


# Two sign-ups at one new address at the same moment (PostgreSQL) ---------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sign_ups_at_a_new_address_at_once_end_with_one_dwelling(cast, statement):
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL (DATABASE_URL=postgres://...)")
    page = signup.signup_page(slug=cast.initiative_a.slug)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(name: str, email: str) -> None:
        try:
            barrier.wait(timeout=10)
            signup.signup_submit(
                page=page,
                name=name,
                postcode="3731XY",
                house_number=99,
                contact_email=email,
            )
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=("Familie Een", "een@example.org")),
        threading.Thread(target=run, args=("Familie Twee", "twee@example.org")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    dwelling = Dwelling.objects.get(postcode="3731XY", house_number=99)
    households = Household.objects.filter(dwelling=dwelling)
    assert sorted(h.occupancy for h in households) == [Occupancy.KNOWN_ADDRESS, Occupancy.MAIN]
    assert Case.objects.filter(household__dwelling=dwelling).count() == 2
    assert sorted(Case.objects.values_list("contact_email", flat=True)) == [
        "een@example.org",
        "twee@example.org",
    ]
    assert not pipeline.ENDED & set(Case.objects.values_list("status", flat=True))
