"""The fixed cast every test reuses (after healthchecks' Alice, Bob and Charlie).

Initiative A has a coordinator and two coaches, Alice and Bob; initiative B has its own
coordinator and coach Charlie. Household A1 is coached by Alice, with a resident who has
a login; household B1 belongs to initiative B. A municipality and a province each have
one staff member.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.conf import settings

from accounts.mfa import needs_mfa
from accounts.models import Organisation, User
from accounts.roles import Role
from dossier.models import Household
from tests import builders

# The sync Playwright API runs an event loop in the test thread; the ORM calls made by
# live-server tests from that thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") not in ("", "0", "false", "False")


def skip_or_fail(reason: str) -> None:
    """Skip on a bare machine; in CI (REQUIRE_SERVICES=1) a missing service is a failure."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(autouse=True, scope="session")
def _celery_in_process():
    # CI sets CELERY_BROKER_URL for the worker tests; every other test runs tasks in-process.
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Cast:
    initiative_a: Organisation
    initiative_b: Organisation
    municipality: Organisation
    province: Organisation
    coordinator: User
    alice: User
    bob: User
    coordinator_b: User
    charlie: User
    resident: User
    municipality_staff: User
    province_analyst: User
    admin: User
    household_a: Household
    household_a2: Household
    household_b: Household


@pytest.fixture
def cast(db) -> Cast:
    initiative_a = builders.make_organisation(
        name="Energie A", slug="energie-a", municipalities=("GM0310",)
    )
    initiative_b = builders.make_organisation(
        name="Energie B", slug="energie-b", municipalities=("GM1904",)
    )
    municipality = builders.make_organisation(
        Organisation.Kind.MUNICIPALITY,
        name="Gemeente A",
        slug="gemeente-a",
        municipalities=("GM0310",),
    )
    province = builders.make_organisation(
        Organisation.Kind.PROVINCE,
        name="Provincie",
        slug="provincie",
        municipalities=("GM0310", "GM1904"),
    )
    coordinator = builders.make_member(
        initiative_a, Role.COORDINATOR, email="coordinator@a.example"
    )
    alice = builders.make_member(initiative_a, Role.COACH, email="alice@a.example")
    bob = builders.make_member(initiative_a, Role.COACH, email="bob@a.example")
    coordinator_b = builders.make_member(
        initiative_b, Role.COORDINATOR, email="coordinator@b.example"
    )
    charlie = builders.make_member(initiative_b, Role.COACH, email="charlie@b.example")
    resident = builders.make_user("resident@example.org")
    staff = builders.make_member(
        municipality, Role.MUNICIPALITY_STAFF, email="staff@gemeente.example"
    )
    analyst = builders.make_member(
        province, Role.PROVINCE_ANALYST, email="analyst@provincie.example"
    )
    admin = builders.make_user("admin@platform.example", is_staff=True, is_superuser=True)
    return Cast(
        initiative_a=initiative_a,
        initiative_b=initiative_b,
        municipality=municipality,
        province=province,
        coordinator=coordinator,
        alice=alice,
        bob=bob,
        coordinator_b=coordinator_b,
        charlie=charlie,
        resident=resident,
        municipality_staff=staff,
        province_analyst=analyst,
        admin=admin,
        household_a=builders.make_household(
            initiative_a, coach=alice, residents=(resident,), name="Familie Alfa"
        ),
        household_a2=builders.make_household(initiative_a, coach=bob, name="Familie Beta"),
        household_b=builders.make_household(initiative_b, coach=charlie, name="Familie Gamma"),
    )


@pytest.fixture
def seeded_parameters(db) -> None:
    """The calculation parameters the migration seeds, back after a transactional test.

    A transactional test ends with a flush of every table, seeded reference data included;
    tests that run without a test transaction and calculate ask for it again.
    """
    seed = importlib.import_module("dossier.migrations.0005_seed_calculation_parameters")
    seed.seed(apps, None)


@pytest.fixture
def login(client):
    """Log a user in through the real session machinery and return the client."""

    def _login(user: User):
        # Staff who see many homes have a second step set up and pass it (accounts.mfa).
        if needs_mfa(user):
            return builders.log_in_with_second_step(client, user)
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps dialling out to a network this machine does not have.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # The strict CSP would block the axe-core script that the accessibility check injects.
    return {**browser_context_args, "bypass_csp": True, "locale": "nl-NL"}


@pytest.fixture
def browser_page(request):
    """A Playwright page in Debian's Chromium; skips (or fails in CI) without Chromium."""
    if chromium_path() is None:
        skip_or_fail("Chromium (apt-get install chromium)")
    return request.getfixturevalue("page")


def pytest_report_header(config) -> list[str]:
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return [f"database: {engine}; REQUIRE_SERVICES={int(REQUIRE_SERVICES)}"]
