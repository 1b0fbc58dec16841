from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def detail(household) -> str:
    return reverse("dossier:household-detail", args=[household.pk])


def test_it_shows_the_household_to_its_coach(cast, login):
    response = login(cast.alice).get(detail(cast.household_a))
    assert response.status_code == 200
    assert "Familie Alfa" in response.text
    assert cast.household_a.dwelling.postcode_display in response.text
    assert "no-store" in response["Cache-Control"]


def test_it_shows_the_household_to_its_coordinator_and_resident(cast, login):
    assert login(cast.coordinator).get(detail(cast.household_a)).status_code == 200
    assert login(cast.resident).get(detail(cast.household_a)).status_code == 200


def test_it_answers_404_to_another_coach_of_the_same_initiative(cast, login):
    assert login(cast.bob).get(detail(cast.household_a)).status_code == 404


def test_it_answers_404_to_a_user_of_another_organisation(cast, login):
    assert login(cast.coordinator_b).get(detail(cast.household_a)).status_code == 404
    assert login(cast.charlie).get(detail(cast.household_a)).status_code == 404
    assert login(cast.municipality_staff).get(detail(cast.household_a)).status_code == 404


def test_it_sends_an_anonymous_visitor_to_the_login(cast, client):
    response = client.get(detail(cast.household_a))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "Familie" not in response.text


def test_it_lists_only_what_the_viewer_may_see(cast, login):
    page = login(cast.coordinator).get(reverse("dossier:household-list")).text
    assert "Familie Alfa" in page and "Familie Beta" in page
    assert "Familie Gamma" not in page
    page = login(cast.alice).get(reverse("dossier:household-list")).text
    assert "Familie Alfa" in page and "Familie Beta" not in page


def test_it_shows_the_coordinator_the_workload_of_each_coach(cast, login):
    page = login(cast.coordinator).get(reverse("dossier:dashboard")).text
    assert cast.alice.get_full_name() in page
    assert cast.bob.get_full_name() in page
    assert cast.charlie.get_full_name() not in page
    assert "Familie Gamma" not in page


def test_it_shows_a_resident_their_home_on_the_dashboard(cast, login):
    page = login(cast.resident).get(reverse("dossier:dashboard")).text
    assert cast.household_a.dwelling.street_line in page
    assert "Familie Beta" not in page


def test_it_shows_government_staff_no_household_data(cast, login):
    for user in (cast.municipality_staff, cast.province_analyst):
        page = login(user).get(reverse("dossier:dashboard")).text
        assert "Familie" not in page
        assert cast.household_a.dwelling.street not in page


def test_it_redirects_a_logged_in_visitor_from_the_home_page_to_the_dashboard(cast, login):
    response = login(cast.alice).get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("dossier:dashboard")


def test_it_shows_each_role_its_own_menu(cast, login):
    coordinator_menu = (
        login(cast.coordinator).get(reverse("dossier:dashboard")).context["nav_items"]
    )
    labels = [str(item.label) for item, _ in coordinator_menu]
    assert reverse("dossier:household-list") in [item.url for item, _ in coordinator_menu]
    staff_menu = (
        login(cast.municipality_staff).get(reverse("dossier:dashboard")).context["nav_items"]
    )
    assert reverse("dossier:household-list") not in [item.url for item, _ in staff_menu]
    admin_menu = login(cast.admin).get(reverse("dossier:dashboard")).context["nav_items"]
    assert reverse("admin:index") in [item.url for item, _ in admin_menu]
    assert reverse("admin:index") not in [item.url for item, _ in coordinator_menu]
    assert labels


def test_it_shows_an_organisation_page_to_members_only(cast, login, client):
    url = reverse("accounts:organisation-detail", args=[cast.initiative_a.slug])
    page = login(cast.coordinator).get(url)
    assert page.status_code == 200
    assert cast.alice.email in page.text
    coach_page = login(cast.alice).get(url)
    assert coach_page.status_code == 200
    assert cast.bob.email not in coach_page.text  # only coordinators see the member list
    assert login(cast.charlie).get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302
