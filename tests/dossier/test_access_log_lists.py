"""Lists, searches and exports that show several households to staff log each of them.

Issue 19 point 7: a response that carries a household's data to someone other than its
residents writes an entry. A page with one record is walked by test_access_log_walk.py;
this file walks the others: every staff page without a record's id (dashboards, lists,
queues, exports), and the lists and exports under an organisation's or programme's id.
Each is marked by `access_logged_list` (and calls `access_log.listed` with the rows it
shows) or is on LIST_EXEMPT with the reason it shows no household. A marked list writes
one entry per household shown, for each staff role that may read it, once per minute,
in a fixed number of queries; nothing for a resident or for another organisation's staff.
"""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.mfa import needs_mfa
from dossier import access_log
from dossier.models import Household
from tests import builders
from tests.dossier.test_access_log_walk import (
    READERS,
    ROLE_CODES,
    Route,
    _client_for,
    _url,
    accesses,
    naming_a_record,
    routes,
)
from tests.security.test_role_walk import ACCESS, COACH, COORDINATOR, STAFF
from tests.security.world import World, build_world

pytestmark = pytest.mark.django_db

# Pages that staff may open without a record's id, and why they show no household's
# name, address or answers.
LIST_EXEMPT: dict[str, str] = {
    "home": "redirects to the dashboard",
    "health": "a health check",
    "ready": "a health check",
    "crm:import-upload": "the coordinator's own upload form",
    "crm:dashboard": "redirects to the initiative's dashboard (counts only)",
    "crm:case-bulk-assign": "a change (POST); answers with a redirect to the queue",
    "crm:coach-list": "coaches and their workload (counts), no household",
    "nip:programme-list": "programmes and their budgets, no household",
    "nip:programme-new": "a form for a new programme",
    "dataplatform:agreement-list": "sharing agreements between organisations",
    "dataplatform:dashboard": "published figures per area, no household",
    "dataplatform:aggregates-csv": "published figures per area, no household",
    "privacy:register-csv": "the processing register, no household",
    "privacy:my-data": "the resident's own data, for the resident only",
    "privacy:my-data-json": "the resident's own data, for the resident only",
    "privacy:my-data-pdf": "the resident's own data, for the resident only",
    "dossier-api:advice-calculate": "calculates from what the caller sends",
    "crm-api:case-open": "answers with what the caller just sent",
    "nip-api:eligibility": "calculates from what the caller sends",
    "dataplatform-api:aggregates": "published figures per area, no household",
    "api-schema": "the API's description",
}
# API lists are logged by access_logged_api (the walk test).
API_NAMESPACES = ("dossier-api:", "crm-api:", "nip-api:", "dataplatform-api:")
STAFF_ROLES = {"coach", "any-coach", "coordinator", "staff", "admin", "analyst"}
EXEMPT_PREFIXES = ("admin:", "account_", "mfa_", "usersessions_")

# How to ask a marked list for its rows, when a plain GET does not.
QUERY: dict[str, dict[str, str]] = {"dataplatform:address-export": {"format": "csv"}}


def staff_pages_without_an_id() -> list[Route]:
    return [
        route
        for route in routes()
        if not naming_a_record(route)
        and not route.name.startswith(EXEMPT_PREFIXES)
        and ACCESS.get(route.name, frozenset()) & STAFF_ROLES
    ]


def listed_routes() -> list[Route]:
    return [route for route in routes() if route.listed]


def test_every_staff_page_without_an_id_logs_its_households_or_is_exempt():
    unaccounted = [
        route.name
        for route in staff_pages_without_an_id()
        if not route.listed
        and not route.marked
        and route.name not in LIST_EXEMPT
        and not route.name.startswith(API_NAMESPACES)
    ]
    assert unaccounted == [], "call access_log.listed and mark it, or exempt it with a reason"
    assert all(reason.strip() for reason in LIST_EXEMPT.values())
    names = {route.name for route in routes()}
    assert set(LIST_EXEMPT) <= names, "an exemption names a gone URL"
    assert not {route.name for route in listed_routes()} & set(LIST_EXEMPT)


def test_the_lists_the_brief_names_are_marked():
    listed = {route.name: route.listed for route in listed_routes()}
    assert listed == {
        "dossier:dashboard": "dashboard",
        "dossier:household-list": "household_list",
        "crm:case-list": "case_list",
        "crm:visit-list": "visit_list",
        "crm:case-export": "case_export",
        "nip:application-list": "application_list",
        "nip:monitoring-download": "monitoring_export",
        "nip:monitoring-export-download": "monitoring_export",
        "dataplatform:consent-overview": "consent_overview",
        "dataplatform:address-export": "address_export",
    }
    assert all(access_log.page_label(code) != code for code in listed.values())


def test_an_unknown_list_page_is_refused():
    with pytest.raises(ValueError, match="unknown page"):
        access_log.access_logged_list("somewhere")


@pytest.fixture
def world(db) -> World:
    return build_world()


def _get(client: Client, world: World, name: str, headers: dict[str, str] | None = None):
    return client.get(_url(world, name), QUERY.get(name, {}), **(headers or {}))


def _body(response) -> str:
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _subjects(entries: list[LogEntry]) -> list[tuple[str, int]]:
    return [(e.content_type.model, e.object_id) for e in entries]


# Which of the world's records a reader's list shows: household A1, or for the NIP lists
# the desk application (of no household). None: the world has no row for it.
SHOWS_A1 = {
    ("dossier:dashboard", COORDINATOR),
    ("dossier:household-list", COORDINATOR),
    ("dossier:household-list", COACH),
    ("crm:case-list", COORDINATOR),
    ("crm:case-list", COACH),
    ("crm:visit-list", COACH),
    ("crm:case-export", COORDINATOR),
    ("dataplatform:consent-overview", COORDINATOR),
}

WALK = [
    (route.name, reader)
    for route in listed_routes()
    for reader in READERS
    if reader in ACCESS.get(route.name, frozenset())
]


def test_each_list_is_walked_by_a_staff_role():
    walked = {name for name, _reader in WALK}
    assert walked == {route.name for route in listed_routes()}
    assert ("crm:case-list", COORDINATOR) in WALK
    assert ("nip:application-list", STAFF) in WALK


@pytest.mark.parametrize(("name", "reader"), WALK)
def test_each_list_writes_one_entry_per_household_shown(world, name, reader):
    client, headers = _client_for(world, reader)
    LogEntry.objects.all().delete()

    response = _get(client, world, name, headers)

    assert response.status_code == 200, (name, response.status_code)
    body = _body(response)
    # An export's download is logged on the organisation too (accounts.exports.export_log).
    entries = [e for e in accesses() if "export" not in e.additional_data]
    subjects = _subjects(entries)
    assert len(subjects) == len(set(subjects)), "one entry per household"
    user = world.actor(READERS[reader]).user
    marked = next(route.listed for route in routes() if route.name == name)
    for entry in entries:
        assert entry.actor == user
        assert entry.additional_data["page"] == marked
        assert ROLE_CODES[reader] in entry.additional_data["roles"]
        # The entry names the record by its id, never the household's name.
        assert entry.object_repr == f"{entry.content_type.model} {entry.object_id}"
    # Household A1 is logged exactly when the answer shows its name, street or e-mail.
    shows_a1 = any(secret in body for secret in world.household_a_secrets)
    if not name.startswith("nip:"):  # the desk application is at A1's street
        assert shows_a1 == (("household", world.household_a.pk) in subjects), (shows_a1, subjects)
    if (name, reader) in SHOWS_A1:
        assert shows_a1
    if name == "nip:application-list":
        assert ("application", world.application.pk) in subjects
    # Initiative B's household is never in initiative A's people's lists.
    assert ("household", world.household_b.pk) not in subjects

    # The same list again within the minute: no second entry.
    _body(_get(client, world, name, headers))
    assert [e for e in accesses() if "export" not in e.additional_data] == entries


def test_the_queue_logs_exactly_the_households_of_its_cases(world):
    client, _headers = _client_for(world, COORDINATOR)
    response = client.get(_url(world, "crm:case-list"))
    shown = {case.household_id for case in response.context["cases"]}
    shown |= {report.dossier.household_id for report in response.context["to_print"]}
    assert world.household_a.pk in shown
    assert sorted(e.object_id for e in accesses()) == sorted(shown)
    assert {e.content_type.model for e in accesses()} == {"household"}


def test_the_export_without_addresses_writes_no_household_entries(world):
    client, _headers = _client_for(world, COORDINATOR)
    url = _url(world, "crm:case-export").replace("met-adres", "zonder-adres")
    response = client.get(url)
    assert response.status_code == 200
    b"".join(response.streaming_content)
    assert [e for e in accesses() if e.content_type.model == "household"] == []


@pytest.mark.parametrize("name", ["dossier:dashboard", "dossier:household-list"])
def test_a_resident_reading_their_own_home_in_a_list_writes_nothing(world, name):
    client = Client()
    client.force_login(world.actor("resident").user)
    response = client.get(_url(world, name))
    assert response.status_code == 200
    assert accesses() == []


@pytest.mark.parametrize(
    ("name", "outsider"),
    [
        ("dossier:dashboard", "coordinator_b"),
        ("dossier:household-list", "coordinator_b"),
        ("crm:case-list", "coordinator_b"),
        ("crm:visit-list", "coordinator_b"),
        ("dataplatform:consent-overview", "coordinator_b"),
        ("dossier:dashboard", "staff_b"),
        ("dossier:dashboard", "coach_unassigned"),
        ("crm:case-list", "coach_unassigned"),
    ],
)
def test_another_organisation_s_staff_write_nothing_on_its_households(world, name, outsider):
    client = Client()
    user = world.actor(outsider).user
    if needs_mfa(user):
        builders.log_in_with_second_step(client, user)
    else:
        client.force_login(user)
    client.get(_url(world, name))
    initiative_a = set(
        Household.objects.filter(initiative=world.initiative_a).values_list("pk", flat=True)
    )
    logged = {e.object_id for e in accesses() if e.content_type.model == "household"}
    assert world.household_a.pk not in logged
    if outsider.endswith("_b"):
        assert logged & initiative_a == set()
    assert all(e.actor == user for e in accesses())


def _queries(client: Client, url: str) -> int:
    LogEntry.objects.all().delete()
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("name", ["dossier:household-list", "dossier:dashboard"])
def test_a_coordinator_s_list_of_200_households_costs_a_fixed_number_of_queries(world, name):
    client, _headers = _client_for(world, COORDINATOR)
    url = _url(world, name)
    client.get(url)  # warm up caches (content types, session)
    few = _queries(client, url)
    written_few = len(accesses())

    Household.objects.bulk_create(
        Household(initiative=world.initiative_a, dwelling=builders.make_dwelling(), name=f"H{n}")
        for n in range(200)
    )
    many = _queries(client, url)

    assert many == few
    expected = 10 if name == "dossier:dashboard" else written_few + 200
    assert len(accesses()) == expected


@pytest.mark.parametrize("name", ["nip:monitoring-download", "nip:monitoring-export-download"])
def test_a_monitoring_file_logs_each_home_in_its_period(world, name):
    from tests.nip.test_export_views import home

    at_a1 = home(world.programme, household=world.household_a)
    desk = home(world.programme)
    client, _headers = _client_for(world, STAFF)

    response = client.get(_url(world, name))

    assert response.status_code == 200
    _body(response)
    listed = [e for e in accesses() if e.additional_data.get("page") == "monitoring_export"]
    assert sorted(_subjects(listed)) == sorted(
        [("household", world.household_a.pk), ("application", desk.pk)]
    )
    assert at_a1.household_id == world.household_a.pk
    assert all(e.actor == world.actor("staff").user for e in listed)
    # The world's other (not granted) application is not in the file, nor in the log.
    assert ("application", world.application.pk) not in _subjects(listed)
