"""In real Chromium at tablet width: the coordinator resolves a sign-up at a known address."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from crm import services, signup
from crm.models import PrivacyStatement
from dossier.models import Household, Occupancy
from tests.test_browser import log_in, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_coordinator_resolves_a_sign_up_at_a_known_address_on_a_tablet(
    browser_page, live_server, cast
):
    PrivacyStatement.objects.create(
        initiative=cast.initiative_a,
        version="2026-1",
        text="Wij gebruiken uw gegevens alleen om u te helpen.",
        valid_from=timezone.now() - dt.timedelta(days=1),
    )
    services.case_open(household=cast.household_a, contact_email="alfa@example.org")
    dwelling = cast.household_a.dwelling
    case = signup.signup_submit(
        page=signup.signup_page(slug=cast.initiative_a.slug),
        name="Nieuwe Bewoner",
        postcode=dwelling.postcode,
        house_number=dwelling.house_number,
        contact_email="nieuw@example.org",
    )
    context = browser_page.context.browser.new_context(viewport={"width": 820, "height": 1180})
    page = context.new_page()
    log_in(page, live_server, cast.coordinator.email)

    page.goto(live_server.url + reverse("crm:case-detail", args=[case.pk]))
    expect(page.get_by_role("heading", name="Aangemeld bij een bekend adres")).to_be_visible()
    assert serious_violations(page) == []
    # The choice wraps within its panel at tablet width: nothing in it scrolls sideways.
    panel = page.locator("#known-address")
    assert panel.evaluate("e => e.scrollWidth - e.clientWidth") <= 0
    assert panel.get_by_role("radio").count() == 3
    page.get_by_label("Nieuwe bewoners", exact=False).check()
    page.get_by_role("button", name="Vastleggen wie zich aanmeldde").click()
    expect(page.get_by_text("Vastgelegd als nieuwe bewoners", exact=False)).to_be_visible()
    page.wait_for_load_state()

    household = Household.objects.get(pk=case.household_id)
    assert household.occupancy == Occupancy.MAIN
    assert Household.objects.get(pk=cast.household_a.pk).ended_at is not None
    expect(page.get_by_role("heading", name="Aangemeld bij een bekend adres")).to_have_count(0)
    context.close()
