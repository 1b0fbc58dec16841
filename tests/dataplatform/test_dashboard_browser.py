"""The neighbourhood figures in real Chromium on a tablet: the wide table scrolls in its own
box, not the page; the charts are named images; no serious accessibility violations."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.urls import reverse
from playwright.sync_api import expect

from dataplatform.models import Level
from tests.dataplatform.builders import make_agreement, make_publication
from tests.dataplatform.test_dashboard import DE_BILT, area
from tests.test_browser import log_in, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def measure_catalogue(db) -> None:
    """The measure catalogue the migration seeds, back after a transactional test's flush."""
    seed = importlib.import_module("dossier.migrations.0003_seed_measure_catalogue")
    seed.seed(apps, None)


def test_the_figures_fit_a_tablet_and_pass_axe(browser_page, live_server, cast, measure_catalogue):
    many = [
        cell
        for n in range(60)
        for cell in area(
            "pc6",
            f"{3800 + n}AB",
            "GM0310",
            14 if n % 3 else None,
            label__C=11 if n % 2 else None,
            dwelling_type__terraced=None,
            measure_done__roof_insulation=12,
            measure_wanted__floor_insulation=None,
        )
    ]
    make_agreement(cast.initiative_a, cast.municipality, Level.PC6)
    make_publication(cast.municipality, DE_BILT + many)
    page = browser_page
    page.set_viewport_size({"width": 1024, "height": 768})
    log_in(page, live_server, cast.municipality_staff.email)
    # The menu leads there.
    page.get_by_role("link", name="Wijkcijfers").first.click()
    page.wait_for_url(live_server.url + reverse("dataplatform:dashboard"))

    assert page.get_by_role("heading", level=1).count() == 1
    # The page is as wide as the screen; the table scrolls inside its own box.
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    scroll = page.locator("#areas-scroll")
    width, visible = scroll.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert width > visible
    assert scroll.get_attribute("tabindex") == "0"
    # The charts are images with a name, and a suppressed bar says so.
    labels = page.get_by_role("img", name="Energielabels in De Bilt")
    assert labels.count() == 1
    assert labels.locator('text[data-suppressed="true"]').count() == 1
    # A suppressed cell is announced as such, never read as a number.
    assert page.locator("#areas-table").get_by_role("img", name="afgeschermd").count() > 10
    assert serious_violations(page) == []

    page.get_by_role("link", name="Volgende pagina").click()
    page.wait_for_url("**page=2")
    # Waits for the second page's rows (a count right after the address changes may still
    # read the first page's 25 while it is being replaced).
    expect(page.locator("#areas-table tbody tr")).to_have_count(12)
    page.wait_for_load_state()
    assert serious_violations(page) == []
