"""The CRM API under /api/v1/: cases, households, visits and tasks, for keys and people."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import time_machine
import yaml
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import api_tokens
from accounts.models import ApiToken, Membership
from accounts.roles import Role
from crm import pipeline, services
from crm.models import (
    Case,
    CaseEvent,
    CaseStatus,
    CoachProfile,
    EventKind,
    PrivacyStatement,
    Task,
    Visit,
    VisitStatus,
)
from dossier.models import Dwelling, Household
from tests import builders

pytestmark = pytest.mark.django_db

API = "/api/v1"


# The cast's keys and cases ---------------------------------------------------------------


def key_client(key: str, **kwargs) -> Client:
    return Client(headers={"Authorization": f"Bearer {key}"}, **kwargs)


@pytest.fixture
def key_a(cast) -> str:
    _token, key = api_tokens.api_token_create(
        organisation=cast.initiative_a, name="Website", actor=cast.coordinator
    )
    return key


@pytest.fixture
def key_b(cast) -> str:
    _token, key = api_tokens.api_token_create(
        organisation=cast.initiative_b, name="Website B", actor=cast.coordinator_b
    )
    return key


@pytest.fixture
def api_a(key_a) -> Client:
    """A system holding initiative A's key."""
    return key_client(key_a)


@pytest.fixture
def api_b(key_b) -> Client:
    """A system holding initiative B's key."""
    return key_client(key_b)


@pytest.fixture
def alice_case(cast) -> Case:
    """Household A1's case, assigned to Alice."""
    case = services.case_open(household=cast.household_a, contact_email="alfa@example.org")
    return services.case_assign(case=case, coach=cast.alice, actor=cast.coordinator)


@pytest.fixture
def bob_case(cast) -> Case:
    case = services.case_open(household=cast.household_a2, contact_phone="06 11111111")
    return services.case_assign(case=case, coach=cast.bob, actor=cast.coordinator)


@pytest.fixture
def b_case(cast) -> Case:
    case = services.case_open(household=cast.household_b, contact_email="gamma@example.org")
    return services.case_assign(case=case, coach=cast.charlie, actor=cast.coordinator_b)


@pytest.fixture
def visit(cast, alice_case) -> Visit:
    return services.visit_plan(
        case=alice_case,
        coach=cast.alice,
        start=timezone.now() + dt.timedelta(days=3),
        duration_minutes=90,
        actor=cast.alice,
    )


@pytest.fixture
def task(cast, alice_case) -> Task:
    return services.task_add(
        case=alice_case,
        assignee=cast.alice,
        title="Terugbellen",
        due_date=timezone.localdate() + dt.timedelta(days=2),
        actor=cast.coordinator,
    )


@pytest.fixture
def rows(alice_case, bob_case, b_case, visit, task) -> dict[str, object]:
    """One of everything: cases in both initiatives, a visit and a task on Alice's case."""
    return {"alice_case": alice_case, "bob_case": bob_case, "b_case": b_case}


@pytest.fixture
def statement(cast) -> PrivacyStatement:
    return PrivacyStatement.objects.create(
        initiative=cast.initiative_a,
        version="2026-1",
        text="Wij gebruiken uw gegevens alleen om u te helpen.",
        valid_from=timezone.now() - dt.timedelta(days=1),
    )


def post(client: Client, url: str, body: dict | None = None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def every_url(case: Case, visit: Visit, task: Task) -> list[tuple[str, str]]:
    """(method, url) of every operation of the CRM API, on rows of initiative A."""
    return [
        ("get", f"{API}/cases/"),
        ("post", f"{API}/cases/open/"),
        ("get", f"{API}/cases/{case.pk}/"),
        ("post", f"{API}/cases/{case.pk}/transition/"),
        ("post", f"{API}/cases/{case.pk}/assign/"),
        ("post", f"{API}/cases/{case.pk}/visits/"),
        ("post", f"{API}/cases/{case.pk}/tasks/"),
        ("get", f"{API}/households/"),
        ("get", f"{API}/households/{case.household_id}/"),
        ("get", f"{API}/visits/"),
        ("get", f"{API}/visits/{visit.pk}/"),
        ("post", f"{API}/visits/{visit.pk}/done/"),
        ("post", f"{API}/visits/{visit.pk}/cancel/"),
        ("get", f"{API}/tasks/"),
        ("post", f"{API}/tasks/{task.pk}/done/"),
    ]


def call(client: Client, method: str, url: str, body: dict | None = None):
    return post(client, url, body) if method == "post" else client.get(url)


def unchanged(case: Case, visit: Visit, task: Task) -> None:
    """Nothing of these rows moved."""
    assert Case.objects.get(pk=case.pk).status == CaseStatus.VISIT_PLANNED
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.PLANNED
    assert Task.objects.get(pk=task.pk).done_at is None
    assert Task.objects.filter(case=case).count() == 1
    assert Visit.objects.filter(case=case).count() == 1


# Who may call at all ----------------------------------------------------------------------


def test_every_operation_refuses_anonymous_callers_with_a_bearer_challenge(
    cast, client, alice_case, visit, task
):
    for method, url in every_url(alice_case, visit, task):
        response = call(client, method, url, {"action": "withdraw"})
        assert response.status_code == 401, (method, url)
        assert response["WWW-Authenticate"].startswith("Bearer"), url
    unchanged(alice_case, visit, task)


@pytest.mark.parametrize("who", ["resident", "municipality_staff", "province_analyst"])
def test_every_operation_refuses_people_who_are_not_crm_staff(
    cast, login, who, alice_case, visit, task
):
    client = login(getattr(cast, who))
    for method, url in every_url(alice_case, visit, task):
        response = call(client, method, url, {"action": "withdraw"})
        assert response.status_code == 403, (method, url)
    unchanged(alice_case, visit, task)


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda t: setattr(t, "revoked_at", timezone.now()), id="revoked"),
        pytest.param(
            lambda t: setattr(t, "expires_at", timezone.now() - dt.timedelta(seconds=1)),
            id="expired",
        ),
    ],
)
def test_every_operation_refuses_a_revoked_or_expired_key(
    cast, key_a, spoil, alice_case, visit, task
):
    token = ApiToken.objects.get(organisation=cast.initiative_a)
    spoil(token)
    token.save()
    client = key_client(key_a)
    for method, url in every_url(alice_case, visit, task):
        response = call(client, method, url, {"action": "withdraw"})
        assert response.status_code == 401, (method, url)
    unchanged(alice_case, visit, task)


def test_a_key_works_until_the_moment_it_expires(cast, key_a, api_a, alice_case):
    ApiToken.objects.filter(organisation=cast.initiative_a).update(
        expires_at=timezone.now() + dt.timedelta(minutes=5)
    )
    assert api_a.get(f"{API}/cases/").status_code == 200


def test_a_key_of_a_deactivated_initiative_is_refused(cast, api_a, alice_case):
    cast.initiative_a.is_active = False
    cast.initiative_a.save()
    assert api_a.get(f"{API}/cases/").status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wd_not-a-key-at-all",
        "Bearer",
        "Bearer two parts",
        "Token " + "wd_" + "x" * 200,
    ],
)
def test_an_unknown_or_malformed_key_is_refused(cast, alice_case, header):
    client = Client(headers={"Authorization": header})
    assert client.get(f"{API}/cases/").status_code == 401


def test_the_token_keyword_works_as_well_as_bearer(cast, key_a, alice_case):
    client = Client(headers={"Authorization": f"Token {key_a}"})
    assert ids(client.get(f"{API}/cases/")) == {alice_case.pk}


def test_a_key_opens_neither_the_dossier_api_nor_the_pages(cast, api_a, alice_case):
    assert api_a.get(f"{API}/dossiers/").status_code == 403
    dossier = cast.household_a.dossier
    assert api_a.get(f"{API}/dossiers/{dossier.pk}/").status_code == 403
    response = api_a.get("/aanmeldingen/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_key_writes_without_a_csrf_token_but_a_session_needs_one(cast, key_a, alice_case):
    body = {"action": pipeline.MARK_DOSSIER_FILLED_IN}
    url = f"{API}/cases/{alice_case.pk}/transition/"
    session = Client(enforce_csrf_checks=True)
    builders.log_in_with_second_step(session, cast.coordinator)
    assert post(session, url, body).status_code == 403
    assert Case.objects.get(pk=alice_case.pk).status == CaseStatus.COACH_ASSIGNED

    response = post(key_client(key_a, enforce_csrf_checks=True), url, body)
    assert response.status_code == 200, response.content
    assert Case.objects.get(pk=alice_case.pk).status == CaseStatus.DOSSIER_FILLED_IN


# Lists ------------------------------------------------------------------------------------


def test_a_key_lists_its_own_initiative_only(cast, api_a, api_b, rows):
    alice_case, bob_case, b_case = rows["alice_case"], rows["bob_case"], rows["b_case"]
    assert ids(api_a.get(f"{API}/cases/")) == {alice_case.pk, bob_case.pk}
    assert ids(api_b.get(f"{API}/cases/")) == {b_case.pk}
    assert ids(api_a.get(f"{API}/households/")) == {
        cast.household_a.pk,
        cast.household_a2.pk,
    }
    assert ids(api_b.get(f"{API}/households/")) == {cast.household_b.pk}
    assert ids(api_a.get(f"{API}/visits/")) == set(
        Visit.objects.filter(case=alice_case).values_list("pk", flat=True)
    )
    assert ids(api_b.get(f"{API}/visits/")) == set()
    assert ids(api_a.get(f"{API}/tasks/")) == set(
        Task.objects.filter(case=alice_case).values_list("pk", flat=True)
    )
    assert ids(api_b.get(f"{API}/tasks/")) == set()


def test_a_session_coordinator_lists_the_whole_initiative(cast, login, rows):
    client = login(cast.coordinator)
    assert ids(client.get(f"{API}/cases/")) == {rows["alice_case"].pk, rows["bob_case"].pk}
    assert ids(client.get(f"{API}/households/")) == {cast.household_a.pk, cast.household_a2.pk}
    assert len(ids(client.get(f"{API}/visits/"))) == 1
    assert len(ids(client.get(f"{API}/tasks/"))) == 1


def test_a_coach_lists_only_the_cases_assigned_to_them(cast, login, rows):
    alice, bob = login(cast.alice), Client()
    bob.force_login(cast.bob, backend="django.contrib.auth.backends.ModelBackend")
    assert ids(alice.get(f"{API}/cases/")) == {rows["alice_case"].pk}
    assert ids(bob.get(f"{API}/cases/")) == {rows["bob_case"].pk}
    assert ids(alice.get(f"{API}/households/")) == {cast.household_a.pk}
    assert ids(bob.get(f"{API}/households/")) == {cast.household_a2.pk}
    assert len(ids(alice.get(f"{API}/visits/"))) == 1
    assert ids(bob.get(f"{API}/visits/")) == set()
    assert len(ids(alice.get(f"{API}/tasks/"))) == 1
    assert ids(bob.get(f"{API}/tasks/")) == set()


def test_the_case_list_shows_the_case_and_its_next_steps(cast, api_a, alice_case):
    row = api_a.get(f"{API}/cases/").json()["results"][0]
    assert row["id"] == alice_case.pk
    assert row["household"] == cast.household_a.pk
    assert row["initiative"] == cast.initiative_a.pk
    assert row["assigned_coach"] == cast.alice.pk
    assert row["status"] == "coach_assigned"
    assert row["contact_email"] == "alfa@example.org"
    assert row["next_actions"] == list(pipeline.allowed_actions("coach_assigned"))


def test_it_filters_cases_by_status_time_of_change_and_postcode_area(cast, api_a, rows):
    alice_case, bob_case = rows["alice_case"], rows["bob_case"]
    elsewhere = builders.make_dwelling(postcode="3512JK")
    other = services.case_open(
        household=builders.make_household(cast.initiative_a, dwelling=elsewhere)
    )
    Case.objects.filter(pk=bob_case.pk).update(updated_at=timezone.now() - dt.timedelta(days=9))
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()

    assert ids(api_a.get(f"{API}/cases/", {"status": "new"})) == {other.pk}
    assert ids(api_a.get(f"{API}/cases/", {"status": "visit_planned"})) == {alice_case.pk}
    assert ids(api_a.get(f"{API}/cases/", {"updated_since": since})) == {alice_case.pk, other.pk}
    assert ids(api_a.get(f"{API}/cases/", {"area": "3512"})) == {other.pk}
    assert ids(api_a.get(f"{API}/cases/", {"household": cast.household_a2.pk})) == {bob_case.pk}
    for bad in ({"status": "lost"}, {"area": "35"}, {"updated_since": "yesterday"}):
        response = api_a.get(f"{API}/cases/", bad)
        assert response.status_code == 400
        assert set(response.json()) == set(bad)


def test_it_pages_the_lists(cast, api_a, rows):
    body = api_a.get(f"{API}/cases/", {"page_size": 1}).json()
    assert body["count"] == 2
    assert len(body["results"]) == 1
    assert body["next"] is not None


def test_it_filters_households_by_area_and_coach(cast, api_a, rows):
    elsewhere = builders.make_dwelling(postcode="3512JK")
    other = builders.make_household(cast.initiative_a, dwelling=elsewhere, coach=cast.bob)
    assert ids(api_a.get(f"{API}/households/", {"area": "3512"})) == {other.pk}
    assert ids(api_a.get(f"{API}/households/", {"coach": cast.bob.pk})) == {
        cast.household_a2.pk,
        other.pk,
    }


def test_it_filters_visits_by_status_and_days(cast, api_a, rows, visit):
    day = timezone.localdate(visit.planned_start)
    assert ids(api_a.get(f"{API}/visits/", {"status": "planned"})) == {visit.pk}
    assert ids(api_a.get(f"{API}/visits/", {"status": "done"})) == set()
    assert ids(api_a.get(f"{API}/visits/", {"date_from": day, "date_to": day})) == {visit.pk}
    after = day + dt.timedelta(days=1)
    assert ids(api_a.get(f"{API}/visits/", {"date_from": after})) == set()
    assert ids(api_a.get(f"{API}/visits/", {"date_to": day - dt.timedelta(days=1)})) == set()
    response = api_a.get(f"{API}/visits/", {"date_from": after, "date_to": day})
    assert response.status_code == 400
    assert "date_to" in response.json()


def test_it_filters_tasks_by_state_and_assignee(cast, api_a, rows, task):
    other = services.task_add(
        case=rows["bob_case"],
        assignee=cast.bob,
        title="Offerte nabellen",
        due_date=timezone.localdate(),
        actor=cast.coordinator,
    )
    services.task_done(task=other, actor=cast.bob)
    assert ids(api_a.get(f"{API}/tasks/", {"state": "open"})) == {task.pk}
    assert ids(api_a.get(f"{API}/tasks/", {"state": "done"})) == {other.pk}
    assert ids(api_a.get(f"{API}/tasks/", {"assignee": cast.alice.pk})) == {task.pk}
    assert api_a.get(f"{API}/tasks/", {"state": "later"}).status_code == 400


# Details ----------------------------------------------------------------------------------


def test_the_household_shows_its_address_coach_and_open_cases_contact(cast, api_a, alice_case):
    response = api_a.get(f"{API}/households/{cast.household_a.pk}/")
    assert response.status_code == 200
    body = response.json()
    dwelling = cast.household_a.dwelling
    assert body["name"] == "Familie Alfa"
    assert body["address"]["postcode"] == dwelling.postcode
    assert body["address"]["house_number"] == dwelling.house_number
    assert body["assigned_coach"] == cast.alice.pk
    assert body["open_case"] == {
        "id": alice_case.pk,
        "status": "coach_assigned",
        "contact_email": "alfa@example.org",
        "contact_phone": "",
    }
    services.case_transition(case=alice_case, action=pipeline.WITHDRAW, actor=cast.coordinator)
    assert api_a.get(f"{API}/households/{cast.household_a.pk}/").json()["open_case"] is None


def test_details_of_another_initiative_are_not_found(cast, api_b, rows, visit):
    alice_case = rows["alice_case"]
    assert api_b.get(f"{API}/cases/{alice_case.pk}/").status_code == 404
    assert api_b.get(f"{API}/households/{cast.household_a.pk}/").status_code == 404
    assert api_b.get(f"{API}/visits/{visit.pk}/").status_code == 404
    assert api_b.get(f"{API}/cases/{rows['b_case'].pk}/").status_code == 200


def test_a_key_reads_the_details_of_its_initiative(cast, api_a, rows, visit):
    alice_case = rows["alice_case"]
    body = api_a.get(f"{API}/cases/{alice_case.pk}/").json()
    assert (body["id"], body["status"], body["assigned_coach"]) == (
        alice_case.pk,
        "visit_planned",
        cast.alice.pk,
    )
    body = api_a.get(f"{API}/visits/{visit.pk}/").json()
    assert (body["id"], body["case"], body["coach"], body["duration_minutes"]) == (
        visit.pk,
        alice_case.pk,
        cast.alice.pk,
        90,
    )


@pytest.mark.parametrize("who", ["bob", "charlie", "coordinator_b"])
def test_details_are_not_found_for_people_who_may_not_see_them(cast, login, who, rows, visit):
    client = login(getattr(cast, who))
    assert client.get(f"{API}/cases/{rows['alice_case'].pk}/").status_code == 404
    assert client.get(f"{API}/households/{cast.household_a.pk}/").status_code == 404
    assert client.get(f"{API}/visits/{visit.pk}/").status_code == 404


@pytest.mark.parametrize("who", ["alice", "coordinator"])
def test_details_are_shown_to_the_coach_and_the_coordinator(cast, login, who, rows, visit):
    client = login(getattr(cast, who))
    assert client.get(f"{API}/cases/{rows['alice_case'].pk}/").json()["id"] == rows["alice_case"].pk
    assert client.get(f"{API}/households/{cast.household_a.pk}/").status_code == 200
    assert client.get(f"{API}/visits/{visit.pk}/").json()["status"] == "planned"


# Opening a case ----------------------------------------------------------------------------

SIGNUP = {
    "name": "Familie Klaver",
    "postcode": "3731 ab",
    "house_number": 40,
    "house_letter": "a",
    "street": "Kastanjelaan",
    "city": "De Bilt",
    "contact_email": "klaver@example.org",
    "wants_help_with": "Het huis is koud.",
    "heard_via": "website",
    "privacy_statement_version": "2026-1",
}


def test_a_key_signs_a_household_up_once(
    cast, api_a, statement, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = post(api_a, f"{API}/cases/open/", SIGNUP)
    assert first.status_code == 201, first.content
    second = post(api_a, f"{API}/cases/open/", {**SIGNUP, "name": "Iemand anders"})
    assert second.status_code == 200, second.content

    assert first.json()["id"] == second.json()["id"]
    dwelling = Dwelling.objects.get(postcode="3731AB", house_number=40, house_letter="A")
    household = Household.objects.get(dwelling=dwelling)
    case = Case.objects.get(household=household)
    assert household.initiative == cast.initiative_a
    assert household.name == "Familie Klaver"
    assert case.privacy_statement_version == "2026-1"
    assert case.privacy_accepted_at is not None
    assert case.contact_email == "klaver@example.org"
    # No person opened it: the timeline names nobody.
    opened = CaseEvent.objects.get(case=case, action="open")
    assert opened.actor is None
    # The same confirmation as after the public form, once.
    assert [m.to for m in mailoutbox] == [["klaver@example.org"]]


def test_a_session_coordinator_signs_a_household_up(cast, login, statement):
    response = post(login(cast.coordinator), f"{API}/cases/open/", SIGNUP)
    assert response.status_code == 201, response.content
    assert Case.objects.get(pk=response.json()["id"]).initiative == cast.initiative_a


@pytest.mark.parametrize("who", ["alice", "charlie"])
def test_a_coach_cannot_sign_a_household_up(cast, login, who, statement):
    response = post(login(getattr(cast, who)), f"{API}/cases/open/", SIGNUP)
    assert response.status_code == 403
    assert not Case.objects.exists()


def test_a_key_of_another_initiative_signs_up_with_its_own_only(cast, api_b, api_a, statement):
    response = post(api_b, f"{API}/cases/open/", {**SIGNUP, "initiative": cast.initiative_a.pk})
    assert response.status_code == 400
    assert set(response.json()) == {"initiative"}
    # Initiative B has no privacy statement in force: it cannot record an acceptance.
    response = post(api_b, f"{API}/cases/open/", SIGNUP)
    assert response.status_code == 400
    assert set(response.json()) == {"privacy_statement_version"}
    assert not Case.objects.exists()
    assert not Household.objects.filter(name="Familie Klaver").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"postcode": "0123 AB"}, "postcode"),
        ({"postcode": "3731 SS"}, "postcode"),
        ({"house_number": 0}, "house_number"),
        ({"house_letter": "7"}, "house_letter"),
        ({"addition": "!!"}, "addition"),
        ({"contact_email": "geen-adres"}, "contact_email"),
        ({"contact_email": "", "contact_phone": ""}, "non_field_errors"),
        ({"heard_via": "radio"}, "heard_via"),
        ({"privacy_statement_version": "2019-1"}, "privacy_statement_version"),
        ({"privacy_statement_version": None}, "privacy_statement_version"),
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_sign_up_is_refused_per_field_and_stores_nothing(
    cast, api_a, statement, change, field
):
    body = {k: v for k, v in {**SIGNUP, **change}.items() if v is not None}
    households, dwellings = Household.objects.count(), Dwelling.objects.count()
    response = post(api_a, f"{API}/cases/open/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Case.objects.exists()
    assert (Household.objects.count(), Dwelling.objects.count()) == (households, dwellings)


# Moving a case -----------------------------------------------------------------------------


def test_a_key_moves_a_case_and_the_audit_log_names_the_key(cast, key_a, api_a, alice_case):
    response = post(
        api_a,
        f"{API}/cases/{alice_case.pk}/transition/",
        {"action": pipeline.MARK_DOSSIER_FILLED_IN, "text": "Via de balie"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "dossier_filled_in"
    event = CaseEvent.objects.filter(case=alice_case).latest("pk")
    assert (event.action, event.actor, event.text) == (
        pipeline.MARK_DOSSIER_FILLED_IN,
        None,
        "Via de balie",
    )
    token = ApiToken.objects.get(organisation=cast.initiative_a)
    entry = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Case), object_pk=str(alice_case.pk)
    ).latest("pk")
    assert entry.additional_data == {"api_token": token.pk}
    assert entry.actor is None


def test_a_coach_moves_their_own_case_as_themselves(cast, login, alice_case, bob_case):
    client = login(cast.alice)
    body = {"action": pipeline.MARK_DOSSIER_FILLED_IN}
    response = post(client, f"{API}/cases/{alice_case.pk}/transition/", body)
    assert response.status_code == 200
    assert CaseEvent.objects.filter(case=alice_case).latest("pk").actor == cast.alice
    assert post(client, f"{API}/cases/{bob_case.pk}/transition/", body).status_code == 404
    assert Case.objects.get(pk=bob_case.pk).status == CaseStatus.COACH_ASSIGNED


@pytest.mark.parametrize(
    ("action", "status"),
    [
        # Steps of the pipeline the case's status does not allow: a conflict with its state.
        (pipeline.CLOSE, 409),
        (pipeline.REOPEN, 409),
        # Not a step this call takes (the schema's list says so): bad input.
        (pipeline.PLAN_VISIT, 400),
        (pipeline.ASSIGN_COACH, 400),
        ("fly", 400),
    ],
)
def test_a_step_that_is_not_possible_is_refused_with_a_message(
    cast, api_a, alice_case, action, status
):
    events = CaseEvent.objects.count()
    response = post(api_a, f"{API}/cases/{alice_case.pk}/transition/", {"action": action})
    assert response.status_code == status, response.content
    assert response.json()["action"]
    assert Case.objects.get(pk=alice_case.pk).status == CaseStatus.COACH_ASSIGNED
    assert CaseEvent.objects.count() == events


def test_withdrawing_with_a_planned_visit_is_refused(cast, api_a, alice_case, visit):
    response = post(api_a, f"{API}/cases/{alice_case.pk}/transition/", {"action": "withdraw"})
    assert response.status_code == 409
    assert "action" in response.json()
    assert Case.objects.get(pk=alice_case.pk).status == CaseStatus.VISIT_PLANNED


def test_another_initiatives_key_cannot_move_a_case(cast, api_b, alice_case):
    body = {"action": pipeline.WITHDRAW}
    assert post(api_b, f"{API}/cases/{alice_case.pk}/transition/", body).status_code == 404
    assert Case.objects.get(pk=alice_case.pk).status == CaseStatus.COACH_ASSIGNED


# Assigning a coach -------------------------------------------------------------------------


def test_a_key_assigns_a_coach(cast, api_a, alice_case):
    response = post(api_a, f"{API}/cases/{alice_case.pk}/assign/", {"coach": cast.bob.pk})
    assert response.status_code == 200, response.content
    assert response.json()["assigned_coach"] == cast.bob.pk
    assert Household.objects.get(pk=cast.household_a.pk).assigned_coach == cast.bob
    event = CaseEvent.objects.filter(case=alice_case, kind=EventKind.ASSIGNMENT).latest("pk")
    assert (event.coach, event.previous_coach, event.actor) == (cast.bob, cast.alice, None)


def test_a_session_coordinator_assigns_as_themselves(cast, login, alice_case):
    response = post(
        login(cast.coordinator), f"{API}/cases/{alice_case.pk}/assign/", {"coach": cast.bob.pk}
    )
    assert response.status_code == 200, response.content
    event = CaseEvent.objects.filter(case=alice_case, kind=EventKind.ASSIGNMENT).latest("pk")
    assert (event.coach, event.actor) == (cast.bob, cast.coordinator)


@pytest.mark.parametrize("coach", ["charlie", "coordinator", "resident"])
def test_only_a_coach_of_the_initiative_can_be_assigned(cast, api_a, alice_case, coach):
    response = post(
        api_a, f"{API}/cases/{alice_case.pk}/assign/", {"coach": getattr(cast, coach).pk}
    )
    assert response.status_code == 400
    assert "coach" in response.json()
    assert Household.objects.get(pk=cast.household_a.pk).assigned_coach == cast.alice


def test_a_paused_coach_is_refused_by_the_service(cast, api_a, alice_case):
    CoachProfile.objects.create(user=cast.bob, organisation=cast.initiative_a, is_active=False)
    response = post(api_a, f"{API}/cases/{alice_case.pk}/assign/", {"coach": cast.bob.pk})
    assert response.status_code == 400
    assert "coach" in response.json()
    assert Household.objects.get(pk=cast.household_a.pk).assigned_coach == cast.alice


def test_a_coach_may_not_assign_and_another_initiative_finds_nothing(
    cast, login, api_b, alice_case
):
    body = {"coach": cast.bob.pk}
    assert post(login(cast.alice), f"{API}/cases/{alice_case.pk}/assign/", body).status_code == 403
    assert post(api_b, f"{API}/cases/{alice_case.pk}/assign/", body).status_code == 404
    assert Household.objects.get(pk=cast.household_a.pk).assigned_coach == cast.alice


# Visits ------------------------------------------------------------------------------------


def test_a_key_plans_a_visit_for_the_cases_coach(cast, api_a, alice_case):
    start = timezone.now() + dt.timedelta(days=5)
    response = post(
        api_a,
        f"{API}/cases/{alice_case.pk}/visits/",
        {"start": start.isoformat(), "duration_minutes": 60},
    )
    assert response.status_code == 201, response.content
    visit = Visit.objects.get(pk=response.json()["id"])
    assert (visit.coach, visit.duration_minutes, visit.status) == (cast.alice, 60, "planned")
    assert Case.objects.get(pk=alice_case.pk).status == CaseStatus.VISIT_PLANNED


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        # Well formed, but the clock has passed it: the schema cannot say "in the future".
        ({"start": "2001-01-01T10:00:00+01:00"}, "start", 409),
        ({"start": "morgen"}, "start", 400),
        ({"duration_minutes": 5}, "duration_minutes", 400),
        ({"duration_minutes": 600}, "duration_minutes", 400),
    ],
)
def test_a_bad_visit_is_refused_per_field(cast, api_a, alice_case, body, field, status):
    body = {"start": (timezone.now() + dt.timedelta(days=2)).isoformat(), **body}
    response = post(api_a, f"{API}/cases/{alice_case.pk}/visits/", body)
    assert response.status_code == status, response.content
    assert field in response.json()
    assert not Visit.objects.exists()
    assert Case.objects.get(pk=alice_case.pk).status == CaseStatus.COACH_ASSIGNED


def test_a_case_without_coach_or_with_a_planned_visit_gets_no_visit(cast, api_a, visit):
    start = (timezone.now() + dt.timedelta(days=2)).isoformat()
    response = post(api_a, f"{API}/cases/{visit.case_id}/visits/", {"start": start})
    assert response.status_code == 409
    assert response.json()["non_field_errors"]
    new = services.case_open(household=builders.make_household(cast.initiative_a))
    response = post(api_a, f"{API}/cases/{new.pk}/visits/", {"start": start})
    assert response.status_code == 409
    assert Visit.objects.count() == 1


def test_visits_of_another_initiative_cannot_be_planned_or_finished(cast, api_b, visit):
    start = (timezone.now() + dt.timedelta(days=2)).isoformat()
    assert post(api_b, f"{API}/cases/{visit.case_id}/visits/", {"start": start}).status_code == 404
    assert post(api_b, f"{API}/visits/{visit.pk}/done/").status_code == 404
    assert post(api_b, f"{API}/visits/{visit.pk}/cancel/").status_code == 404
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.PLANNED


def test_a_key_records_a_visit_done_once(cast, api_a, visit):
    with time_machine.travel(visit.planned_start + dt.timedelta(hours=2), tick=False):
        response = post(api_a, f"{API}/visits/{visit.pk}/done/", {"text": "Goed gesprek"})
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "done"
        assert Case.objects.get(pk=visit.case_id).status == CaseStatus.VISIT_DONE
        again = post(api_a, f"{API}/visits/{visit.pk}/done/")
    assert again.status_code == 409
    assert again.json()["non_field_errors"]


@pytest.mark.parametrize("who", ["alice", "coordinator"])
def test_a_visit_that_has_not_started_is_not_marked_done_but_can_be_cancelled(
    cast, login, visit, who
):
    client = login(getattr(cast, who))
    events = CaseEvent.objects.count()
    assert visit.planned_start > timezone.now()
    response = post(client, f"{API}/visits/{visit.pk}/done/", {"text": "Te vroeg"})
    assert response.status_code == 409, response.content
    assert response.json()["non_field_errors"] == [
        "Dit bezoek is nog niet begonnen. Markeer het als gedaan nadat het heeft plaatsgevonden."
    ]
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.PLANNED
    assert Case.objects.get(pk=visit.case_id).status == CaseStatus.VISIT_PLANNED
    assert CaseEvent.objects.count() == events

    response = post(client, f"{API}/visits/{visit.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.CANCELLED


def test_a_future_visit_is_not_marked_done_anonymously_or_by_another_initiative(cast, login, visit):
    assert post(Client(), f"{API}/visits/{visit.pk}/done/").status_code in (401, 403)
    assert post(login(cast.coordinator_b), f"{API}/visits/{visit.pk}/done/").status_code == 404
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.PLANNED


def test_a_coach_cancels_their_visit_and_the_case_goes_back(cast, login, visit):
    response = post(login(cast.alice), f"{API}/visits/{visit.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.CANCELLED
    assert Case.objects.get(pk=visit.case_id).status == CaseStatus.COACH_ASSIGNED


def test_a_key_cancels_a_visit(cast, api_a, visit):
    response = post(api_a, f"{API}/visits/{visit.pk}/cancel/", {"text": "Bewoner ziek"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert Case.objects.get(pk=visit.case_id).status == CaseStatus.COACH_ASSIGNED
    event = CaseEvent.objects.filter(visit=visit).latest("pk")
    assert (event.action, event.actor, event.text) == (
        pipeline.CANCEL_VISIT,
        None,
        "Bewoner ziek",
    )


def test_another_coach_cannot_finish_the_visit(cast, login, visit):
    assert post(login(cast.bob), f"{API}/visits/{visit.pk}/done/").status_code == 404
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.PLANNED


# Tasks -------------------------------------------------------------------------------------


def test_a_key_adds_a_task_and_marks_it_done(cast, api_a, alice_case):
    due = timezone.localdate() + dt.timedelta(days=7)
    response = post(
        api_a,
        f"{API}/cases/{alice_case.pk}/tasks/",
        {"title": "Offerte bespreken", "due_date": due.isoformat(), "assignee": cast.bob.pk},
    )
    assert response.status_code == 201, response.content
    task = Task.objects.get(pk=response.json()["id"])
    assert (task.case, task.assignee, task.title, task.due_date) == (
        alice_case,
        cast.bob,
        "Offerte bespreken",
        due,
    )
    done = post(api_a, f"{API}/tasks/{task.pk}/done/")
    assert done.status_code == 200
    assert done.json()["done_at"] is not None
    assert Task.objects.get(pk=task.pk).done_at is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"due_date": "volgende week"}, "due_date"),
        ({"assignee": "charlie"}, "assignee"),
        ({"assignee": "resident"}, "assignee"),
    ],
)
def test_a_bad_task_is_refused_per_field(cast, api_a, alice_case, body, field):
    if "assignee" in body:
        body = {"assignee": getattr(cast, body["assignee"]).pk}
    body = {"title": "Bellen", "due_date": timezone.localdate().isoformat(), **body}
    response = post(api_a, f"{API}/cases/{alice_case.pk}/tasks/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Task.objects.exists()


def test_tasks_of_another_initiative_or_coach_are_not_found(cast, api_b, login, task):
    body = {"title": "Bellen", "due_date": timezone.localdate().isoformat()}
    assert post(api_b, f"{API}/cases/{task.case_id}/tasks/", body).status_code == 404
    assert post(api_b, f"{API}/tasks/{task.pk}/done/").status_code == 404
    assert post(login(cast.bob), f"{API}/tasks/{task.pk}/done/").status_code == 404
    assert Task.objects.get(pk=task.pk).done_at is None
    assert Task.objects.count() == 1


def test_the_assigned_coach_marks_a_task_done_as_themselves(cast, login, task):
    assert post(login(cast.alice), f"{API}/tasks/{task.pk}/done/").status_code == 200
    event = CaseEvent.objects.filter(task=task, action="task_done").get()
    assert event.actor == cast.alice


# A key acts as a coordinator, and follows the coordinators' rights ----------------------------


def test_a_key_keeps_working_after_its_maker_leaves(cast, api_a, alice_case):
    Membership.objects.filter(user=cast.coordinator).update(is_active=False)
    assert ids(api_a.get(f"{API}/cases/")) == {alice_case.pk}


def test_a_key_does_not_borrow_its_makers_other_roles(cast, alice_case, b_case):
    # The maker also coordinates B; the key of A still sees only A.
    Membership.objects.create(
        user=cast.coordinator, organisation=cast.initiative_b, role=Role.COORDINATOR
    )
    _token, key = api_tokens.api_token_create(
        organisation=cast.initiative_a, name="Alleen A", actor=cast.coordinator
    )
    assert ids(key_client(key).get(f"{API}/cases/")) == {alice_case.pk}


@pytest.mark.parametrize("path", ["cases", "households", "visits", "tasks"])
def test_a_list_costs_the_same_number_of_queries_for_2_and_12_cases(cast, api_a, path):
    def make(count: int) -> None:
        for _ in range(count):
            household = builders.make_household(cast.initiative_a, coach=cast.alice)
            case = services.case_open(household=household, contact_phone="06 12345678")
            services.visit_plan(
                case=services.case_assign(case=case, coach=cast.alice, actor=cast.coordinator),
                coach=cast.alice,
                start=timezone.now() + dt.timedelta(days=4),
                duration_minutes=60,
                actor=cast.alice,
            )
            services.task_add(
                case=case,
                assignee=None,
                title="Bellen",
                due_date=timezone.localdate(),
                actor=None,
            )

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api_a.get(f"{API}/{path}/").status_code == 200
        return len(queries)

    # One minute throughout: the first read of new rows writes their access entries (one
    # statement, dossier.access_log), and the reads after it in the same minute write none.
    with time_machine.travel(timezone.now(), tick=False):
        make(2)
        cost()  # The first call records the key's use: one write the next ones skip.
        small = cost()
        make(10)
        first = cost()
        assert cost() == small
    assert first == small + 1


# The schema --------------------------------------------------------------------------------


CRM_PATHS = {
    "/api/v1/cases/": {"get"},
    "/api/v1/cases/open/": {"post"},
    "/api/v1/cases/{id}/": {"get"},
    "/api/v1/cases/{id}/transition/": {"post"},
    "/api/v1/cases/{id}/assign/": {"post"},
    "/api/v1/cases/{id}/visits/": {"post"},
    "/api/v1/cases/{id}/tasks/": {"post"},
    "/api/v1/households/": {"get"},
    "/api/v1/households/{id}/": {"get"},
    "/api/v1/visits/": {"get"},
    "/api/v1/visits/{id}/": {"get"},
    "/api/v1/visits/{id}/done/": {"post"},
    "/api/v1/visits/{id}/cancel/": {"post"},
    "/api/v1/tasks/": {"get"},
    "/api/v1/tasks/{id}/done/": {"post"},
}


def test_the_schema_documents_every_operation_and_the_key_only_where_it_works(cast, api_a):
    response = api_a.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    for path, methods in CRM_PATHS.items():
        assert set(schema["paths"][path]) >= methods, path
        for method in methods:
            security = schema["paths"][path][method]["security"]
            assert {"apiKey": []} in security, (path, method)
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    dossier_security = schema["paths"]["/api/v1/dossiers/"]["get"]["security"]
    assert {"apiKey": []} not in dossier_security


def test_the_schema_is_not_public(client):
    assert client.get("/api/v1/schema/").status_code == 401


def test_it_generates_the_schema_with_the_crm_api_without_warnings(tmp_path: Path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert set(CRM_PATHS) <= set(schema["paths"])
