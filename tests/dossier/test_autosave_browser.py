"""Autosave in real Chromium after a conflict: a copy kept on the device is only sent with
the version it was typed against. After a reload it is offered beside the newer saved
answer, and the resident chooses; a copy of a lost connection is still sent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from dossier.models import Dossier, DossierSection
from tests.test_browser import log_in, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESULTS = Path("test-results")
TABLET = {"width": 768, "height": 1024}
GAS = re.compile(r"^Gasverbruik per jaar")


def step_url(live_server, dossier: Dossier, section: str = "energy") -> str:
    return live_server.url + reverse("dossier:dossier-section", args=[dossier.pk, section])


def wait_saved(page, section: str = "energy") -> None:
    page.locator(f"#save-status-{section}").get_by_text("Opgeslagen om").wait_for()


def kept(page, dossier: Dossier, name: str = "occupants") -> dict | None:
    raw = page.evaluate(f"localStorage.getItem('wd-dossier:{dossier.pk}:energy:s-energy-{name}')")
    return json.loads(raw) if raw is not None else None


def coach_saves_occupants(page, live_server, cast, dossier: Dossier, value: str) -> None:
    """The coach, in a browser of their own, saves the same question."""
    context = page.context.browser.new_context(locale="nl-NL", bypass_csp=True)
    coach = context.new_page()
    log_in(coach, live_server, cast.alice.email)
    coach.goto(step_url(live_server, dossier))
    coach.get_by_label("Aantal bewoners").fill(value)
    coach.get_by_label("Aantal bewoners").blur()
    wait_saved(coach)
    context.close()


def resident_in_conflict(page, live_server, cast) -> Dossier:
    """The resident's tab is older than the coach's save and gets the conflict box."""
    dossier = cast.household_a.dossier
    page.set_viewport_size(TABLET)
    log_in(page, live_server, cast.resident.email)
    page.goto(step_url(live_server, dossier))
    coach_saves_occupants(page, live_server, cast, dossier, "2")
    page.get_by_label("Aantal bewoners").fill("5")
    page.get_by_label("Aantal bewoners").blur()
    page.get_by_text("Nu opgeslagen", exact=True).wait_for()
    dossier.refresh_from_db()
    assert dossier.occupants == 2
    assert kept(page, dossier) == {"value": "5", "base": 0}
    return dossier


def reload_and_see_the_offer(page, dossier: Dossier):
    page.reload()
    offer = page.get_by_role("region", name="Uw niet-opgeslagen tekst")
    offer.wait_for()
    # Focus is on the offer and the choice is announced.
    assert page.evaluate("document.activeElement.id") == "kept-energy"
    assert "niet-opgeslagen tekst" in page.locator("#save-status-energy").inner_text()
    # The coach's answer is in the field; the resident's text is offered beside it.
    assert page.get_by_label("Aantal bewoners").input_value() == "2"
    beside = page.locator("[data-kept-field='s-energy-occupants']")
    assert beside.locator("dt").all_inner_texts() == ["Nu opgeslagen", "Uw niet-opgeslagen tekst"]
    assert beside.locator("dd").all_inner_texts() == ["2", "5"]
    return offer


def test_a_reload_after_a_conflict_keeps_the_newer_save_and_lets_the_resident_use_their_text(
    browser_page, live_server, cast
):
    page = browser_page
    dossier = resident_in_conflict(page, live_server, cast)

    reload_and_see_the_offer(page, dossier)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert serious_violations(page) == []
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "autosave-offer-tablet.png"), full_page=True)
    # Another answer saved meanwhile carries the page's version, not the offered text.
    page.get_by_label(GAS).fill("2500")
    page.get_by_label(GAS).blur()
    wait_saved(page)
    dossier.refresh_from_db()
    assert dossier.occupants == 2
    # Still offered after the swap of the form.
    page.get_by_role("region", name="Uw niet-opgeslagen tekst").wait_for()
    assert kept(page, dossier) == {"value": "5", "base": 0}

    # With the keyboard: from the offer to "Mijn tekst gebruiken".
    page.locator("#kept-energy").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Mijn tekst gebruiken"
    page.keyboard.press("Enter")
    page.locator("#save-status-energy").get_by_text("Uw tekst wordt opgeslagen.").wait_for()
    wait_saved(page)
    dossier.refresh_from_db()
    assert dossier.occupants == 5
    assert page.get_by_label("Aantal bewoners").input_value() == "5"
    assert kept(page, dossier) is None
    assert page.locator("#kept-energy").is_hidden()


def test_a_reload_after_a_conflict_lets_the_resident_keep_the_saved_answer(
    browser_page, live_server, cast
):
    page = browser_page
    dossier = resident_in_conflict(page, live_server, cast)

    reload_and_see_the_offer(page, dossier)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Opgeslagen versie houden"
    page.keyboard.press("Enter")
    assert page.locator("#kept-energy").is_hidden()
    assert page.locator("[data-kept-field]").count() == 0
    assert "verwijderd" in page.locator("#save-status-energy").inner_text()
    assert page.evaluate("document.activeElement.name") == "s-energy-occupants"
    assert kept(page, dossier) is None

    # Nothing comes back after another reload, and a later save keeps the coach's answer.
    page.reload()
    assert page.locator("#kept-energy").is_hidden()
    page.get_by_label(GAS).fill("2500")
    page.get_by_label(GAS).blur()
    wait_saved(page)
    dossier.refresh_from_db()
    assert dossier.occupants == 2
    assert DossierSection.objects.get(dossier=dossier, section="energy").version == 2


def test_using_the_saved_version_in_the_conflict_box_drops_the_kept_text(
    browser_page, live_server, cast
):
    page = browser_page
    dossier = resident_in_conflict(page, live_server, cast)

    with page.expect_navigation():
        page.get_by_role("link", name="Opgeslagen versie gebruiken").click()
    assert kept(page, dossier) is None
    assert page.locator("#kept-energy").is_hidden()
    assert page.get_by_label("Aantal bewoners").input_value() == "2"


def test_a_copy_of_a_lost_connection_is_still_sent_after_a_reload(browser_page, live_server, cast):
    page = browser_page
    dossier = cast.household_a.dossier
    page.set_viewport_size(TABLET)
    log_in(page, live_server, cast.resident.email)
    page.goto(step_url(live_server, dossier))
    page.context.set_offline(True)
    page.get_by_label("Aantal bewoners").fill("4")
    page.get_by_label("Aantal bewoners").blur()
    page.get_by_text("Niet opgeslagen: geen verbinding").wait_for()
    assert kept(page, dossier) == {"value": "4", "base": 0}
    # The tab is closed before the connection is back; a new one opens the same topic.
    context = page.context
    page.close()
    context.set_offline(False)
    page = context.new_page()
    page.set_viewport_size(TABLET)
    page.goto(step_url(live_server, dossier))
    wait_saved(page)
    dossier.refresh_from_db()
    assert dossier.occupants == 4
    assert page.get_by_label("Aantal bewoners").input_value() == "4"
    assert page.locator("#kept-energy").is_hidden()
    assert kept(page, dossier) is None


def test_saving_my_version_in_the_conflict_box_leaves_nothing_to_offer_after_a_reload(
    browser_page, live_server, cast
):
    page = browser_page
    dossier = resident_in_conflict(page, live_server, cast)

    page.get_by_role("button", name="Mijn versie opslaan").click()
    wait_saved(page)
    dossier.refresh_from_db()
    assert dossier.occupants == 5
    assert kept(page, dossier) is None
    page.reload()
    assert page.locator("#kept-energy").is_hidden()
    assert page.get_by_label("Aantal bewoners").input_value() == "5"


def test_what_is_typed_while_a_save_is_on_its_way_is_saved_after_it(
    browser_page, live_server, cast
):
    page = browser_page
    dossier = cast.household_a.dossier
    page.set_viewport_size(TABLET)
    log_in(page, live_server, cast.resident.email)
    page.goto(step_url(live_server, dossier))
    held = []
    page.route(step_url(live_server, dossier), lambda route: held.append(route), times=1)
    with page.expect_request(lambda request: request.method == "POST"):
        page.get_by_label("Aantal bewoners").fill("3")
        page.get_by_label("Aantal bewoners").blur()
    # Typed while the first save waits: kept against the version that save started from.
    page.get_by_label(GAS).fill("1200")
    assert kept(page, dossier, "gas_m3_per_year") == {"value": "1200", "base": 0}
    held[0].continue_()
    page.wait_for_function(
        f"() => localStorage.getItem('wd-dossier:{dossier.pk}:energy:s-energy-gas_m3_per_year')"
        " === null"
    )
    wait_saved(page)
    dossier.refresh_from_db()
    assert (dossier.occupants, dossier.gas_m3_per_year) == (3, 1200)
    assert page.locator("#kept-energy").is_hidden()


def test_a_copy_sent_on_reconnect_after_someone_else_saved_is_refused_not_stored(
    browser_page, live_server, cast
):
    page = browser_page
    dossier = cast.household_a.dossier
    page.set_viewport_size(TABLET)
    log_in(page, live_server, cast.resident.email)
    page.goto(step_url(live_server, dossier))
    page.context.set_offline(True)
    page.get_by_label("Aantal bewoners").fill("4")
    page.get_by_label("Aantal bewoners").blur()
    page.get_by_text("Niet opgeslagen: geen verbinding").wait_for()
    coach_saves_occupants(page, live_server, cast, dossier, "2")
    # Back online: the copy goes with the version it was typed against, and is refused.
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.get_by_text("Nu opgeslagen", exact=True).wait_for()
    dossier.refresh_from_db()
    assert dossier.occupants == 2
    assert kept(page, dossier) == {"value": "4", "base": 0}
    page.reload()
    page.get_by_role("region", name="Uw niet-opgeslagen tekst").wait_for()
    assert page.locator("[data-kept-field='s-energy-occupants'] dd").all_inner_texts() == [
        "2",
        "4",
    ]


def test_a_copy_kept_without_its_version_is_offered_not_sent(browser_page, live_server, cast):
    page = browser_page
    dossier = cast.household_a.dossier
    page.set_viewport_size(TABLET)
    log_in(page, live_server, cast.resident.email)
    page.goto(step_url(live_server, dossier))
    # As an earlier version of the script kept it: the value alone.
    page.evaluate(f"localStorage.setItem('wd-dossier:{dossier.pk}:energy:s-energy-occupants', '7')")
    page.reload()
    page.get_by_role("region", name="Uw niet-opgeslagen tekst").wait_for()
    assert page.get_by_label("Aantal bewoners").input_value() == ""
    assert page.locator("[data-kept-field='s-energy-occupants'] dd").all_inner_texts() == [
        "Nog niet ingevuld",
        "7",
    ]
    page.get_by_role("button", name="Mijn tekst gebruiken").click()
    page.wait_for_function(
        f"() => localStorage.getItem('wd-dossier:{dossier.pk}:energy:s-energy-occupants') === null"
    )
    dossier.refresh_from_db()
    assert dossier.occupants == 7
