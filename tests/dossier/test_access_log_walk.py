"""Every read of a household's data by someone other than its residents leaves an entry.

The list of what is walked comes from the URL resolver: every page whose view is marked
by `access_logged` and every API operation marked by `access_logged_api`. A second check
holds every URL that names a record by its id to one of two lists: it is marked, or it is
in EXEMPT below with the reason it carries no household's data. So a new page that shows
a household, a case, a visit, a message, a photo or a document and is not logged fails
here until it is marked (or someone writes down why it need not be).

Each marked URL is then asked for as each staff role that may read it (the assigned
coach, the coordinator, the municipality's staff, the initiative's API key), and each
answer must write exactly one entry naming who, their role or key, the page and the time.
htmx partials count; partials within one minute share one entry, the next minute writes
another (time-machine).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from auditlog.models import LogEntry
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.mfa import needs_mfa
from crm import services as crm_services
from crm.models import Visit
from dossier.access_log import access_logged, access_logged_api, page_label
from tests import builders
from tests.security.test_role_walk import (
    ACCESS,
    ADMIN,
    ARGS,
    COACH,
    COORDINATOR,
    NOT_OBJECTS,
    STAFF,
)
from tests.security.world import World, build_world

pytestmark = pytest.mark.django_db

# URLs that take an id but answer nothing of a household to staff, and why.
EXEMPT: dict[str, str] = {
    # Changes only: they answer with a redirect, and the change itself is in the audit log
    # (auditlog's registrations) with who made it.
    "dossier:report-retry": "a change; answers with a redirect or the report list partial",
    "dossier:report-printed": "a change; answers with a redirect or the report list partial",
    "dossier:dossier-invite": "a change (an invitation); answers with a redirect",
    "dossier:document-delete": "a deletion; answers with a redirect",
    "dossier:photo-delete": "a deletion; answers with a redirect",
    "crm:case-assign": "a change; answers with a redirect",
    "crm:case-transition": "a change; answers with a redirect",
    "crm:case-invite": "a change; answers with a redirect",
    "crm:visit-done": "a change; answers with a redirect",
    "crm:visit-cancel": "a change; answers with a redirect",
    "crm:task-done": "a change; answers with a redirect",
    # Records that are not a household's.
    "dossier:invitation-accept": "the resident's own invitation link, for the resident",
    "crm:initiative-dashboard": "an initiative's counts, no household",
    "crm:coach-profile": "a coach's profile, no household",
    "crm:import-mapping": "the coordinator's own upload",
    "crm:import-preview": "the coordinator's own upload",
    "crm:import-confirm": "the coordinator's own upload",
    "crm:import-result": "the coordinator's own upload",
    "crm:import-cancel": "the coordinator's own upload",
    "nip:programme-detail": "a programme, no household",
    "nip:programme-edit": "a programme, no household",
    "nip:business-case": "a programme's plan, no household",
    "nip:business-case-edit": "a programme's plan, no household",
    "nip:application-new": "a new intake: what the caller types",
    "nip:monitoring": "a programme's monitoring page: counts",
    "nip:monitoring-export-create": "starts an export; answers with a redirect",
    "nip:monitoring-export": "an export's progress",
    "dataplatform:agreement-detail": "a sharing agreement between organisations",
    "dataplatform:agreement-document": "a sharing agreement between organisations",
    "dataplatform:aggregates-csv": "published figures, no household",
    "dataplatform-api:aggregates": "published figures, no household",
    "accounts:organisation-detail": "an organisation",
    "accounts:api-token-list": "an organisation's keys",
    "accounts:api-token-create": "an organisation's keys",
    "accounts:api-token-revoke": "an organisation's keys",
    "privacy:household-erased": "what is left after an erasure: nothing personal",
    "privacy:retention-settings": "an initiative's settings",
    "privacy:retention-removals-csv": "the removal list: ids and dates only",
    "signup:form": "the public sign-up form of an initiative",
    "signup:thanks": "the public sign-up thanks page",
    "signup:privacy": "the public privacy statement",
    "crm-api:case-open": "answers with what the caller just sent",
}
# Whole namespaces: Django's admin, which shows no household's record (pinned below), and
# allauth's account pages (one's own account).
EXEMPT_NAMESPACES = {"admin"}
# What the admin must not show, or its pages would need logging as well.
HOUSEHOLD_MODELS = [
    "dossier.Household",
    "dossier.Dossier",
    "dossier.Message",
    "dossier.Document",
    "dossier.Photo",
    "dossier.AdviceReport",
    "crm.Case",
    "crm.CaseEvent",
    "crm.Visit",
    "crm.Task",
    "nip.Application",
]
# Shown in the admin by the household's id only, with no name, address or dossier.
ADMIN_BY_ID_ONLY = ["dataplatform.ConsentRecord"]
EXEMPT_PREFIXES = ("account_", "mfa_", "usersessions_")


@dataclass(frozen=True)
class Route:
    name: str
    arguments: tuple[str, ...]
    view: Any

    @property
    def marked(self) -> str | None:
        cls = getattr(self.view, "cls", None)
        return getattr(cls, "access_logged", None) or getattr(self.view, "access_logged", None)

    @property
    def listed(self) -> str | None:
        """A list or export logging each household it shows (test_access_log_lists.py)."""
        return getattr(self.view, "access_listed", None)


def _routes(resolver: URLResolver, namespace: str = "") -> Iterator[Route]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = entry.namespace or ""
            joined = f"{namespace}:{inner}" if namespace and inner else (inner or namespace)
            for route in _routes(entry, joined):
                yield Route(
                    route.name, tuple(entry.pattern.converters) + route.arguments, route.view
                )
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Route(name, tuple(entry.pattern.converters), entry.callback)


def routes() -> list[Route]:
    return list(_routes(get_resolver()))


def naming_a_record(route: Route) -> bool:
    return any(argument not in NOT_OBJECTS for argument in route.arguments)


def exempt(route: Route) -> bool:
    if route.name.split(":")[0] in EXEMPT_NAMESPACES or route.name.startswith(EXEMPT_PREFIXES):
        return True
    return route.name in EXEMPT


def test_every_url_naming_a_record_is_logged_or_exempt_with_a_reason():
    unaccounted = [
        route.name
        for route in routes()
        if naming_a_record(route) and not (route.marked or route.listed) and not exempt(route)
    ]
    assert unaccounted == [], "mark these with access_logged(_api), or exempt them with a reason"


def test_nothing_is_both_logged_and_exempt():
    both = [route.name for route in routes() if route.marked and route.name in EXEMPT]
    assert both == []
    assert all(reason.strip() for reason in EXEMPT.values())
    assert set(EXEMPT) <= {route.name for route in routes()}, "an exemption names a gone URL"


def test_the_admin_shows_no_household_s_record():
    from django.apps import apps
    from django.contrib import admin

    shown = [label for label in HOUSEHOLD_MODELS if apps.get_model(label) in admin.site._registry]
    assert shown == []
    for label in ADMIN_BY_ID_ONLY:
        model_admin = admin.site._registry[apps.get_model(label)]
        assert "household" not in [*model_admin.list_display, *model_admin.fields]


def test_an_unknown_subject_is_refused():
    with pytest.raises(ValueError, match="unknown subject"):
        access_logged("case", subject="somewhere")
    with pytest.raises(ValueError, match="unknown subject"):
        access_logged_api("crm_case_detail", subject="somewhere")


# The walk ------------------------------------------------------------------------------

# Who reads as which role: the world's people, and the initiative's key.
READERS = {COACH: "coach", COORDINATOR: "coordinator", STAFF: "staff", ADMIN: "admin"}
KEY = "api-key"
ROLE_CODES = {
    COACH: "coach",
    COORDINATOR: "coordinator",
    STAFF: "municipality_staff",
    ADMIN: "administrator",
}


@dataclass(frozen=True)
class Ask:
    """How to ask for a URL so that it answers with its data."""

    method: str = "get"
    data: dict[str, Any] | None = None
    json: bool = False
    htmx: bool = False
    # What the world needs first for the call to succeed (it is rolled back after).
    prepare: Any = None


def _cancel_the_visit(w: World) -> None:
    # One planned visit at a time: a new one needs the old one cancelled.
    crm_services.visit_cancel(visit=w.visit, actor=w.actor("coordinator").user)


def _visit_in_the_past(w: World) -> None:
    # Only a visit that has begun can be done.
    Visit.objects.filter(pk=w.visit.pk).update(
        planned_start=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    )


def _future(days: int = 10) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


# URLs that are not a plain GET: a form posted with nothing re-renders the page with its
# data (200 or 422); an API operation that changes something answers with the record.
ASKS: dict[str, Any] = {
    # Checked on the visit page: the provenance partial comes back.
    "dossier:value-check": lambda w: Ask("post", {"key": "build_year"}, htmx=True),
    "crm:case-note-add": lambda w: Ask("post", {}),
    "crm:case-known-address": lambda w: Ask("post", {}),
    "crm:visit-plan": lambda w: Ask("post", {}),
    "crm:task-add": lambda w: Ask("post", {}),
    "nip:application-approve": lambda w: Ask("post", {}),
    "nip:application-reject": lambda w: Ask("post", {}),
    "nip:application-withdraw": lambda w: Ask("post", {}),
    "nip:application-payment": lambda w: Ask("post", {}),
    "nip:application-species": lambda w: Ask("post", {}),
    "nip:application-measure": lambda w: Ask("post", {}),
    "nip:application-complete": lambda w: Ask("post", {}),
    "dossier-api:dossier-section-update": lambda w: Ask(
        "patch",
        {"version": w.household_a.dossier.sections.get(section="house").version, "values": {}},
        json=True,
    ),
    "crm-api:case-transition": lambda w: Ask(
        "post", {"action": "mark_dossier_filled_in"}, True, prepare=_cancel_the_visit
    ),
    "crm-api:case-assign": lambda w: Ask("post", {"coach": w.actor("coach").user.pk}, True),
    "crm-api:visit-plan": lambda w: Ask(
        "post", {"start": _future(20)}, True, prepare=_cancel_the_visit
    ),
    "crm-api:visit-done": lambda w: Ask("post", {}, True, prepare=_visit_in_the_past),
    "crm-api:visit-cancel": lambda w: Ask("post", {}, True),
    "crm-api:task-add": lambda w: Ask("post", {"title": "Bellen", "due_date": "2031-01-01"}, True),
    "crm-api:task-done": lambda w: Ask("post", {}, True),
}


def _client_for(world: World, reader: str) -> tuple[Client, dict[str, str]]:
    client = Client()
    if reader == KEY:
        return client, {"HTTP_AUTHORIZATION": f"Bearer {world.token_key}"}
    user = world.actor(READERS[reader]).user
    if needs_mfa(user):
        builders.log_in_with_second_step(client, user)
    else:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client, {}


def _url(world: World, name: str) -> str:
    kwargs = ARGS[name](world) if name in ARGS else {}
    return reverse(name, kwargs=kwargs)


def _ask(
    client: Client, world: World, name: str, headers: dict[str, str], *, prepare: bool = False
) -> Any:
    ask = ASKS[name](world) if name in ASKS else Ask()
    if prepare and ask.prepare is not None:
        ask.prepare(world)
    if ask.htmx:
        headers = {**headers, "HTTP_HX_REQUEST": "true"}
    call = getattr(client, ask.method)
    if ask.json:
        return call(_url(world, name), ask.data, content_type="application/json", **headers)
    return call(_url(world, name), ask.data or {}, **headers)


def accesses() -> list[LogEntry]:
    return list(LogEntry.objects.filter(action=LogEntry.Action.ACCESS).order_by("pk"))


def marked_routes() -> list[Route]:
    return [route for route in routes() if route.marked]


def readers_of(name: str) -> list[str]:
    allowed = ACCESS.get(name, frozenset())
    readers = [role for role in READERS if role in allowed]
    if name.startswith("crm-api:"):
        # The initiative's key acts as its coordinator on the CRM API.
        readers.append(KEY)
    return readers


WALK = [(route.name, reader) for route in marked_routes() for reader in readers_of(route.name)]


def test_every_logged_url_is_walked_by_someone():
    # The role walk's table (tests/security/test_role_walk.py) says who may read it.
    assert [route.name for route in marked_routes() if not readers_of(route.name)] == []


def test_the_walk_covers_the_pages_the_issue_names():
    walked = {name for name, _reader in WALK}
    for name in [
        "dossier:household-detail",
        "dossier:dossier-section",
        "dossier:dossier-messages",
        "dossier:dossier-photos",
        "dossier:photo-image",
        "dossier:dossier-documents",
        "dossier:document-file",
        "crm:follow-up",
        "crm:case-detail",
        "nip:application-detail",
        "dossier-api:dossier-detail",
        "dossier-api:dossier-list",
        "crm-api:household-detail",
        "crm-api:household-list",
    ]:
        assert name in walked, name
    assert (("crm-api:household-detail", KEY)) in WALK
    assert ("nip:application-detail", STAFF) in WALK


@pytest.fixture
def world(db) -> World:
    return build_world()


def _expected_subject(world: World, name: str) -> tuple[str, int]:
    """The record the entry is on: the household, its dossier, or a desk application."""
    household, dossier = world.household_a, world.household_a.dossier
    if name.startswith("nip:application"):
        return "application", world.application.pk
    if name == "crm:follow-up":
        return "dossier", dossier.pk
    on_the_household = {
        "dossier:household-detail",
        "nip:household-intake",
        "dataplatform:consent",
        "privacy:household-erase",
    }
    if name in on_the_household or name.startswith(("crm:", "crm-api:")):
        return "household", household.pk
    return "dossier", dossier.pk


@pytest.mark.parametrize(("name", "reader"), WALK)
def test_each_read_writes_one_entry(world, name, reader):
    client, headers = _client_for(world, reader)
    LogEntry.objects.filter(action=LogEntry.Action.ACCESS).delete()

    response = _ask(client, world, name, headers, prepare=True)

    # An API answers with the record on success; a page may show its form again.
    carrying = (200, 201) if "-api:" in name else (200, 409, 422)
    assert response.status_code in carrying, (response.status_code, name)
    entries = accesses()
    lists = {"dossier-api:dossier-list", "crm-api:case-list", "crm-api:household-list"}
    lists |= {"crm-api:visit-list", "crm-api:task-list"}
    subject = _expected_subject(world, name)
    if name in lists:
        # A list: one entry per household on the page; household A1 is one of them.
        entries = [e for e in entries if (e.content_type.model, e.object_id) == subject]
    assert len(entries) == 1, [e.additional_data for e in entries]
    [entry] = entries
    assert (entry.content_type.model, entry.object_id) == subject
    data = entry.additional_data
    if reader == KEY:
        assert entry.actor is None
        assert data["api_key"] == {"id": world.token.pk, "name": "Website"}
        assert data["roles"] == ["coordinator"]
        assert world.token_key not in str(data)
    else:
        user = world.actor(READERS[reader]).user
        assert entry.actor == user
        assert "api_key" not in data
        assert ROLE_CODES[reader] in data["roles"]
    marked = next(route.marked for route in routes() if route.name == name)
    assert data["page"] == marked
    if name == "dossier:dossier-section":
        assert data["topic"] == "house"
    assert entry.timestamp is not None
    assert page_label(data["page"])

    # The same read again within the minute: no second entry.
    written = len(accesses())
    _ask(client, world, name, headers)
    assert len(accesses()) == written


# Partials, minutes, and who is not logged --------------------------------------------


def _next_minute(seconds: int) -> dt.datetime:
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    return now + dt.timedelta(minutes=5, seconds=seconds)


@pytest.mark.parametrize(
    "name", ["dossier:dossier-section", "dossier:household-detail", "dossier:report-progress"]
)
def test_htmx_partials_share_one_entry_per_minute(world, name):
    client, _headers = _client_for(world, COACH)
    url = _url(world, name)
    start = _next_minute(5)

    with time_machine.travel(start, tick=False):
        for _ in range(3):
            assert client.get(url, HTTP_HX_REQUEST="true").status_code == 200
        assert len(accesses()) == 1
    with time_machine.travel(start + dt.timedelta(seconds=50), tick=False):
        # Still the same minute.
        client.get(url, HTTP_HX_REQUEST="true")
        assert len(accesses()) == 1
    with time_machine.travel(start + dt.timedelta(seconds=60), tick=False):
        client.get(url, HTTP_HX_REQUEST="true")
        client.get(url, HTTP_HX_REQUEST="true")

    first, second = accesses()
    assert second.timestamp - first.timestamp == dt.timedelta(seconds=60)
    assert (first.actor, first.additional_data) == (second.actor, second.additional_data)


def test_another_topic_or_page_in_the_same_minute_is_its_own_entry(world):
    client, _headers = _client_for(world, COACH)
    dossier = world.household_a.dossier.pk
    with time_machine.travel(_next_minute(1), tick=False):
        client.get(reverse("dossier:dossier-section", args=[dossier, "house"]))
        client.get(reverse("dossier:dossier-section", args=[dossier, "energy"]))
        client.get(reverse("dossier:dossier-messages", args=[dossier]))
    assert [(e.additional_data["page"], e.additional_data.get("topic")) for e in accesses()] == [
        ("section", "house"),
        ("section", "energy"),
        ("messages", None),
    ]


def test_an_autosave_answering_the_topic_is_a_read_too(world):
    from tests.dossier.test_dossier_pages import form_data, step

    client, _headers = _client_for(world, COACH)
    household = world.household_a
    response = client.post(
        step(household, "house"),
        form_data(household, floor_area_m2="99"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    [entry] = accesses()
    assert entry.additional_data["page"] == "section"
    assert entry.additional_data["topic"] == "house"


@pytest.mark.parametrize("resident", ["resident"])
def test_residents_reading_their_own_home_write_nothing(world, resident):
    client, _headers = Client(), {}
    client.force_login(world.actor(resident).user)
    read = 0
    for route in marked_routes():
        if "resident" not in ACCESS.get(route.name, frozenset()):
            continue
        response = _ask(client, world, route.name, {})
        read += response.status_code == 200
    assert read >= 10
    assert accesses() == []


def test_a_coordinator_who_lives_in_the_home_reads_it_as_a_resident(world):
    coordinator = world.actor("coordinator").user
    world.household_a.residents.add(coordinator)
    client, _headers = _client_for(world, COORDINATOR)

    assert client.get(_url(world, "dossier:dossier-overview")).status_code == 200
    assert client.get(_url(world, "crm:case-detail")).status_code == 200

    assert accesses() == []


@pytest.mark.parametrize("outsider", ["coach_b", "coordinator_b", "staff_b", "coach_unassigned"])
def test_a_refused_read_writes_nothing(world, outsider):
    client = Client()
    user = world.actor(outsider).user
    if needs_mfa(user):
        builders.log_in_with_second_step(client, user)
    else:
        client.force_login(user)
    for route in marked_routes():
        if route.name in ("dossier-api:dossier-list", "crm-api:case-list") or route.name.endswith(
            "-list"
        ):
            continue
        response = _ask(client, world, route.name, {})
        assert response.status_code in (302, 400, 403, 404, 405), (route.name, response)
    assert accesses() == []


def test_a_list_of_the_api_logs_each_household_on_the_page(world):
    client, headers = _client_for(world, KEY)
    response = client.get(reverse("crm-api:household-list"), **headers)

    ids = sorted(row["id"] for row in response.json()["results"])
    assert len(ids) == 2  # A1 and the other household of initiative A
    assert sorted(e.object_id for e in accesses()) == ids
    assert {e.additional_data["page"] for e in accesses()} == {"api:crm_household_list"}


def test_a_desk_application_is_logged_on_itself_and_a_household_s_on_the_household(world):
    client, _headers = _client_for(world, STAFF)
    url = _url(world, "nip:application-detail")
    assert client.get(url).status_code == 200
    [desk] = accesses()
    assert (desk.content_type.model, desk.object_id) == ("application", world.application.pk)
    assert desk.object_repr == f"application {world.application.pk}"

    type(world.application).objects.filter(pk=world.application.pk).update(
        household=world.household_a
    )
    LogEntry.objects.all().delete()
    from django.core.cache import cache

    cache.clear()
    assert client.get(url).status_code == 200
    [entry] = accesses()
    assert (entry.content_type.model, entry.object_id) == ("household", world.household_a.pk)
    assert entry.additional_data["roles"] == ["municipality_staff"]


def test_the_coordinator_sees_which_key_read_the_household(world):
    client, headers = _client_for(world, KEY)
    client.get(_url(world, "crm-api:household-detail"), **headers)
    coordinator, _ = _client_for(world, COORDINATOR)

    page = coordinator.get(_url(world, "dossier:household-detail")).text

    assert "API-sleutel Website" in page
    assert "crm_household_detail" in page
    assert world.token_key not in page
