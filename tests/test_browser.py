"""Smoke test in real Chromium: a coordinator logs in and sees the dashboard, which has
no serious or critical accessibility violations."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from django.urls import reverse

from accounts.mfa import needs_mfa
from accounts.models import User
from tests import builders

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, email: str) -> None:
    """Log in through the pages, with the authenticator app's code where the role needs it."""
    user = User.objects.get(email=email)
    two_step = needs_mfa(user)
    if two_step:
        builders.give_totp(user)
    page.goto(live_server.url + reverse("account_login"))
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(builders.PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    if two_step:
        page.wait_for_url(live_server.url + reverse("mfa_authenticate"))
        # A code is accepted once: an earlier test may have used this one.
        cache.clear()
        page.get_by_label("Code").fill(builders.totp_code(user))
        page.get_by_role("button", name="Aanmelden").click()
    page.wait_for_url(live_server.url + reverse("dossier:dashboard"))


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}×)"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def test_it_logs_a_coordinator_in_and_shows_the_dashboard(browser_page, live_server, cast):
    page = browser_page
    log_in(page, live_server, cast.coordinator.email)
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.get_by_role("heading", level=1).count() == 1
    assert page.get_by_text(cast.alice.get_full_name()).first.is_visible()
    assert page.get_by_role("link", name="Huishoudens").first.is_visible()
    assert serious_violations(page) == []


def test_it_has_an_accessible_login_page(browser_page, live_server):
    page = browser_page
    page.goto(live_server.url + reverse("account_login"))
    assert serious_violations(page) == []


def test_it_works_on_a_phone_sized_screen(browser_page, live_server, cast):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, cast.coordinator.email)
    # Nothing may force the page wider than the screen.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert serious_violations(page) == []


def test_it_blocks_an_injected_inline_script_but_not_its_own(browser_page, live_server, cast):
    # A context without bypass_csp, so the real policy applies.
    context = browser_page.context.browser.new_context()
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security" in msg.text else None,
    )
    log_in(page, live_server, cast.coordinator.email)
    assert violations == []
    ran = page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__injected = 1'; document.body.appendChild(s);"
        " return window.__injected === 1; }"
    )
    assert ran is False
    context.close()
