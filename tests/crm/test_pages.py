"""The CRM pages: the queue, a case with its actions, assigning, visits and their .ics files."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from auditlog.models import LogEntry
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from crm import calendar, pipeline, services
from crm.models import (
    Case,
    CaseEvent,
    CaseStatus,
    CoachProfile,
    EventKind,
    Task,
    Visit,
    VisitStatus,
)
from dossier.models import Household
from tests import builders

pytestmark = pytest.mark.django_db

SITE = "https://woningdossier.example.nl"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE


def open_case(household: Household, **fields) -> Case:
    fields.setdefault("contact_email", "bewoner@example.org")
    return services.case_open(household=household, **fields)


@pytest.fixture
def new_case(cast) -> Case:
    """A fresh sign-up in initiative A without a coach."""
    dwelling = builders.make_dwelling(postcode="3732CD", street="Kerkstraat", city="De Bilt")
    household = builders.make_household(cast.initiative_a, name="Familie Delta", dwelling=dwelling)
    return open_case(household, contact_phone="06 12345678", wants_help_with="Koude zolder")


@pytest.fixture
def alice_case(cast) -> Case:
    """The sign-up of household A1, which Alice coaches."""
    return open_case(cast.household_a)


@pytest.fixture
def b_case(cast) -> Case:
    return open_case(cast.household_b)


@pytest.fixture
def visit(cast, alice_case, django_capture_on_commit_callbacks) -> Visit:
    with django_capture_on_commit_callbacks(execute=True):
        services.case_assign(case=alice_case, coach=cast.alice, actor=cast.coordinator)
    return services.visit_plan(
        case=alice_case,
        coach=cast.alice,
        start=timezone.now() + dt.timedelta(days=2),
        duration_minutes=90,
        actor=cast.alice,
    )


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def queue(client, **params):
    return client.get(reverse("crm:case-list"), params)


def names_in(response) -> set[str]:
    html = response.content.decode()
    return {
        n for n in ("Familie Alfa", "Familie Beta", "Familie Delta", "Familie Gamma") if n in html
    }


# The queue ---------------------------------------------------------------------------------


def test_the_coordinator_sees_the_initiatives_open_cases(cast, login, new_case, alice_case, b_case):
    response = queue(login(cast.coordinator))
    assert response.status_code == 200
    assert names_in(response) == {"Familie Alfa", "Familie Delta"}
    assert 'name="cases"' in response.content.decode()


def test_a_coach_sees_only_their_own_cases_and_cannot_bulk_assign(
    cast, login, new_case, alice_case
):
    response = queue(login(cast.alice))
    assert response.status_code == 200
    assert names_in(response) == {"Familie Alfa"}
    assert 'name="cases"' not in response.content.decode()


@pytest.mark.parametrize("who", ["coordinator_b", "charlie"])
def test_the_queue_of_another_organisation_holds_none_of_these_cases(
    cast, login, who, new_case, alice_case
):
    response = queue(login(getattr(cast, who)))
    assert response.status_code == 200
    assert "Familie Alfa" not in response.content.decode()
    assert "Familie Delta" not in response.content.decode()


def test_a_resident_has_no_queue(cast, login, alice_case):
    assert queue(login(cast.resident)).status_code == 403
    assert login(cast.resident).get(reverse("crm:visit-list")).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login(cast, client, alice_case, visit):
    task = services.task_add(
        case=alice_case, assignee=None, title="Bellen", due_date=timezone.localdate(), actor=None
    )
    pk = alice_case.pk
    responses = [
        client.get(reverse("crm:case-list")),
        client.post(reverse("crm:case-bulk-assign"), {"cases": [pk], "coach": cast.bob.pk}),
        client.get(reverse("crm:case-detail", args=[pk])),
        client.post(reverse("crm:case-assign", args=[pk]), {"coach": cast.bob.pk}),
        client.post(reverse("crm:case-transition", args=[pk]), {"action": "withdraw"}),
        client.post(reverse("crm:case-invite", args=[pk])),
        client.post(reverse("crm:case-note-add", args=[pk]), {"kind": "note", "text": "x"}),
        client.post(reverse("crm:visit-plan", args=[pk]), {}),
        client.post(reverse("crm:task-add", args=[pk]), {}),
        client.post(reverse("crm:task-done", args=[task.pk])),
        client.get(reverse("crm:visit-list")),
        client.get(reverse("crm:visit-ics", args=[visit.pk])),
        client.post(reverse("crm:visit-done", args=[visit.pk])),
        client.post(reverse("crm:visit-cancel", args=[visit.pk])),
    ]
    assert all(r.status_code == 302 and "/login/" in r["Location"] for r in responses)
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.PLANNED
    assert Case.objects.get(pk=pk).household.assigned_coach == cast.alice


def test_it_filters_by_status_municipality_area_coach_and_age(cast, login, new_case, alice_case):
    elsewhere = builders.make_dwelling(postcode="3811AA", municipality_code="GM0307")
    open_case(builders.make_household(cast.initiative_a, name="Familie Beta", dwelling=elsewhere))
    Case.objects.filter(pk=alice_case.pk).update(created_at=timezone.now() - dt.timedelta(days=20))
    client = login(cast.coordinator)

    assert names_in(queue(client, area="3732")) == {"Familie Delta"}
    assert names_in(queue(client, municipality="GM0310")) == {"Familie Alfa", "Familie Delta"}
    assert names_in(queue(client, coach=cast.alice.pk)) == {"Familie Alfa"}
    assert names_in(queue(client, coach="none")) == {"Familie Beta", "Familie Delta"}
    assert names_in(queue(client, age=14)) == {"Familie Alfa"}
    assert names_in(queue(client, age=30)) == set()
    assert names_in(queue(client, q="kerkstr")) == {"Familie Delta"}
    assert names_in(queue(client, q="3732 cd")) == {"Familie Delta"}
    assert names_in(queue(client, q="beta")) == {"Familie Beta"}
    # A value that is not a choice narrows nothing rather than failing.
    assert names_in(queue(client, area="12", age="x")) == {
        "Familie Alfa",
        "Familie Beta",
        "Familie Delta",
    }

    services.case_transition(case=new_case, action=pipeline.WITHDRAW, actor=cast.coordinator)
    assert "Familie Delta" not in names_in(queue(client))
    assert names_in(queue(client, status="withdrawn")) == {"Familie Delta"}
    assert "Familie Delta" in names_in(queue(client, status="all"))


def test_the_filters_stay_in_the_page_links(cast, login):
    for _ in range(27):
        open_case(builders.make_household(cast.initiative_a))
    client = login(cast.coordinator)

    first = queue(client, area="3731")
    second = queue(client, area="3731", page=2)

    assert "area=3731&amp;page=2" in first.content.decode()
    assert second.content.decode().count('name="cases"') == 2


@pytest.mark.parametrize("role", ["coordinator", "alice"])
def test_the_queue_costs_the_same_number_of_queries_for_5_and_30_cases(
    cast, login, role, django_assert_max_num_queries
):
    client = login(getattr(cast, role))

    def make(count: int) -> None:
        for _ in range(count):
            household = builders.make_household(cast.initiative_a, coach=cast.alice)
            open_case(household)

    make(5)
    # The first request of a login also notes its start and its second step in the session.
    queue(client)
    # Each list writes the access entries of its households (dossier.access_log.listed):
    # at most 3 queries however many rows; cleared so that both lists write them. On
    # PostgreSQL the request's own transaction adds its savepoint statements.
    unlogged = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).delete
    unlogged()
    with django_assert_max_num_queries(13) as small:
        assert queue(client, q="Huishouden").status_code == 200
    make(25)
    unlogged()
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = queue(client, q="Huishouden")
    assert response.content.decode().count('href="/aanmeldingen/') >= 25


# Bulk assign -------------------------------------------------------------------------------


def test_the_coordinator_assigns_several_cases_at_once_and_sees_the_refused_ones(
    cast, login, new_case, b_case, mailoutbox, django_capture_on_commit_callbacks
):
    second = open_case(builders.make_household(cast.initiative_a, name="Familie Beta"))
    withdrawn = open_case(builders.make_household(cast.initiative_a, name="Familie Epsilon"))
    services.case_transition(case=withdrawn, action=pipeline.WITHDRAW, actor=cast.coordinator)
    client = login(cast.coordinator)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("crm:case-bulk-assign"),
            {
                "cases": [new_case.pk, second.pk, withdrawn.pk, b_case.pk],
                "coach": cast.bob.pk,
                "query": "area=3732&q=x",
            },
        )

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:case-list") + "?area=3732&q=x"
    for case in (new_case, second):
        assert Household.objects.get(pk=case.household_id).assigned_coach == cast.bob
        assert Case.objects.get(pk=case.pk).status == CaseStatus.COACH_ASSIGNED
    assert Household.objects.get(pk=withdrawn.household_id).assigned_coach is None
    assert Household.objects.get(pk=b_case.household_id).assigned_coach == cast.charlie
    messages = texts(response)
    assert any("Familie Epsilon" in m for m in messages)
    assert not any("Familie Gamma" in m for m in messages)
    assert [m.to for m in mailoutbox] == [["bob@a.example"], ["bob@a.example"]]


@pytest.mark.parametrize("who", ["alice", "resident"])
def test_only_a_coordinator_may_bulk_assign(cast, login, who, new_case):
    response = login(getattr(cast, who)).post(
        reverse("crm:case-bulk-assign"), {"cases": [new_case.pk], "coach": cast.bob.pk}
    )
    assert response.status_code == 403
    assert Household.objects.get(pk=new_case.household_id).assigned_coach is None


def test_a_coordinator_of_another_initiative_assigns_nothing_here(cast, login, new_case):
    response = login(cast.coordinator_b).post(
        reverse("crm:case-bulk-assign"), {"cases": [new_case.pk], "coach": cast.charlie.pk}
    )
    assert response.status_code == 302
    assert Household.objects.get(pk=new_case.household_id).assigned_coach is None
    assert Case.objects.get(pk=new_case.pk).status == CaseStatus.NEW


def test_bulk_assign_without_a_selection_says_so(cast, login, new_case):
    response = login(cast.coordinator).post(reverse("crm:case-bulk-assign"), {"coach": cast.bob.pk})
    assert response.status_code == 302 and texts(response)
    assert Case.objects.get(pk=new_case.pk).status == CaseStatus.NEW


# One case ----------------------------------------------------------------------------------


def detail(client, case):
    return client.get(reverse("crm:case-detail", args=[case.pk]))


def test_the_coordinator_sees_the_case_with_its_contact_answers_and_timeline(cast, login, new_case):
    services.case_note_add(case=new_case, actor=cast.coordinator, kind="call", text="Teruggebeld")
    response = detail(login(cast.coordinator), new_case)

    assert response.status_code == 200
    html = response.content.decode()
    for shown in ("Familie Delta", "Kerkstraat", "bewoner@example.org", "06 12345678"):
        assert shown in html
    assert "Koude zolder" in html and "Teruggebeld" in html
    assert reverse("dossier:dossier-overview", args=[new_case.household.dossier.pk]) in html
    # The steps possible from "new" that need no form of their own.
    assert 'value="withdraw"' in html and 'value="close"' not in html
    # Choosing a coach: both of the initiative's coaches, not Charlie.
    assert f'id="coach-{cast.alice.pk}"' in html and f'id="coach-{cast.bob.pk}"' in html
    assert f'id="coach-{cast.charlie.pk}"' not in html
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_the_coach_choice_shows_load_area_and_pause(cast, login, new_case, alice_case):
    CoachProfile.objects.create(user=cast.alice, organisation=cast.initiative_a, areas="3732")
    CoachProfile.objects.create(user=cast.bob, organisation=cast.initiative_a, is_active=False)
    html = detail(login(cast.coordinator), new_case).content.decode()
    alice_row = html.split(f'id="coach-{cast.alice.pk}"')[1].split("</tr>")[0]
    bob_row = html.split(f'id="coach-{cast.bob.pk}"')[1].split("</tr>")[0]
    assert "3732" in alice_row and "utrecht-status-badge--valid" in alice_row
    assert "utrecht-status-badge--warning" in bob_row
    assert re.search(rf'id="coach-{cast.bob.pk}"[^>]*disabled', html)


def test_the_assigned_coach_sees_the_case_but_chooses_no_coach(cast, login, alice_case):
    client = login(cast.alice)
    response = detail(client, alice_case)
    assert response.status_code == 200
    assert 'name="coach"' not in response.content.decode()
    refused = client.post(reverse("crm:case-assign", args=[alice_case.pk]), {"coach": cast.bob.pk})
    assert refused.status_code == 403
    assert Household.objects.get(pk=alice_case.household_id).assigned_coach == cast.alice


@pytest.mark.parametrize("who", ["bob", "coordinator_b", "charlie", "resident"])
def test_a_case_is_not_found_for_others(cast, login, who, alice_case, visit):
    task = services.task_add(
        case=alice_case, assignee=None, title="Bellen", due_date=timezone.localdate(), actor=None
    )
    client = login(getattr(cast, who))
    pk = alice_case.pk
    before = CaseEvent.objects.count()
    responses = [
        client.get(reverse("crm:case-detail", args=[pk])),
        client.post(reverse("crm:case-assign", args=[pk]), {"coach": cast.bob.pk}),
        client.post(reverse("crm:case-transition", args=[pk]), {"action": "withdraw"}),
        client.post(reverse("crm:case-invite", args=[pk])),
        client.post(reverse("crm:case-note-add", args=[pk]), {"kind": "note", "text": "x"}),
        client.post(reverse("crm:visit-plan", args=[pk]), {}),
        client.post(reverse("crm:task-add", args=[pk]), {"title": "x", "due_date": "2030-01-01"}),
        client.post(reverse("crm:task-done", args=[task.pk])),
        client.get(reverse("crm:visit-ics", args=[visit.pk])),
        client.post(reverse("crm:visit-done", args=[visit.pk])),
        client.post(reverse("crm:visit-cancel", args=[visit.pk])),
    ]
    assert [r.status_code for r in responses] == [404] * len(responses)
    assert CaseEvent.objects.count() == before
    assert Task.objects.get(pk=task.pk).done_at is None
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.PLANNED


def test_the_coordinator_assigns_a_coach_on_the_case_page(
    cast, login, new_case, mailoutbox, django_capture_on_commit_callbacks
):
    client = login(cast.coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("crm:case-assign", args=[new_case.pk]), {"coach": cast.alice.pk}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:case-detail", args=[new_case.pk])
    assert Household.objects.get(pk=new_case.household_id).assigned_coach == cast.alice
    assert Case.objects.get(pk=new_case.pk).status == CaseStatus.COACH_ASSIGNED
    assert [m.to for m in mailoutbox] == [["alice@a.example"]]


def test_assigning_a_coach_of_another_initiative_is_refused(cast, login, new_case):
    response = login(cast.coordinator).post(
        reverse("crm:case-assign", args=[new_case.pk]), {"coach": cast.charlie.pk}
    )
    assert response.status_code == 302 and texts(response)
    assert Household.objects.get(pk=new_case.household_id).assigned_coach is None


def test_a_refused_step_shows_a_message_and_changes_nothing(cast, login, new_case):
    before = CaseEvent.objects.filter(case=new_case).count()
    client = login(cast.coordinator)
    url = reverse("crm:case-transition", args=[new_case.pk])

    response = client.post(url, {"action": "close"})
    page = client.get(response["Location"])
    # A step with a form of its own is not taken by a bare button.
    own_service = client.post(url, {"action": "plan_visit"})

    assert response.status_code == own_service.status_code == 302
    alert = page.content.decode().split('role="alert"')[1][:600]
    assert "nieuw" in alert or "new" in alert
    assert len(texts(own_service)) == 1
    assert Case.objects.get(pk=new_case.pk).status == CaseStatus.NEW
    assert CaseEvent.objects.filter(case=new_case).count() == before


def test_a_step_moves_the_case_and_records_the_explanation(cast, login, new_case):
    response = login(cast.coordinator).post(
        reverse("crm:case-transition", args=[new_case.pk]),
        {"action": "withdraw", "text": "Verhuisd"},
    )
    assert response.status_code == 302
    assert Case.objects.get(pk=new_case.pk).status == CaseStatus.WITHDRAWN
    event = CaseEvent.objects.filter(case=new_case).last()
    assert (event.action, event.text, event.actor) == ("withdraw", "Verhuisd", cast.coordinator)


def test_the_coach_invites_the_resident_from_the_case_page(
    cast, login, new_case, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.case_assign(case=new_case, coach=cast.alice, actor=cast.coordinator)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = login(cast.alice).post(reverse("crm:case-invite", args=[new_case.pk]))
    assert response.status_code == 302
    assert Case.objects.get(pk=new_case.pk).status == CaseStatus.DOSSIER_INVITED
    assert [m.to for m in mailoutbox] == [["bewoner@example.org"]]


def test_a_note_goes_into_the_timeline_and_an_empty_one_is_refused(cast, login, alice_case):
    client = login(cast.alice)
    url = reverse("crm:case-note-add", args=[alice_case.pk])
    before = CaseEvent.objects.filter(case=alice_case).count()

    empty = client.post(url, {"kind": "call", "text": "   "})
    wrong_kind = client.post(url, {"kind": "status_change", "text": "Hallo"})
    assert empty.status_code == wrong_kind.status_code == 200
    assert "utrecht-form-field-error-message" in empty.content.decode()
    assert CaseEvent.objects.filter(case=alice_case).count() == before

    response = client.post(url, {"kind": "call", "text": "Bewoner gebeld"})
    assert response.status_code == 302
    event = CaseEvent.objects.filter(case=alice_case).last()
    assert (event.kind, event.text, event.actor) == (EventKind.CALL, "Bewoner gebeld", cast.alice)
    assert "Bewoner gebeld" in client.get(response["Location"]).content.decode()


def test_the_coach_plans_a_visit_marks_it_done_and_a_past_time_is_refused(
    cast, login, alice_case, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.case_assign(case=alice_case, coach=cast.alice, actor=cast.coordinator)
    client = login(cast.alice)
    url = reverse("crm:visit-plan", args=[alice_case.pk])

    past = client.post(url, {"date": "2020-01-01", "time": "10:00", "duration_minutes": 90})
    assert past.status_code == 200 and not Visit.objects.exists()
    assert "utrecht-alert--error" in past.content.decode()

    day = timezone.localdate() + dt.timedelta(days=3)
    response = client.post(url, {"date": day.isoformat(), "time": "14:30", "duration_minutes": 60})
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert timezone.localtime(visit.planned_start).strftime("%H:%M") == "14:30"
    assert (visit.coach, visit.duration_minutes) == (cast.alice, 60)
    assert Case.objects.get(pk=alice_case.pk).status == CaseStatus.VISIT_PLANNED

    with time_machine.travel(visit.planned_start + dt.timedelta(minutes=90), tick=False):
        # Three days on: the coach logs in again after the visit and records it.
        client = login(cast.alice)
        assert client.post(reverse("crm:visit-done", args=[visit.pk])).status_code == 302
    assert Visit.objects.get().status == VisitStatus.DONE
    assert Case.objects.get(pk=alice_case.pk).status == CaseStatus.VISIT_DONE
    again = client.post(reverse("crm:visit-cancel", args=[visit.pk]))
    assert texts(again) and Visit.objects.get().status == VisitStatus.DONE


@pytest.mark.parametrize("who", ["alice", "coordinator"])
def test_a_visit_that_has_not_started_is_not_marked_done_but_can_be_cancelled(
    cast, login, visit, who
):
    client = login(getattr(cast, who))
    events = CaseEvent.objects.count()
    assert visit.planned_start > timezone.now()
    response = client.post(reverse("crm:visit-done", args=[visit.pk]))
    assert response.status_code == 302
    assert texts(response) == [
        "Dit bezoek is nog niet begonnen. Markeer het als gedaan nadat het heeft plaatsgevonden."
    ]
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.PLANNED
    assert Case.objects.get(pk=visit.case_id).status == CaseStatus.VISIT_PLANNED
    assert CaseEvent.objects.count() == events

    response = client.post(reverse("crm:visit-cancel", args=[visit.pk]))
    assert response.status_code == 302
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.CANCELLED


def test_the_case_page_offers_the_visit_done_button_only_once_the_visit_has_begun(
    cast, login, visit, time_machine
):
    client = login(cast.alice)
    page = reverse("crm:case-detail", args=[visit.case_id])
    done = reverse("crm:visit-done", args=[visit.pk])
    cancel = reverse("crm:visit-cancel", args=[visit.pk])

    before = client.get(page).content.decode()
    assert done not in before and cancel in before
    assert "Zodra het bezoek begonnen is" in before

    time_machine.move_to(visit.planned_start + dt.timedelta(minutes=5))
    # A login ends after an hour without a request: log in again at the visit's time.
    during = login(cast.alice).get(page).content.decode()
    assert done in during and cancel in during
    assert "Zodra het bezoek begonnen is" not in during


def test_cancelling_a_visit_returns_the_case(cast, login, visit):
    response = login(cast.coordinator).post(reverse("crm:visit-cancel", args=[visit.pk]))
    assert response.status_code == 302
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.CANCELLED
    assert Case.objects.get(pk=visit.case_id).status == CaseStatus.COACH_ASSIGNED


def test_tasks_are_added_with_an_assignee_and_marked_done(cast, login, alice_case):
    client = login(cast.coordinator)
    url = reverse("crm:task-add", args=[alice_case.pk])

    bad = client.post(url, {"title": "Bellen", "assignee": cast.charlie.pk, "due_date": "x"})
    assert bad.status_code == 200 and not Task.objects.exists()

    response = client.post(
        url, {"title": "Terugbellen", "assignee": cast.bob.pk, "due_date": "2030-05-01"}
    )
    assert response.status_code == 302
    task = Task.objects.get()
    assert (task.title, task.assignee, task.due_date) == (
        "Terugbellen",
        cast.bob,
        dt.date(2030, 5, 1),
    )
    assert client.post(reverse("crm:task-done", args=[task.pk])).status_code == 302
    assert Task.objects.get().done_at is not None


# Visits and calendar files -------------------------------------------------------------------


def test_the_coach_sees_upcoming_visits_and_others_do_not(cast, login, visit):
    mine = login(cast.alice).get(reverse("crm:visit-list"))
    assert mine.status_code == 200
    assert "Familie Alfa" in mine.content.decode()
    assert reverse("crm:visit-ics", args=[visit.pk]) in mine.content.decode()
    for who in ("bob", "charlie", "coordinator_b"):
        response = login(getattr(cast, who)).get(reverse("crm:visit-list"))
        assert response.status_code == 200 and "Familie Alfa" not in response.content.decode()
    assert "Familie Alfa" in login(cast.coordinator).get(reverse("crm:visit-list")).content.decode()


def test_the_calendar_file_follows_rfc_5545(cast, login, visit):
    dwelling = visit.case.household.dwelling
    dwelling.street = "Burgemeester van Heemstralaan, hoek; Vogelenzang\\Zuid " + "é" * 40
    dwelling.save()

    response = login(cast.alice).get(reverse("crm:visit-ics", args=[visit.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Cache-Control"] == "private, no-store"
    disposition = response["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="bezoek-\d+-\d+\.ics"', disposition)
    body = response.content
    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)
    assert all(len(line) <= 75 for line in lines)
    # Unfolded, every property is whole again.
    text = body.decode().replace("\r\n ", "")
    props = dict(line.split(":", 1) for line in text.split("\r\n") if line)
    for required in ("VERSION", "PRODID", "UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"):
        assert required in props
    assert props["UID"] == f"visit-{visit.pk}@woningdossier.example.nl"
    assert re.fullmatch(r"\d{8}T\d{6}Z", props["DTSTART"])
    assert props["DTSTART"] == visit.planned_start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    end = visit.planned_start + dt.timedelta(minutes=90)
    assert props["DTEND"] == end.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    assert "Heemstralaan\\, hoek\\; Vogelenzang\\\\Zuid" in props["LOCATION"]
    assert "Familie Alfa" in props["SUMMARY"]
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")


def test_folding_never_splits_a_character_and_escaping_covers_newlines():
    folded = calendar.ics_fold("DESCRIPTION:" + "ë" * 100)
    parts = folded.encode().split(b"\r\n")
    assert all(len(p) <= 75 for p in parts) and all(p.startswith(b" ") for p in parts[1:])
    assert folded.replace("\r\n ", "") == "DESCRIPTION:" + "ë" * 100
    assert calendar.ics_text("a\r\nb\nc,d;e\\") == "a\\nb\\nc\\,d\\;e\\\\"


def test_the_queue_lists_the_initiatives_reports_to_print(cast, login, client):
    from dossier.models import AdviceReport, ParameterSet

    def report(household):
        return AdviceReport.objects.create(
            dossier=household.dossier,
            number=1,
            parameter_set=ParameterSet.objects.order_by("valid_from").first(),
            figures={},
            status="done",
            delivery="print",
            finished_at=timezone.now(),
        )

    waiting = report(cast.household_a2)
    report(cast.household_b)
    login(cast.coordinator)
    html = client.get(reverse("crm:case-list")).content.decode()
    section = html.split('id="to-print-heading"')[1].split("</section>")[0]
    assert "Familie Beta" in section and "Familie Gamma" not in section
    assert reverse("dossier:dossier-reports", args=[waiting.dossier_id]) in section

    AdviceReport.objects.filter(pk=waiting.pk).update(printed_at=timezone.now())
    assert 'id="to-print-heading"' not in client.get(reverse("crm:case-list")).content.decode()
    login(cast.coordinator_b)
    html = client.get(reverse("crm:case-list")).content.decode()
    assert "Familie Gamma" in html.split('id="to-print-heading"')[1].split("</section>")[0]


# Coach profiles ------------------------------------------------------------------------


def profile_url(cast, coach, initiative=None):
    initiative = initiative or cast.initiative_a
    return reverse("crm:coach-profile", args=[initiative.pk, coach.pk])


def test_the_coordinator_sets_a_coachs_areas_week_and_pause(cast, login, client):
    from crm.models import CoachProfile

    login(cast.coordinator)
    listing = client.get(reverse("crm:coach-list")).content.decode()
    assert profile_url(cast, cast.alice) in listing and profile_url(cast, cast.bob) in listing
    assert str(cast.charlie) not in listing
    response = client.post(
        profile_url(cast, cast.alice),
        {"areas": "3732, 3731 3731", "max_visits_per_week": "4", "is_active": ""},
    )
    assert response.status_code == 302
    profile = CoachProfile.objects.get(user=cast.alice)
    assert (profile.areas, profile.max_visits_per_week, profile.is_active) == (
        "3731,3732",
        4,
        False,
    )
    assert profile.organisation == cast.initiative_a
    # A paused coach cannot be assigned.
    case = open_case(cast.household_a2)
    with pytest.raises(ValidationError):
        services.case_assign(case=case, coach=cast.alice, actor=cast.coordinator)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("areas", "373"),
        ("areas", "abcd"),
        ("max_visits_per_week", "0"),
        ("max_visits_per_week", ""),
    ],
)
def test_a_bad_profile_is_refused_and_changes_nothing(cast, login, client, field, value):
    from crm.models import CoachProfile

    login(cast.coordinator)
    data = {"areas": "3731", "max_visits_per_week": "3", "is_active": "on", field: value}
    response = client.post(profile_url(cast, cast.alice), data)
    assert response.status_code == 200
    assert "utrecht-form-field--invalid" in response.content.decode()
    assert not CoachProfile.objects.filter(user=cast.alice).exists()


def test_coach_profiles_of_another_initiative_are_not_found(cast, login, client):
    login(cast.coordinator_b)
    assert client.get(profile_url(cast, cast.alice)).status_code == 404
    data = {"areas": "3731", "max_visits_per_week": "3"}
    assert client.post(profile_url(cast, cast.alice), data).status_code == 404
    # Its own initiative's id with a coach of another one: not found either.
    assert client.get(profile_url(cast, cast.alice, cast.initiative_b)).status_code == 404


def test_coaches_residents_and_visitors_cannot_change_profiles(cast, login, client):
    from crm.models import CoachProfile

    data = {"areas": "3731", "max_visits_per_week": "9", "is_active": "on"}
    login(cast.alice)
    assert client.get(reverse("crm:coach-list")).status_code == 403
    assert client.post(profile_url(cast, cast.alice), data).status_code == 403
    login(cast.resident)
    assert client.get(reverse("crm:coach-list")).status_code == 403
    assert client.post(profile_url(cast, cast.alice), data).status_code == 403
    client.logout()
    response = client.get(reverse("crm:coach-list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert client.post(profile_url(cast, cast.alice), data).status_code == 302
    assert not CoachProfile.objects.filter(user=cast.alice).exists()
