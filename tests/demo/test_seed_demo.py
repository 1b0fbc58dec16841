from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Membership, Organisation, User
from demo import data
from dossier.models import DwellingType, Household

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_it_prints_one_login_per_role():
    output = seed()
    for _role, email in data.LOGINS:
        assert email in output
    assert {role for role, _ in data.LOGINS} == {
        "coordinator",
        "coach",
        "resident",
        "municipality staff",
        "province analyst",
        "administrator",
    }


def test_it_creates_two_initiatives_a_municipality_and_a_province():
    seed()
    kinds = list(Organisation.objects.values_list("kind", flat=True).order_by("kind"))
    assert kinds == ["initiative", "initiative", "municipality", "province"]


def test_it_creates_a_dwelling_of_every_type():
    seed()
    types = set(Household.objects.values_list("dwelling__dwelling_type", flat=True))
    assert types == set(DwellingType.values)


def test_it_is_deterministic_and_idempotent():
    seed()
    first = (
        list(User.objects.order_by("email").values_list("email", "first_name")),
        list(Household.objects.order_by("name").values_list("name", "dwelling__postcode")),
        Membership.objects.count(),
    )
    seed()
    second = (
        list(User.objects.order_by("email").values_list("email", "first_name")),
        list(Household.objects.order_by("name").values_list("name", "dwelling__postcode")),
        Membership.objects.count(),
    )
    assert first == second


@pytest.mark.parametrize(("role", "email"), data.LOGINS)
def test_it_lets_every_printed_login_in_through_the_login_page(client, role, email):
    output = seed()
    response = client.post(
        reverse("account_login"), {"login": email, "password": data.DEFAULT_PASSWORD}
    )
    assert response.status_code == 302, response.content[:500]
    if role not in ("coach", "resident"):
        # The second step, with the code the printed command gives.
        assert "manage.py demo_code" in output
        assert response["Location"] == reverse("mfa_authenticate")
        code = StringIO()
        call_command("demo_code", stdout=code)
        client.post(reverse("mfa_authenticate"), {"code": code.getvalue().split()[0]})
    assert client.get(reverse("dossier:dashboard")).status_code == 200


def test_it_gives_the_municipality_the_seed_programme_with_homes_at_each_step():
    from nip.models import Application, ExecutedMeasure, Programme

    seed()
    programme = Programme.objects.get(municipality__slug=data.NIP_MUNICIPALITY)
    assert programme.target_homes == 187
    statuses = sorted(Application.objects.values_list("status", flat=True))
    assert statuses.count("approved") == 6 and statuses.count("intake") == 2
    assert ExecutedMeasure.objects.count() == 5
    seed()
    assert Application.objects.count() == len(data.NIP_HOMES)


def test_it_shares_figures_under_agreements_with_some_cells_published():
    from dataplatform.models import Publication, PublicationDelivery, SharingAgreement

    call_command("seed_demo", "--quiet")

    assert SharingAgreement.objects.count() == 3
    province = Publication.objects.get(recipient__slug="provincie-utrecht")
    published = province.cells.filter(suppressed=False, level="pc6")
    # The demo street has postcodes of at least 10 consenting households.
    assert published.filter(measure="households", count__gte=10).exists()
    assert province.cells.filter(suppressed=True).exists()
    assert PublicationDelivery.objects.filter(publication=province).exists()
    assert Publication.objects.filter(recipient__slug="gemeente-de-bilt").exists()
    call_command("seed_demo", "--quiet")
    assert Publication.objects.count() == 2
