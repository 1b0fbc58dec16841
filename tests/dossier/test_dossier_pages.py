"""The dossier pages: the resident's steps, the coach's sources and visit mode, invitations."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from dossier import exchange, selectors
from dossier.models import (
    BuildingComponent,
    Dossier,
    DossierMeasure,
    DossierSection,
    MeasureType,
    ValueRecord,
)
from dossier.services import SECTION_FIELDS, as_text
from tests import builders

pytestmark = pytest.mark.django_db


def overview(household) -> str:
    return reverse("dossier:dossier-overview", args=[household.dossier.pk])


def step(household, section: str = "house") -> str:
    return reverse("dossier:dossier-section", args=[household.dossier.pk, section])


def visit(household) -> str:
    return reverse("dossier:dossier-visit", args=[household.dossier.pk])


def version(household, section: str = "house") -> int:
    return DossierSection.objects.get(dossier=household.dossier, section=section).version


def form_data(household, section: str = "house", **values: str) -> dict[str, str]:
    """What the step page posts: every field of the topic as stored, overridden by values."""
    dossier = Dossier.objects.get(pk=household.dossier.pk)
    prefix = f"s-{section}"
    data = {f"{prefix}-version": str(version(household, section))}
    for name in SECTION_FIELDS[section]:
        data[f"{prefix}-{name}"] = as_text(getattr(dossier, name))
    data.update({f"{prefix}-{name}": value for name, value in values.items()})
    return data


def reload(household) -> Dossier:
    return Dossier.objects.get(pk=household.dossier.pk)


# --- who may open the pages -------------------------------------------------------------


def page_urls(household) -> list[str]:
    return [overview(household), step(household), step(household, "measures"), visit(household)]


@pytest.mark.parametrize("who", ["resident", "alice", "coordinator"])
def test_it_opens_every_page_for_the_resident_the_coach_and_the_coordinator(cast, login, who):
    client = login(getattr(cast, who))
    for url in page_urls(cast.household_a):
        response = client.get(url, follow=True)
        assert response.status_code == 200, url


def test_it_does_not_cache_the_pages(cast, login):
    client = login(cast.resident)
    for url in (overview(cast.household_a), step(cast.household_a)):
        assert "no-store" in client.get(url)["Cache-Control"]


@pytest.mark.parametrize("who", ["charlie", "coordinator_b", "municipality_staff", "bob"])
def test_it_answers_404_to_anyone_else(cast, login, who):
    client = login(getattr(cast, who))
    for url in page_urls(cast.household_a):
        assert client.get(url).status_code == 404, url
    assert client.post(step(cast.household_a), form_data(cast.household_a)).status_code == 404
    check = reverse("dossier:value-check", args=[cast.household_a.dossier.pk])
    assert client.post(check, {"key": "build_year"}).status_code == 404
    invite = reverse("dossier:dossier-invite", args=[cast.household_a.dossier.pk])
    assert client.post(invite, {"email": "x@example.org"}).status_code == 404


def test_it_sends_an_anonymous_visitor_to_the_login(cast, client):
    pk = cast.household_a.dossier.pk
    posts = [
        step(cast.household_a),
        reverse("dossier:value-check", args=[pk]),
        reverse("dossier:dossier-invite", args=[pk]),
    ]
    responses = [client.get(url) for url in page_urls(cast.household_a)]
    responses += [client.post(url, {"key": "build_year"}) for url in posts]
    for response in responses:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert DossierSection.objects.filter(version__gt=0).count() == 0


def test_it_answers_404_for_an_unknown_topic(cast, login):
    url = overview(cast.household_a) + "kelder/"
    assert login(cast.resident).get(url).status_code == 404


def test_it_sends_a_resident_from_visit_mode_to_the_overview(cast, login):
    response = login(cast.resident).get(visit(cast.household_a))
    assert response.status_code == 302
    assert response["Location"] == overview(cast.household_a)


# --- the resident's steps ------------------------------------------------------------------


def test_it_shows_the_step_in_plain_dutch_with_a_progress_indicator(cast, login):
    page = login(cast.resident).get(step(cast.household_a, "energy")).text
    assert "Stap 2 van 6" in page
    assert "Vorige" in page and "Volgende" in page
    page = login(cast.resident).get(step(cast.household_a, "comfort")).text
    assert "Nog niet ingevuld" in page
    assert "Weet ik niet" in page
    assert 'type="radio"' in page
    assert "Samen met de bewoner invullen" not in page


def test_it_stores_a_residents_answers_with_their_source(cast, login):
    client = login(cast.resident)
    data = form_data(cast.household_a, "energy", occupants="3", thermostat_c="19,5")
    response = client.post(step(cast.household_a, "energy"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Opgeslagen om" in response.text
    dossier = reload(cast.household_a)
    assert dossier.occupants == 3
    assert str(dossier.thermostat_c) == "19.5"
    record = ValueRecord.objects.get(dossier=dossier, field="occupants")
    assert (record.source, record.value, record.recorded_by) == ("resident", "3", cast.resident)
    assert version(cast.household_a, "energy") == 1


def test_it_keeps_i_dont_know_as_an_answer(cast, login):
    client = login(cast.resident)
    data = form_data(cast.household_a, "comfort", complaint_damp="unknown")
    client.post(step(cast.household_a, "comfort"), data)
    assert reload(cast.household_a).complaint_damp == "unknown"


def test_it_goes_to_the_next_step_after_saving(cast, login):
    data = form_data(cast.household_a, "house", storeys="2", go="energy")
    data["go"] = "energy"
    response = login(cast.resident).post(step(cast.household_a), data)
    assert response.status_code == 302
    assert response["Location"] == step(cast.household_a, "energy")
    assert reload(cast.household_a).storeys == 2


def test_it_refuses_bad_input_with_a_dutch_message_and_stores_nothing(cast, login):
    client = login(cast.resident)
    data = form_data(cast.household_a, "energy", occupants="veel", gas_m3_per_year="1200")
    response = client.post(step(cast.household_a, "energy"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Vul een geheel getal in" in response.text or "geheel getal" in response.text
    assert "Niet opgeslagen" in response.text
    dossier = reload(cast.household_a)
    assert dossier.gas_m3_per_year is None
    assert not ValueRecord.objects.filter(dossier=dossier, field="gas_m3_per_year").exists()
    assert version(cast.household_a, "energy") == 0


def test_it_refuses_an_apartment_type_for_a_house(cast, login):
    data = form_data(cast.household_a, "house", apartment_type="gallery")
    response = login(cast.resident).post(step(cast.household_a), data)
    assert response.status_code == 422
    assert "Vul dit alleen in als de woning een appartement is." in response.text
    assert reload(cast.household_a).apartment_type == ""


def test_it_answers_409_to_a_stale_save_and_stores_nothing(cast, login):
    stale = form_data(cast.household_a, "energy", occupants="4")
    login(cast.alice).post(
        step(cast.household_a, "energy"), form_data(cast.household_a, "energy", occupants="2")
    )
    client = login(cast.resident)
    response = client.post(step(cast.household_a, "energy"), stale, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "Nu opgeslagen" in response.text and "Uw versie" in response.text
    # The user's value stays in the input, under the version that is stored now.
    assert 'value="4"' in response.text
    assert 'name="s-energy-version" value="1"' in response.text
    assert reload(cast.household_a).occupants == 2
    assert version(cast.household_a, "energy") == 1
    record = ValueRecord.objects.get(dossier=cast.household_a.dossier, field="occupants")
    assert record.source == "coach"


def test_it_lets_the_user_keep_their_version_after_a_conflict(cast, login):
    stale = form_data(cast.household_a, "energy", occupants="4")
    login(cast.alice).post(
        step(cast.household_a, "energy"), form_data(cast.household_a, "energy", occupants="2")
    )
    stale["s-energy-version"] = "1"
    login(cast.resident).post(step(cast.household_a, "energy"), stale)
    assert reload(cast.household_a).occupants == 4


def test_it_finishes_with_submitting_to_the_coach(cast, login):
    data = {"s-measures-version": str(version(cast.household_a, "measures")), "go": "finish"}
    response = login(cast.resident).post(step(cast.household_a, "measures"), data)
    assert response.status_code == 302
    assert response["Location"] == overview(cast.household_a)
    assert reload(cast.household_a).submitted_at is not None


def test_it_saves_a_building_component(cast, login):
    data = {
        "s-insulation-version": str(version(cast.household_a, "insulation")),
        "c-roof-insulation": "partial",
        "c-roof-year": "1998",
        "c-roof-rc_value": "2,5",
    }
    response = login(cast.resident).post(step(cast.household_a, "insulation"), data)
    assert response.status_code == 302
    roof = BuildingComponent.objects.get(dossier=cast.household_a.dossier, kind="roof")
    assert (roof.insulation, roof.year, str(roof.rc_value)) == ("partial", 1998, "2.50")
    record = ValueRecord.objects.get(dossier=cast.household_a.dossier, field="roof.insulation")
    assert record.source == "resident"


def test_it_never_lets_a_resident_change_the_coachs_advice(cast, login):
    measure_type = MeasureType.objects.create(
        code="dakisolatie-test", name="Dakisolatie", category="insulation", component="roof"
    )
    measure = DossierMeasure.objects.create(
        dossier=cast.household_a.dossier,
        measure_type=measure_type,
        advice_priority="high",
        advice_note="Eerst het dak.",
    )
    client = login(cast.resident)
    page = client.get(step(cast.household_a, "measures")).text
    assert "Eerst het dak." in page
    assert f"m-{measure.pk}-advice_note" not in page
    data = {
        "s-measures-version": str(version(cast.household_a, "measures")),
        f"m-{measure.pk}-status": "done",
        f"m-{measure.pk}-done_year": "2020",
        f"m-{measure.pk}-done_by": "diy",
        f"m-{measure.pk}-advice_priority": "low",
        f"m-{measure.pk}-advice_note": "weg",
    }
    client.post(step(cast.household_a, "measures"), data)
    measure.refresh_from_db()
    assert (measure.status, measure.done_year, measure.done_by) == ("done", 2020, "diy")
    assert (measure.advice_priority, measure.advice_note) == ("high", "Eerst het dak.")


def test_it_keeps_everything_when_the_resident_comes_back(cast, login):
    client = login(cast.resident)
    client.post(step(cast.household_a), form_data(cast.household_a, floor_area_m2="95"))
    client.logout()
    page = login(cast.resident).get(step(cast.household_a)).text
    assert 'value="95"' in page


# --- the coach: together with the resident, sources, checks, visit mode ------------------


def test_it_records_the_residents_answer_when_the_coach_fills_in_together(cast, login):
    data = form_data(cast.household_a, "energy", occupants="5")
    data["s-energy-on_behalf_of_resident"] = "on"
    response = login(cast.alice).post(
        step(cast.household_a, "energy"), data, HTTP_HX_REQUEST="true"
    )
    record = ValueRecord.objects.get(dossier=cast.household_a.dossier, field="occupants")
    assert (record.source, record.recorded_by) == ("resident", cast.alice)
    # The toggle stays on for the next autosave.
    assert re.search(r'name="s-energy-on_behalf_of_resident"[^>]*checked', response.text)


def test_it_shows_staff_where_a_value_came_from_and_the_residents_other_answer(cast, login):
    login(cast.resident).post(
        step(cast.household_a, "energy"), form_data(cast.household_a, "energy", occupants="3")
    )
    login(cast.alice).post(
        step(cast.household_a, "energy"), form_data(cast.household_a, "energy", occupants="4")
    )
    page = login(cast.alice).get(step(cast.household_a, "energy")).text
    assert "Bewoner vulde in: 3" in page
    assert "Energiecoach" in page
    assert "Klopt (gecontroleerd)" in page
    house = login(cast.alice).get(step(cast.household_a)).text
    assert "Open data" in house  # the build year from BAG
    resident_page = login(cast.resident).get(step(cast.household_a, "energy")).text
    assert "Bewoner vulde in" not in resident_page
    assert "Klopt (gecontroleerd)" not in resident_page


def test_it_marks_a_value_as_checked_in_the_home(cast, login):
    url = reverse("dossier:value-check", args=[cast.household_a.dossier.pk])
    response = login(cast.alice).post(url, {"key": "build_year"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "gecontroleerd in de woning" in response.text
    record = ValueRecord.objects.get(
        dossier=cast.household_a.dossier, field="build_year", source="coach"
    )
    assert record.checked_in_home and record.value == "1965" and record.recorded_by == cast.alice
    response = login(cast.alice).post(url, {"key": "roof.insulation"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert login(cast.alice).post(url, {"key": "household"}).status_code == 400


def test_it_does_not_let_a_resident_mark_values_as_checked(cast, login):
    url = reverse("dossier:value-check", args=[cast.household_a.dossier.pk])
    assert login(cast.resident).post(url, {"key": "build_year"}).status_code == 403
    assert not ValueRecord.objects.filter(field="build_year", source="coach").exists()


def test_it_saves_notes_and_the_check_of_a_topic_in_visit_mode(cast, login):
    client = login(cast.alice)
    page = client.get(visit(cast.household_a)).text
    for label in ("De woning", "Energiegebruik", "Maatregelen"):
        assert label in page
    data = form_data(cast.household_a, "installations", heating_system="hr_boiler")
    data.update(
        {
            "mode": "visit",
            "s-installations-notes": "Ketel in de keuken.",
            "s-installations-checked_in_home": "on",
        }
    )
    response = client.post(step(cast.household_a, "installations"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'name="mode" value="visit"' in response.text
    row = DossierSection.objects.get(dossier=cast.household_a.dossier, section="installations")
    assert (row.notes, row.checked_in_home, row.updated_by) == (
        "Ketel in de keuken.",
        True,
        cast.alice,
    )
    assert reload(cast.household_a).heating_system == "hr_boiler"


def test_it_ignores_notes_from_a_resident(cast, login):
    data = form_data(cast.household_a, "energy")
    data["s-energy-notes"] = "van de bewoner"
    login(cast.resident).post(step(cast.household_a, "energy"), data)
    assert (
        DossierSection.objects.get(dossier=cast.household_a.dossier, section="energy").notes == ""
    )


def test_it_shows_progress_per_topic_on_the_overview(cast, login):
    login(cast.resident).post(
        step(cast.household_a, "energy"), form_data(cast.household_a, "energy", occupants="2")
    )
    page = login(cast.resident).get(overview(cast.household_a)).text
    assert "1 van 5 ingevuld" in page
    assert "Bewoner uitnodigen" not in page
    assert "Bewoner uitnodigen" in login(cast.alice).get(overview(cast.household_a)).text


def test_it_links_the_household_and_the_dashboard_to_the_dossier(cast, login):
    page = (
        login(cast.alice).get(reverse("dossier:household-detail", args=[cast.household_a.pk])).text
    )
    assert overview(cast.household_a) in page
    assert overview(cast.household_a) in login(cast.resident).get(reverse("dossier:dashboard")).text


# --- invitations -----------------------------------------------------------------------


def invite(client, household, email: str):
    url = reverse("dossier:dossier-invite", args=[household.dossier.pk])
    return client.post(url, {"email": email})


def invitation_link(mail) -> str:
    match = re.search(r"https?://[^/\s]+(/uitnodiging/[^\s]+/)", mail.body)
    assert match, mail.body
    return match.group(1)


def test_it_invites_a_resident_and_lets_them_set_a_password(
    cast, login, client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(login(cast.bob), cast.household_a2, "  Nieuwe.Bewoner@Example.ORG ")
    assert response.status_code == 302
    user = get_user_model().objects.get(email="nieuwe.bewoner@example.org")
    assert not user.has_usable_password()
    assert cast.household_a2.residents.filter(pk=user.pk).exists()
    assert reload(cast.household_a2).invited_at is not None
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["nieuwe.bewoner@example.org"]
    assert "woningdossier" in mail.subject.lower()
    assert mail.body.startswith("Beste bewoner,")
    assert "inloggen met een code" in mail.body
    link = invitation_link(mail)
    # No personal data in the link: no e-mail address, name or dossier number.
    assert "nieuwe" not in link.lower() and "example" not in link
    assert str(cast.household_a2.dossier.pk) not in link.split("/")[2:3]

    client.logout()
    page = client.get(link)
    assert page.status_code == 200
    password = "een-lang-en-veilig-wachtwoord"
    response = client.post(link, {"new_password1": password, "new_password2": password})
    assert response.status_code == 302
    assert response["Location"] == step(cast.household_a2)
    user.refresh_from_db()
    assert user.check_password(password)
    assert client.get(step(cast.household_a2)).status_code == 200

    # The link works once.
    client.logout()
    again = client.get(link)
    assert again.status_code == 400
    assert "Deze link werkt niet meer" in again.text
    refused = client.post(
        link, {"new_password1": "x-" + password, "new_password2": "x-" + password}
    )
    assert refused.status_code == 400
    assert client.get(step(cast.household_a2)).status_code == 302


def test_it_refuses_a_made_up_invitation_link(client, cast):
    response = client.get(reverse("dossier:invitation-accept", args=["MQ", "abc-def"]))
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_it_lets_the_coordinator_invite_and_not_the_resident(
    cast, login, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(login(cast.coordinator), cast.household_a, "partner@example.org")
    assert len(mailoutbox) == 1
    assert invite(login(cast.resident), cast.household_a, "buur@example.org").status_code == 403


def test_it_does_not_invite_a_staff_member_as_resident(
    cast, login, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(login(cast.alice), cast.household_a, cast.bob.email)
    assert mailoutbox == []
    assert not cast.household_a.residents.filter(pk=cast.bob.pk).exists()


def test_it_reuses_an_existing_account(cast, login, mailoutbox, django_capture_on_commit_callbacks):
    existing = builders.make_user("bestaand@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        invite(login(cast.alice), cast.household_a, "Bestaand@example.org")
    assert get_user_model().objects.filter(email__iexact="bestaand@example.org").count() == 1
    assert cast.household_a.residents.filter(pk=existing.pk).exists()


def test_it_tells_htmx_where_to_go_after_the_last_step(cast, login):
    data = {"s-measures-version": str(version(cast.household_a, "measures")), "go": "finish"}
    response = login(cast.resident).post(
        step(cast.household_a, "measures"), data, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == overview(cast.household_a)
    assert reload(cast.household_a).submitted_at is not None


def test_it_returns_to_the_topic_in_visit_mode_without_javascript(cast, login):
    data = form_data(cast.household_a, "energy", occupants="2")
    data["mode"] = "visit"
    response = login(cast.alice).post(step(cast.household_a, "energy"), data)
    assert response.status_code == 302
    assert response["Location"] == visit(cast.household_a) + "#topic-energy"


def test_it_treats_a_coach_who_lives_in_the_home_as_its_resident_everywhere(cast, login):
    # One notion of "staff viewer" (access.is_staff_viewer) for every page and service.
    household = cast.household_a
    household.residents.add(cast.alice)
    dossier = household.dossier
    exchange.message_send(
        dossier=dossier, author=cast.coordinator, body="Intern", visibility="staff"
    )
    client = login(cast.alice)
    assert client.get(visit(household))["Location"] == overview(household)
    assert "Intern" not in client.get(reverse("dossier:dossier-messages", args=[dossier.pk])).text
    page = selectors.dossier_page(viewer=cast.alice, pk=dossier.pk)
    assert page.messages == []
    client.post(step(household, "energy"), form_data(household, "energy", occupants="2"))
    record = ValueRecord.objects.get(dossier=dossier, field="occupants")
    assert record.source == "resident" and record.recorded_by == cast.alice
    check = reverse("dossier:value-check", args=[dossier.pk])
    assert client.post(check, {"key": "occupants"}).status_code == 403
