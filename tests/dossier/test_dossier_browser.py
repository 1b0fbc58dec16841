"""The dossier in real Chromium: a resident over two sessions, a coach's home visit on a
tablet, and no serious accessibility violations on either page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from dossier import services
from dossier.models import Dossier, DossierSection
from tests.test_browser import log_in, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESULTS = Path("test-results")


def step_url(live_server, dossier: Dossier, section: str = "house") -> str:
    return live_server.url + reverse("dossier:dossier-section", args=[dossier.pk, section])


@contextmanager
def saved(page) -> Iterator[None]:
    """Around a change of an autosaving form: waits until the save's answer is in."""
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        yield
    assert answer.value.ok, answer.value.status
    page.wait_for_load_state()


def wait_saved(page, section: str) -> None:
    status = page.locator(f"#save-status-{section}")
    status.get_by_text("Opgeslagen om").wait_for()


def test_it_lets_a_resident_fill_in_the_dossier_over_two_sessions(browser_page, live_server, cast):
    page = browser_page
    dossier = cast.household_a.dossier
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, cast.resident.email)
    page.goto(step_url(live_server, dossier))
    assert page.get_by_text("Stap 1 van 6").is_visible()

    page.get_by_label("Woonoppervlakte (m²)").fill("95")
    page.get_by_label("Woonoppervlakte (m²)").blur()
    wait_saved(page, "house")
    page.get_by_role("button", name="Volgende").click()
    page.wait_for_url(step_url(live_server, dossier, "energy"))
    assert page.get_by_text("Stap 2 van 6").is_visible()
    page.get_by_label("Aantal bewoners").fill("3")
    page.get_by_label("Aantal bewoners").blur()
    wait_saved(page, "energy")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "dossier-step-phone.png"), full_page=True)

    # A second session, as on another day: everything saved is still there.
    page.context.clear_cookies()
    later = page.context.browser.new_context(locale="nl-NL", bypass_csp=True)
    page = later.new_page()
    log_in(page, live_server, cast.resident.email)
    page.goto(step_url(live_server, dossier))
    assert page.get_by_label("Woonoppervlakte (m²)").input_value() == "95"
    page.goto(step_url(live_server, dossier, "energy"))
    assert page.get_by_label("Aantal bewoners").input_value() == "3"

    page.goto(live_server.url + reverse("dossier:dossier-overview", args=[dossier.pk]))
    page.screenshot(path=str(RESULTS / "dossier-overview-phone.png"), full_page=True)
    page.goto(step_url(live_server, dossier, "measures"))
    page.get_by_role("button", name="Klaar, versturen naar de energiecoach").click()
    page.wait_for_url(live_server.url + reverse("dossier:dossier-overview", args=[dossier.pk]))
    assert page.get_by_text("Dank u wel!").is_visible()
    later.close()

    dossier.refresh_from_db()
    assert (dossier.floor_area_m2, dossier.occupants) == (95, 3)
    assert dossier.submitted_at is not None


def test_it_lets_a_coach_complete_a_topic_in_visit_mode_on_a_tablet(
    browser_page, live_server, cast
):
    page = browser_page
    dossier = cast.household_a.dossier
    RESULTS.mkdir(exist_ok=True)
    log_in(page, live_server, cast.alice.email)
    for width, height in ((1024, 768), (768, 1024)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(live_server.url + reverse("dossier:dossier-visit", args=[dossier.pk]))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
    page.set_viewport_size({"width": 1024, "height": 768})

    topic = page.locator("#topic-installations")
    topic.locator("summary").click()
    form = topic.locator("form")
    # Each change is saved by a request of its own, whose answer replaces the form: wait for
    # that answer (the status line already says "saved" from the change before) and for
    # the new form before the next step, however slow the machine is.
    with saved(page):
        form.get_by_label(re.compile(r"^Verwarming")).select_option("hr_boiler")
    with saved(page):
        form.get_by_label("Aantekeningen van de energiecoach").fill("Ketel hangt op zolder.")
        form.get_by_label("Aantekeningen van de energiecoach").blur()
    with saved(page):
        form.get_by_label("Gecontroleerd in de woning").check()
    expect(form.get_by_label("Gecontroleerd in de woning")).to_be_checked()
    # Touch targets of at least 44 pixels.
    button = form.get_by_role("button", name="Opslaan")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box and box["height"] >= 44
    page.screenshot(path=str(RESULTS / "dossier-visit-1024x768.png"), full_page=True)

    row = DossierSection.objects.get(dossier=dossier, section="installations")
    dossier.refresh_from_db()
    assert dossier.heating_system == "hr_boiler"
    assert row.notes == "Ketel hangt op zolder."
    assert row.checked_in_home is True


def test_it_shows_a_banner_and_keeps_the_answer_when_a_save_fails(browser_page, live_server, cast):
    page = browser_page
    dossier = cast.household_a.dossier
    log_in(page, live_server, cast.alice.email)
    page.goto(step_url(live_server, dossier, "energy"))
    page.context.set_offline(True)
    page.get_by_label("Aantal bewoners").fill("4")
    page.get_by_label("Aantal bewoners").blur()
    page.get_by_text("Niet opgeslagen: geen verbinding").wait_for()
    kept = page.evaluate(
        f"localStorage.getItem('wd-dossier:{dossier.pk}:energy:s-energy-occupants')"
    )
    # Kept with the version it was typed against (static/js/autosave.js).
    assert json.loads(kept) == {"value": "4", "base": 0}
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_saved(page, "energy")
    dossier.refresh_from_db()
    assert dossier.occupants == 4
    kept = page.evaluate(
        f"localStorage.getItem('wd-dossier:{dossier.pk}:energy:s-energy-occupants')"
    )
    assert kept is None


def test_it_has_no_serious_accessibility_violations_on_the_step_and_visit_pages(
    browser_page, live_server, cast
):
    page = browser_page
    dossier = cast.household_a.dossier
    log_in(page, live_server, cast.resident.email)
    page.goto(step_url(live_server, dossier))
    assert serious_violations(page) == []
    page.goto(step_url(live_server, dossier, "measures"))
    assert serious_violations(page) == []
    page.context.clear_cookies()
    log_in(page, live_server, cast.alice.email)
    page.goto(live_server.url + reverse("dossier:dossier-visit", args=[dossier.pk]))
    page.locator("details.wd-topic").evaluate_all("els => els.forEach(e => e.open = true)")
    assert serious_violations(page) == []
    page.goto(step_url(live_server, dossier, "insulation"))
    assert serious_violations(page) == []
    page.goto(live_server.url + reverse("dossier:dossier-overview", args=[dossier.pk]))
    assert serious_violations(page) == []


def test_it_shows_both_versions_when_someone_else_saved_first(browser_page, live_server, cast):
    page = browser_page
    dossier = cast.household_a.dossier
    log_in(page, live_server, cast.resident.email)
    page.goto(step_url(live_server, dossier, "energy"))
    # Meanwhile the coach saves the same topic.
    services.section_save(
        dossier=dossier, section="energy", version=0, actor=cast.alice, values={"occupants": 2}
    )
    page.get_by_label("Aantal bewoners").fill("5")
    page.get_by_label("Aantal bewoners").blur()
    page.get_by_text("Nu opgeslagen", exact=True).wait_for()
    assert page.get_by_text("Uw versie", exact=True).is_visible()
    assert page.get_by_label("Aantal bewoners").input_value() == "5"
    dossier.refresh_from_db()
    assert dossier.occupants == 2

    page.get_by_role("button", name="Mijn versie opslaan").click()
    wait_saved(page, "energy")
    dossier.refresh_from_db()
    assert dossier.occupants == 5


def test_the_coach_sees_the_report_become_ready_without_reloading(
    browser_page, live_server, cast, seeded_parameters, settings, tmp_path
):
    from dossier import advice_reports, tasks
    from dossier.models import AdviceReport

    settings.MEDIA_ROOT = tmp_path
    page = browser_page
    page.set_viewport_size({"width": 820, "height": 1180})
    dossier = cast.household_a.dossier
    log_in(page, live_server, cast.alice.email)
    page.goto(live_server.url + reverse("dossier:dossier-reports", args=[dossier.pk]))
    page.get_by_label("Toelichting voor de bewoner").fill("Tot ziens!")
    page.get_by_label("Op papier").check()
    # The worker is busy elsewhere: the request only queues the report.
    with mock.patch.object(tasks.advice_report_render, "delay"):
        page.get_by_role("button", name="Rapport maken").click()
        page.get_by_text("Het rapport wordt gemaakt. Dat duurt").wait_for()
    assert page.locator("#report-list[hx-trigger]").count() == 1
    assert serious_violations(page) == []

    # The worker gets to it; the open page picks it up by itself.
    advice_reports.report_render(report_id=AdviceReport.objects.get().pk)
    page.get_by_role("link", name=re.compile("Rapport downloaden")).wait_for(timeout=15000)
    assert page.locator("#report-list[hx-trigger]").count() == 0
    assert page.get_by_text("Nog printen").is_visible()
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "dossier-reports-tablet.png"), full_page=True)
