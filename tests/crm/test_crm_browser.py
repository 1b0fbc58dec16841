"""In real Chromium: a resident signs up through the public form, the coordinator assigns a
coach, and the coach finds the case and plans the visit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from crm import pipeline
from crm.models import Case, CoachProfile, PrivacyStatement, Visit
from tests.test_browser import log_in, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def initiative_ready(cast):
    PrivacyStatement.objects.create(
        initiative=cast.initiative_a,
        version="2026-1",
        text="Wij gebruiken uw gegevens alleen om u te helpen.",
        valid_from=timezone.now() - dt.timedelta(days=1),
    )
    CoachProfile.objects.create(user=cast.alice, organisation=cast.initiative_a, areas="3731")
    return cast


def test_a_sign_up_reaches_a_coach_who_plans_the_visit(browser_page, live_server, initiative_ready):
    cast = initiative_ready
    browser = browser_page.context.browser
    # Tablet width: what volunteers use.
    viewport = {"width": 820, "height": 1180}

    # 1. A resident signs up on the initiative's public form.
    resident = browser.new_context(viewport=viewport)
    page = resident.new_page()
    page.goto(live_server.url + reverse("signup:form", kwargs={"slug": "energie-a"}))
    page.get_by_label("Uw naam").fill("Familie Epsilon")
    page.get_by_label("Postcode").fill("3731 xk")
    page.get_by_label("Huisnummer").fill("12")
    page.get_by_label("E-mailadres").fill("epsilon@example.org")
    page.get_by_label("Waarbij wilt u hulp?").fill("Ons huis is koud en de energierekening hoog.")
    page.get_by_label("Ik heb de privacyverklaring gelezen en ga akkoord").check()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Aanmelden").click()
    page.wait_for_url("**/bedankt/")
    case = Case.objects.get(household__name="Familie Epsilon")
    assert case.status == pipeline.NEW
    assert case.household.dwelling.postcode == "3731XK"
    resident.close()

    # 2. The coordinator finds the sign-up in the queue and assigns Alice.
    coordinator = browser.new_context(viewport=viewport)
    page = coordinator.new_page()
    log_in(page, live_server, cast.coordinator.email)
    # Every click that loads a page waits for that page (its address or what only it
    # shows) before the next step reads it: on a busy machine the old page lingers.
    page.get_by_role("link", name="Aanmeldingen").first.click()
    page.wait_for_url(f"**{reverse('crm:case-list')}")
    page.get_by_role("link", name="Familie Epsilon").click()
    page.wait_for_url(f"**{reverse('crm:case-detail', kwargs={'pk': case.pk})}")
    # Alice works in this postcode area; the table says so next to her name.
    page.get_by_label(str(cast.alice), exact=False).check()
    page.get_by_role("button", name="Toewijzen").click()
    # The answer comes back to the same address: wait for its message instead.
    expect(
        page.get_by_text(f"{cast.alice} is nu de energiecoach van deze aanmelding.")
    ).to_be_visible()
    page.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == pipeline.COACH_ASSIGNED
    assert case.household.assigned_coach == cast.alice
    assert serious_violations(page) == []
    coordinator.close()

    # 3. Alice sees the case among her visits to plan, opens it and plans the visit.
    coach = browser.new_context(viewport=viewport)
    page = coach.new_page()
    log_in(page, live_server, cast.alice.email)
    page.get_by_role("link", name="Mijn bezoeken").first.click()
    page.wait_for_url(f"**{reverse('crm:visit-list')}")
    page.get_by_role("link", name="Familie Epsilon").click()
    page.wait_for_url(f"**{reverse('crm:case-detail', kwargs={'pk': case.pk})}")
    day = timezone.localdate() + dt.timedelta(days=5)
    page.get_by_label("Datum").fill(day.isoformat())
    page.get_by_label("Begintijd").fill("10:30")
    page.get_by_role("button", name="Bezoek plannen").click()
    expect(page.get_by_text("Het bezoek is gepland.")).to_be_visible()
    page.wait_for_load_state()
    visit = Visit.objects.get(case=case)
    assert timezone.localtime(visit.planned_start).replace(tzinfo=None) == dt.datetime.combine(
        day, dt.time(10, 30)
    )
    assert visit.coach == cast.alice
    case.refresh_from_db()
    assert case.status == pipeline.VISIT_PLANNED
    # Back on her list, the visit is upcoming with its calendar file.
    page.get_by_role("link", name="Mijn bezoeken").first.click()
    page.wait_for_url(f"**{reverse('crm:visit-list')}")
    expect(page.get_by_role("link", name="Familie Epsilon")).to_be_visible()
    expect(
        page.get_by_role("link", name="In mijn agenda zetten", exact=False).first
    ).to_be_visible()
    assert serious_violations(page) == []
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    coach.close()
