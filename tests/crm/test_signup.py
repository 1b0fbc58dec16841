"""The public sign-up form: one submit makes the household, its dossier and one case."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from crm import signup, tasks
from crm.models import Case, PrivacyStatement, SignupSettings
from dossier.models import Dossier, Dwelling, Household

pytestmark = pytest.mark.django_db


@pytest.fixture
def statement(cast) -> PrivacyStatement:
    return PrivacyStatement.objects.create(
        initiative=cast.initiative_a,
        version="2026-1",
        text="Wij gebruiken uw gegevens alleen om u te helpen.",
        valid_from=timezone.now() - dt.timedelta(days=1),
    )


def form_url(cast) -> str:
    return reverse("signup:form", args=[cast.initiative_a.slug])


ANSWERS = {
    "name": "Familie Klaver",
    "postcode": "3731 ab",
    "house_number": "40",
    "house_letter": "a",
    "street": "Kastanjelaan",
    "city": "De Bilt",
    "contact_email": "klaver@example.org",
    "contact_phone": "",
    "wants_help_with": "Het huis is koud en de rekening hoog.",
    "heard_via": "neighbour",
    "accept_privacy": "on",
    "website": "",
}


def test_the_form_is_public_and_may_be_framed_by_the_initiatives_site(cast, client, statement):
    SignupSettings.objects.create(
        initiative=cast.initiative_a,
        embedding_sites="https://www.energie-a.nl/\nhttps://wijk.energie-a.nl:8443",
    )
    response = client.get(form_url(cast))

    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors https://www.energie-a.nl https://wijk.energie-a.nl:8443;" in policy
    assert "script-src 'self'" in policy
    thanks = client.get(reverse("signup:thanks", args=[cast.initiative_a.slug]))
    assert "frame-ancestors https://www.energie-a.nl " in thanks["Content-Security-Policy"]
    # Another initiative's form may not be framed by this initiative's site.
    other = client.get(reverse("signup:form", args=[cast.initiative_b.slug]))
    assert "frame-ancestors 'none'" in other["Content-Security-Policy"]
    html = response.content.decode()
    assert 'name="website"' in html and 'tabindex="-1"' in html
    assert reverse("signup:privacy", args=[cast.initiative_a.slug, "2026-1"]) in html
    # Other pages still refuse to be framed.
    assert client.get(reverse("account_login"))["X-Frame-Options"] == "DENY"


def test_a_sign_up_makes_the_household_dossier_and_case_and_confirms_by_mail(
    cast, client, statement, mailoutbox, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(
            tasks.signup_confirmation_mail,
            "apply_async",
            wraps=tasks.signup_confirmation_mail.apply_async,
        ) as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(form_url(cast), ANSWERS)

    assert response.status_code == 302
    assert response["Location"] == reverse("signup:thanks", args=[cast.initiative_a.slug])
    dwelling = Dwelling.objects.get(postcode="3731AB", house_number=40, house_letter="A")
    household = Household.objects.get(dwelling=dwelling, initiative=cast.initiative_a)
    assert household.name == "Familie Klaver"
    assert Dossier.objects.filter(household=household).exists()
    case = Case.objects.get(household=household)
    assert case.status == "new" and case.contact_email == "klaver@example.org"
    assert case.privacy_statement_version == "2026-1" and case.privacy_accepted_at
    assert case.heard_via == "neighbour"
    # The task message carries the case's id only.
    assert tuple(apply_async.call_args.args[0]) == (case.pk,)
    assert [m.to for m in mailoutbox] == [["klaver@example.org"]]
    assert "Energie A" in mailoutbox[0].subject


def test_a_double_submit_makes_one_case(cast, client, statement):
    first = client.post(form_url(cast), ANSWERS)
    second = client.post(form_url(cast), {**ANSWERS, "wants_help_with": "Nog een keer"})

    assert first.status_code == second.status_code == 302
    assert Case.objects.count() == 1
    assert Case.objects.get().wants_help_with == ANSWERS["wants_help_with"]


def test_a_known_address_reuses_its_dwelling_but_never_its_household(cast, client, statement):
    # Someone else signing up where Familie Alfa lives gets a household and case of
    # their own, marked "at a known address" (tests/crm/test_known_address.py).
    dwelling = cast.household_a.dwelling
    answers = {
        **ANSWERS,
        "postcode": dwelling.postcode,
        "house_number": str(dwelling.house_number),
        "house_letter": dwelling.house_letter,
        "addition": dwelling.house_number_addition,
    }

    dwellings = Dwelling.objects.count()

    client.post(form_url(cast), answers)

    assert Dwelling.objects.count() == dwellings
    case = Case.objects.get()
    assert case.household != cast.household_a
    assert case.household.at_known_address and case.household.name == "Familie Klaver"
    assert Household.objects.filter(dwelling=dwelling).count() == 2
    cast.household_a.refresh_from_db()
    assert cast.household_a.name == "Familie Alfa"


def test_a_robot_filling_the_honeypot_gets_thanks_and_stores_nothing(cast, client, statement):
    response = client.post(form_url(cast), {**ANSWERS, "website": "http://spam.example"})

    assert response.status_code == 302
    assert not Case.objects.exists()
    assert not Dwelling.objects.filter(postcode="3731AB", house_number=40).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("postcode", "0123 AB", "Vul een geldige postcode in"),
        ("house_number", "nul", "Voer een geheel getal in"),
        ("accept_privacy", "", "Ga akkoord met de privacyverklaring"),
    ],
)
def test_bad_input_gets_a_dutch_message_and_changes_nothing(
    cast, client, statement, field, value, message
):
    households = Household.objects.count()

    response = client.post(form_url(cast), {**ANSWERS, field: value})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Household.objects.count() == households and not Case.objects.exists()


def test_it_needs_an_e_mail_address_or_a_phone_number(cast, client, statement):
    response = client.post(form_url(cast), {**ANSWERS, "contact_email": "", "contact_phone": ""})
    assert "e-mailadres of een telefoonnummer" in response.content.decode()
    assert not Case.objects.exists()

    client.post(form_url(cast), {**ANSWERS, "contact_email": "", "contact_phone": "030 123 4567"})
    assert Case.objects.get().contact_phone == "030 123 4567"


def test_it_stops_a_sender_after_the_rate_limit(cast, client, statement, monkeypatch):
    monkeypatch.setattr(signup, "RATE_LIMIT", 2)
    codes = [
        client.post(form_url(cast), {**ANSWERS, "house_number": str(n)}).status_code
        for n in (1, 2, 3)
    ]

    assert codes == [302, 302, 429]
    assert Case.objects.count() == 2


def test_it_is_closed_without_a_privacy_statement_or_when_paused(cast, client, statement):
    SignupSettings.objects.create(initiative=cast.initiative_a, is_open=False)

    response = client.post(form_url(cast), ANSWERS)

    assert response.status_code == 200
    assert "niet mogelijk" in response.content.decode()
    assert not Case.objects.exists()
    PrivacyStatement.objects.all().delete()
    SignupSettings.objects.update(is_open=True)
    assert "niet mogelijk" in client.get(form_url(cast)).content.decode()


def test_it_asks_the_membership_question_only_when_the_initiative_does(cast, client, statement):
    assert 'name="is_member"' not in client.get(form_url(cast)).content.decode()
    SignupSettings.objects.create(initiative=cast.initiative_a, asks_membership=True)
    assert 'name="is_member"' in client.get(form_url(cast)).content.decode()

    client.post(form_url(cast), {**ANSWERS, "is_member": "yes"})

    assert Case.objects.get().is_member == "yes"


def test_only_active_initiatives_have_a_form(cast, client, statement):
    assert client.get(reverse("signup:form", args=[cast.municipality.slug])).status_code == 404
    assert client.get(reverse("signup:form", args=["bestaat-niet"])).status_code == 404
    assert (
        client.get(reverse("signup:privacy", args=[cast.initiative_a.slug, "9999"])).status_code
        == 404
    )
    page = client.get(reverse("signup:privacy", args=[cast.initiative_a.slug, "2026-1"]))
    assert "alleen om u te helpen" in page.content.decode()


def test_a_statement_in_force_cannot_be_changed_or_deleted_in_the_admin(cast, login, statement):
    client = login(cast.admin)
    url = reverse("admin:crm_privacystatement_change", args=[statement.pk])

    client.post(url, {"version": "x", "text": "Andere tekst", "valid_from_0": "01-01-2030"})
    deleted = client.post(reverse("admin:crm_privacystatement_delete", args=[statement.pk]))

    statement.refresh_from_db()
    assert statement.text.startswith("Wij gebruiken") and statement.version == "2026-1"
    assert deleted.status_code == 403
    assert PrivacyStatement.objects.filter(pk=statement.pk).exists()


def test_no_site_may_frame_the_form_until_the_initiative_names_its_sites(cast, client, statement):
    response = client.get(form_url(cast))

    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "sites",
    [
        "http://www.energie-a.nl",
        "https://*.energie-a.nl",
        "https://www.energie-a.nl/aanmelden",
        "https://www.energie-a.nl?x=1",
        "https://user:pw@www.energie-a.nl",
        "https://www.energie-a.nl:99999",
        "energie-a.nl",
        "https://www.energie-a.nl 'unsafe-inline'",
        "https://a.example;sandbox",
        "https://a.example;report-uri=https",
        'https://a.example"',
    ],
)
def test_a_framing_site_must_be_one_https_origin(cast, sites):
    form_settings = SignupSettings(initiative=cast.initiative_a, embedding_sites=sites)

    with pytest.raises(ValidationError) as raised:
        form_settings.full_clean()

    assert "embedding_sites" in raised.value.message_dict
