"""Cases: opening, assigning a coach, moving through the pipeline, visits, timeline, access."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from accounts import access
from accounts.access import Action
from accounts.models import Membership
from accounts.roles import Role
from crm import pipeline, selectors, services, tasks
from crm.models import (
    Case,
    CaseEvent,
    CaseStatus,
    CoachProfile,
    EventKind,
    Task,
    TaskKind,
    Visit,
    VisitStatus,
)
from dossier.models import Dossier, Household
from tests import builders

pytestmark = pytest.mark.django_db

SITE = "https://woningdossier.example.nl"
SIGNUP = {
    "wants_help_with": "Mijn zolder is koud",
    "heard_via": "neighbour",
    "is_member": "unknown",
    "contact_email": "bewoner@example.org",
    "contact_phone": "06 12345678",
    "privacy_statement_version": "2025-1",
}


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def case(cast) -> Case:
    """A fresh sign-up in initiative A, for a household that has no coach yet."""
    household = builders.make_household(cast.initiative_a, name="Familie Delta")
    return services.case_open(household=household, privacy_accepted_at=timezone.now(), **SIGNUP)


@pytest.fixture
def assign(django_capture_on_commit_callbacks):
    """Assign as a coordinator would; what waits for the commit (the mail) runs."""

    def _assign(case, coach, actor):
        with django_capture_on_commit_callbacks(execute=True):
            return services.case_assign(case=case, coach=coach, actor=actor)

    return _assign


def events(case) -> list[tuple[str, str, str]]:
    return list(
        CaseEvent.objects.filter(case=case)
        .order_by("created_at", "pk")
        .values_list("kind", "from_status", "to_status")
    )


def soon(days: int = 3) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=days)


def after(visit: Visit) -> dt.datetime:
    """A moment when the visit has taken place."""
    return visit.planned_start + dt.timedelta(minutes=visit.duration_minutes)


# Opening ------------------------------------------------------------------------------


def test_opening_a_case_keeps_the_signup_answers_and_starts_the_timeline(cast, case):
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW and case.initiative == cast.initiative_a
    assert case.wants_help_with == "Mijn zolder is koud" and case.privacy_accepted_at
    assert events(case) == [(EventKind.STATUS_CHANGE, "", CaseStatus.NEW)]


def test_a_double_signup_opens_one_case(cast, case):
    again = services.case_open(
        household=case.household,
        privacy_accepted_at=timezone.now(),
        **{**SIGNUP, "contact_phone": ""},
    )
    assert again.pk == case.pk
    assert Case.objects.filter(household=case.household).count() == 1
    assert again.contact_phone == "06 12345678"


def test_a_resident_without_email_can_sign_up(cast):
    household = builders.make_household(cast.initiative_a)
    case = services.case_open(household=household, contact_phone="030 1234567")
    assert case.contact_email == "" and case.status == CaseStatus.NEW


def test_it_refuses_signup_answers_that_are_not_choices(cast):
    household = builders.make_household(cast.initiative_a)
    with pytest.raises(ValidationError) as refused:
        services.case_open(household=household, heard_via="carrier_pigeon")
    assert "heard_via" in refused.value.message_dict
    assert not Case.objects.filter(household=household).exists()


def test_it_refuses_a_privacy_version_without_the_time_it_was_accepted(cast):
    household = builders.make_household(cast.initiative_a)
    with pytest.raises(ValidationError):
        services.case_open(household=household, privacy_statement_version="2025-1")
    assert not Case.objects.filter(household=household).exists()


def test_the_database_keeps_one_open_case_per_household(cast, case):
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.create(household=case.household, initiative=cast.initiative_a)
    services.case_transition(case=case, action=pipeline.WITHDRAW, actor=cast.coordinator)
    # Once the first is withdrawn, the household may sign up again.
    second = services.case_open(household=case.household)
    assert second.pk != case.pk and second.status == CaseStatus.NEW


# Assigning a coach ---------------------------------------------------------------------


def test_assigning_a_coach_records_it_sets_the_coach_and_mails_them(cast, case, assign, mailoutbox):
    assign(case, cast.alice, cast.coordinator)

    case.refresh_from_db()
    assert case.status == CaseStatus.COACH_ASSIGNED
    assert Household.objects.get(pk=case.household_id).assigned_coach == cast.alice
    event = CaseEvent.objects.get(case=case, kind=EventKind.ASSIGNMENT)
    assert (event.from_status, event.to_status) == (CaseStatus.NEW, CaseStatus.COACH_ASSIGNED)
    assert (event.actor, event.coach, event.previous_coach) == (cast.coordinator, cast.alice, None)
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["alice@a.example"]
    assert f"{SITE}/" in mail.body and "Energie A" in mail.body
    # No personal data of the resident in the subject (nor, for now, in the body).
    for personal in ("Delta", case.household.dwelling.street, case.household.dwelling.postcode):
        assert personal not in mail.subject and personal not in mail.body
    sent = CaseEvent.objects.get(case=case, kind=EventKind.EMAIL_SENT)
    assert sent.coach == cast.alice and sent.actor is None
    # Now Alice may see the household's dossier.
    access.get_for(cast.alice, Dossier, pk=case.household.dossier.pk)


def test_the_assignment_task_carries_the_id_only(cast, case, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.case_assign(case=case, coach=cast.alice, actor=cast.coordinator)
    assert len(callbacks) == 1
    with mock.patch.object(tasks.coach_assignment_mail, "apply_async") as apply_async:
        callbacks[0]()
    event = CaseEvent.objects.get(case=case, kind=EventKind.ASSIGNMENT)
    assert tuple(apply_async.call_args.args[0]) == (event.pk,)


@pytest.mark.parametrize("who", ["charlie", "coordinator", "resident"])
def test_it_refuses_someone_who_is_not_a_coach_of_the_initiative(cast, case, assign, who):
    with pytest.raises(ValidationError) as refused:
        assign(case, getattr(cast, who), cast.coordinator)
    assert refused.value.code == "coach"
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW and case.household.assigned_coach is None
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNMENT).exists()


def test_it_refuses_a_paused_coach_and_one_whose_membership_ended(cast, case, assign):
    CoachProfile.objects.create(user=cast.alice, organisation=cast.initiative_a, is_active=False)
    Membership.objects.filter(user=cast.bob).update(is_active=False)
    for coach in (cast.alice, cast.bob):
        with pytest.raises(ValidationError):
            assign(case, coach, cast.coordinator)


def test_reassigning_removes_the_old_coachs_access_at_once(cast, case, assign, mailoutbox):
    assign(case, cast.alice, cast.coordinator)
    services.case_note_add(case=case, actor=cast.alice, kind=EventKind.CALL, text="Gebeld")
    assert Case.objects.visible_to(cast.alice).filter(pk=case.pk).exists()

    assign(case, cast.bob, cast.coordinator)

    case.refresh_from_db()
    assert case.status == CaseStatus.COACH_ASSIGNED
    assert not Case.objects.visible_to(cast.alice).exists()
    assert not CaseEvent.objects.visible_to(cast.alice).filter(case=case).exists()
    with pytest.raises(Http404):
        access.get_for(cast.alice, Dossier, pk=case.household.dossier.pk)
    with pytest.raises(Http404):
        access.get_for(cast.alice, Case, pk=case.pk)
    assert access.get_for(cast.bob, Case, action=Action.CHANGE, pk=case.pk) == case
    reassignment = CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNMENT).last()
    assert (reassignment.previous_coach, reassignment.coach) == (cast.alice, cast.bob)
    assert [m.to for m in mailoutbox] == [["alice@a.example"], ["bob@a.example"]]


def test_assigning_the_same_coach_again_changes_nothing(cast, case, assign, mailoutbox):
    assign(case, cast.alice, cast.coordinator)
    before = events(case)
    assign(case, cast.alice, cast.coordinator)
    assert events(case) == before
    assert len(mailoutbox) == 1


def test_a_coach_replaced_before_the_mail_went_out_gets_no_mail(
    cast, case, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.case_assign(case=case, coach=cast.alice, actor=cast.coordinator)
        services.case_assign(case=case, coach=cast.bob, actor=cast.coordinator)
    assert [m.to for m in mailoutbox] == [["bob@a.example"]]


def test_the_assignment_mail_is_sent_once_when_its_task_runs_twice(cast, case, assign, mailoutbox):
    assign(case, cast.alice, cast.coordinator)
    event = CaseEvent.objects.get(case=case, kind=EventKind.ASSIGNMENT)
    tasks.coach_assignment_mail(event.pk)
    assert len(mailoutbox) == 1
    assert CaseEvent.objects.filter(case=case, kind=EventKind.EMAIL_SENT).count() == 1


def test_an_ended_case_gets_no_coach(cast, case, assign):
    services.case_transition(case=case, action=pipeline.WITHDRAW, actor=cast.coordinator)
    with pytest.raises(ValidationError) as refused:
        assign(case, cast.alice, cast.coordinator)
    assert refused.value.code == "transition"


# Moving through the pipeline -----------------------------------------------------------


def test_it_refuses_an_impossible_step_and_records_nothing(cast, case):
    before = events(case)
    with pytest.raises(ValidationError) as refused:
        services.case_transition(case=case, action=pipeline.CLOSE, actor=cast.coordinator)
    assert refused.value.code == "transition"
    assert "new" in refused.value.messages[0] or "nieuw" in refused.value.messages[0]
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW and events(case) == before


@pytest.mark.parametrize(
    "action",
    [pipeline.ASSIGN_COACH, pipeline.PLAN_VISIT, pipeline.CANCEL_VISIT, pipeline.INVITE_RESIDENT],
)
def test_actions_with_side_effects_go_through_their_own_service(cast, case, action):
    with pytest.raises(ValueError, match="use "):
        services.case_transition(case=case, action=action, actor=cast.coordinator)


def test_closing_stamps_the_case_and_reopening_returns_to_where_it_was(cast, case, assign):
    assign(case, cast.alice, cast.coordinator)
    for action in (pipeline.MARK_DOSSIER_FILLED_IN,):
        services.case_transition(case=case, action=action, actor=cast.alice)
    visit = services.visit_plan(
        case=case, coach=cast.alice, start=soon(), duration_minutes=90, actor=cast.alice
    )
    services.visit_done(visit=visit, actor=cast.alice, now=after(visit))
    services.case_transition(case=case, action=pipeline.MARK_REPORT_SENT, actor=cast.alice)
    services.case_transition(case=case, action=pipeline.START_FOLLOW_UP, actor=cast.alice)
    services.case_transition(case=case, action=pipeline.CLOSE, actor=cast.coordinator, text="Klaar")
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None
    assert not Case.objects.get(pk=case.pk).is_open

    services.case_transition(case=case, action=pipeline.REOPEN, actor=cast.coordinator)

    case.refresh_from_db()
    assert case.status == CaseStatus.FOLLOW_UP and case.closed_at is None


def test_inviting_the_resident_mails_them_and_moves_the_case(
    cast, case, assign, mailoutbox, django_capture_on_commit_callbacks
):
    assign(case, cast.alice, cast.coordinator)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.case_invite_resident(case=case, actor=cast.alice)
    assert case.status == CaseStatus.DOSSIER_INVITED
    assert [m.to for m in mailoutbox] == [["bewoner@example.org"]]
    assert case.household.residents.filter(email="bewoner@example.org").exists()
    assert events(case)[-1] == (
        EventKind.EMAIL_SENT,
        CaseStatus.COACH_ASSIGNED,
        CaseStatus.DOSSIER_INVITED,
    )


def test_a_resident_without_email_cannot_be_invited_by_mail(cast, assign):
    household = builders.make_household(cast.initiative_a)
    case = services.case_open(household=household, contact_phone="030 1234567")
    assign(case, cast.alice, cast.coordinator)
    with pytest.raises(ValidationError) as refused:
        services.case_invite_resident(case=case, actor=cast.alice)
    assert refused.value.code == "no_email"
    assert Case.objects.get(pk=case.pk).status == CaseStatus.COACH_ASSIGNED


# Visits --------------------------------------------------------------------------------


def test_planning_a_visit_moves_the_case_and_records_it(cast, case, assign):
    assign(case, cast.alice, cast.coordinator)
    start = soon()
    visit = services.visit_plan(
        case=case, coach=cast.alice, start=start, duration_minutes=90, actor=cast.coordinator
    )
    assert case.status == CaseStatus.VISIT_PLANNED
    assert Case.objects.get(pk=case.pk).status == CaseStatus.VISIT_PLANNED
    visit.refresh_from_db()
    assert (visit.status, visit.coach, visit.planned_start) == (
        VisitStatus.PLANNED,
        cast.alice,
        start,
    )
    event = CaseEvent.objects.filter(case=case).last()
    assert (event.kind, event.visit, event.to_status) == (
        EventKind.VISIT,
        visit,
        CaseStatus.VISIT_PLANNED,
    )


def test_it_refuses_a_visit_in_the_past(cast, case, assign):
    assign(case, cast.alice, cast.coordinator)
    with pytest.raises(ValidationError) as refused:
        services.visit_plan(
            case=case,
            coach=cast.alice,
            start=timezone.now() - dt.timedelta(minutes=5),
            duration_minutes=60,
            actor=cast.alice,
        )
    assert refused.value.code == "start_past"
    assert not Visit.objects.filter(case=case).exists()
    assert Case.objects.get(pk=case.pk).status == CaseStatus.COACH_ASSIGNED


def test_it_refuses_a_visit_before_a_coach_is_assigned_and_by_another_coach(cast, case, assign):
    with pytest.raises(ValidationError):
        services.visit_plan(
            case=case, coach=cast.alice, start=soon(), duration_minutes=60, actor=cast.alice
        )
    assign(case, cast.alice, cast.coordinator)
    with pytest.raises(ValidationError) as refused:
        services.visit_plan(
            case=case, coach=cast.bob, start=soon(), duration_minutes=60, actor=cast.bob
        )
    assert refused.value.code == "coach"


def test_it_refuses_a_second_planned_visit_and_a_silly_duration(cast, case, assign):
    assign(case, cast.alice, cast.coordinator)
    with pytest.raises(ValidationError) as refused:
        services.visit_plan(
            case=case, coach=cast.alice, start=soon(), duration_minutes=5, actor=cast.alice
        )
    assert refused.value.code == "duration"
    services.visit_plan(
        case=case, coach=cast.alice, start=soon(), duration_minutes=60, actor=cast.alice
    )
    with pytest.raises(ValidationError) as refused:
        services.visit_plan(
            case=case, coach=cast.alice, start=soon(4), duration_minutes=60, actor=cast.alice
        )
    assert refused.value.code == "visit_planned"
    assert Visit.objects.filter(case=case).count() == 1


def test_cancelling_a_visit_goes_back_to_the_status_before_planning(cast, case, assign):
    assign(case, cast.alice, cast.coordinator)
    services.case_transition(case=case, action=pipeline.MARK_DOSSIER_FILLED_IN, actor=cast.alice)
    visit = services.visit_plan(
        case=case, coach=cast.alice, start=soon(), duration_minutes=60, actor=cast.alice
    )
    # A reassignment in between keeps the visit (now the new coach's) and the status.
    assign(case, cast.bob, cast.coordinator)
    visit.refresh_from_db()
    assert visit.coach == cast.bob

    services.visit_cancel(visit=visit, actor=cast.bob, text="Bewoner ziek")

    case.refresh_from_db()
    assert case.status == CaseStatus.DOSSIER_FILLED_IN
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.CANCELLED
    with pytest.raises(ValidationError) as refused:
        services.visit_done(visit=visit, actor=cast.bob, now=after(visit))
    assert refused.value.code == "visit_state"
    # A new date can be planned after the cancellation.
    services.visit_plan(
        case=case, coach=cast.bob, start=soon(7), duration_minutes=60, actor=cast.bob
    )


def test_a_case_with_a_planned_visit_is_not_withdrawn_before_the_visit_is_cancelled(
    cast, case, assign
):
    assign(case, cast.alice, cast.coordinator)
    visit = services.visit_plan(
        case=case, coach=cast.alice, start=soon(), duration_minutes=60, actor=cast.alice
    )
    with pytest.raises(ValidationError) as refused:
        services.case_transition(case=case, action=pipeline.WITHDRAW, actor=cast.coordinator)
    assert refused.value.code == "visit_planned"
    services.visit_cancel(visit=visit, actor=cast.coordinator)
    services.case_transition(case=case, action=pipeline.WITHDRAW, actor=cast.coordinator)
    services.case_transition(case=case, action=pipeline.REOPEN, actor=cast.coordinator)
    assert Case.objects.get(pk=case.pk).status == CaseStatus.COACH_ASSIGNED


def test_a_visit_done_moves_the_case_on(cast, case, assign):
    assign(case, cast.alice, cast.coordinator)
    visit = services.visit_plan(
        case=case, coach=cast.alice, start=soon(), duration_minutes=60, actor=cast.alice
    )
    services.visit_done(visit=visit, actor=cast.alice, now=after(visit))
    assert Case.objects.get(pk=case.pk).status == CaseStatus.VISIT_DONE
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.DONE


def test_a_visit_that_has_not_started_is_not_marked_done(cast, case, assign):
    assign(case, cast.alice, cast.coordinator)
    visit = services.visit_plan(
        case=case, coach=cast.alice, start=soon(), duration_minutes=60, actor=cast.alice
    )
    events = CaseEvent.objects.count()
    with pytest.raises(ValidationError) as refused:
        services.visit_done(
            visit=visit, actor=cast.alice, now=visit.planned_start - dt.timedelta(seconds=1)
        )
    assert refused.value.code == "visit_future"
    assert Case.objects.get(pk=case.pk).status == CaseStatus.VISIT_PLANNED
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.PLANNED
    assert CaseEvent.objects.count() == events
    # The moment it begins it may be recorded as done.
    services.visit_done(visit=visit, actor=cast.alice, now=visit.planned_start)
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.DONE


# The timeline --------------------------------------------------------------------------


def test_the_timeline_lists_everything_in_the_order_it_happened(cast, case, assign):
    assign(case, cast.alice, cast.coordinator)
    services.case_note_add(case=case, actor=cast.coordinator, kind=EventKind.NOTE, text="Let op")
    services.case_note_add(case=case, actor=cast.alice, kind=EventKind.CALL, text="Gebeld")
    visit = services.visit_plan(
        case=case, coach=cast.alice, start=soon(), duration_minutes=60, actor=cast.alice
    )
    task = services.task_add(
        case=case,
        assignee=cast.alice,
        title="Offerte nabellen",
        due_date=timezone.localdate() + dt.timedelta(days=10),
        actor=cast.coordinator,
    )
    services.visit_cancel(visit=visit, actor=cast.alice)
    services.task_done(task=task, actor=cast.alice)

    timeline = list(selectors.case_timeline(case=case, viewer=cast.coordinator))

    assert [(e.kind, e.action, e.to_status) for e in timeline] == [
        (EventKind.STATUS_CHANGE, "open", CaseStatus.NEW),
        (EventKind.ASSIGNMENT, pipeline.ASSIGN_COACH, CaseStatus.COACH_ASSIGNED),
        (EventKind.EMAIL_SENT, services.MAIL_ASSIGNMENT, ""),
        (EventKind.NOTE, "", ""),
        (EventKind.CALL, "", ""),
        (EventKind.VISIT, pipeline.PLAN_VISIT, CaseStatus.VISIT_PLANNED),
        (EventKind.TASK, "task_add", ""),
        (EventKind.VISIT, pipeline.CANCEL_VISIT, CaseStatus.COACH_ASSIGNED),
        (EventKind.TASK, "task_done", ""),
    ]
    assert [e.actor for e in timeline][3:5] == [cast.coordinator, cast.alice]
    assert list(selectors.case_timeline(case=case, viewer=cast.alice)) == timeline
    assert list(selectors.case_timeline(case=case, viewer=cast.coordinator_b)) == []


@pytest.mark.parametrize("kind", [EventKind.STATUS_CHANGE, EventKind.EMAIL_SENT])
def test_notes_cannot_pose_as_what_the_system_records(cast, case, kind):
    with pytest.raises(ValueError):
        services.case_note_add(case=case, actor=cast.coordinator, kind=kind, text="Nep")


def test_an_empty_note_is_refused(cast, case):
    with pytest.raises(ValidationError):
        services.case_note_add(case=case, actor=cast.coordinator, kind=EventKind.NOTE, text=" ")


# Tasks ---------------------------------------------------------------------------------


def test_an_automatic_task_is_made_once_even_if_the_job_runs_twice(cast, case):
    due = timezone.localdate() + dt.timedelta(days=7)
    made = [
        services.task_add(
            case=case,
            assignee=None,
            title="Herinnering dossier",
            due_date=due,
            actor=None,
            kind=TaskKind.DOSSIER_REMINDER,
            dedupe_key=f"dossier_reminder:{case.pk}",
        )
        for _ in range(2)
    ]
    assert made[0].pk == made[1].pk
    assert Task.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case, kind=EventKind.TASK).count() == 1


def test_a_task_is_done_once_and_goes_only_to_staff_of_the_initiative(cast, case):
    due = timezone.localdate()
    with pytest.raises(ValidationError):
        services.task_add(case=case, assignee=cast.charlie, title="X", due_date=due, actor=None)
    task = services.task_add(
        case=case, assignee=cast.coordinator, title="Bellen", due_date=due, actor=None
    )
    services.task_done(task=task, actor=cast.coordinator)
    first = task.done_at
    services.task_done(task=task, actor=cast.coordinator)
    assert task.done_at == first
    assert CaseEvent.objects.filter(case=case, action="task_done").count() == 1


# Access and the queue ------------------------------------------------------------------


def test_another_initiative_sees_none_of_initiative_as_cases(cast, case, assign):
    assign(case, cast.alice, cast.coordinator)
    visit = services.visit_plan(
        case=case, coach=cast.alice, start=soon(), duration_minutes=60, actor=cast.alice
    )
    task = services.task_add(
        case=case,
        assignee=cast.alice,
        title="Bellen",
        due_date=timezone.localdate(soon()),
        actor=None,
    )
    for outsider in (cast.coordinator_b, cast.charlie, cast.resident, cast.municipality_staff):
        assert not Case.objects.visible_to(outsider).exists()
        assert not selectors.case_queue(viewer=outsider).exists()
        for model, obj in ((Case, case), (Visit, visit), (Task, task)):
            with pytest.raises(Http404):
                access.get_for(outsider, model, pk=obj.pk)
        assert not outsider.has_perm("crm.view_case", case)
    assert cast.coordinator.has_perm("crm.change_case", case)
    assert cast.alice.has_perm("crm.change_visit", visit)
    assert not cast.bob.has_perm("crm.view_case", case)


def test_the_queue_filters_by_status_coach_and_search(cast, case, assign):
    other = services.case_open(household=builders.make_household(cast.initiative_a))
    assign(case, cast.alice, cast.coordinator)
    closed = services.case_open(household=builders.make_household(cast.initiative_a))
    services.case_transition(case=closed, action=pipeline.WITHDRAW, actor=cast.coordinator)
    services.case_open(household=cast.household_b)

    queue = selectors.case_queue
    assert list(queue(viewer=cast.coordinator)) == [case, other]
    assert list(queue(viewer=cast.coordinator, status=CaseStatus.WITHDRAWN)) == [closed]
    assert list(queue(viewer=cast.coordinator, coach=cast.alice)) == [case]
    assert list(queue(viewer=cast.coordinator, search="delta")) == [case]
    postcode = case.household.dwelling.postcode
    assert case in queue(viewer=cast.coordinator, search=f"{postcode[:4]} {postcode[4:]}")
    assert list(queue(viewer=cast.alice)) == [case]
    assert list(queue(viewer=cast.bob)) == []


def test_the_workload_counts_open_cases_and_visits_in_the_coming_week(cast, case, assign):
    assign(case, cast.alice, cast.coordinator)
    services.visit_plan(
        case=case, coach=cast.alice, start=soon(2), duration_minutes=60, actor=cast.alice
    )
    later = services.case_open(household=builders.make_household(cast.initiative_a))
    assign(later, cast.alice, cast.coordinator)
    services.visit_plan(
        case=later, coach=cast.alice, start=soon(10), duration_minutes=60, actor=cast.alice
    )
    CoachProfile.objects.create(
        user=cast.bob, organisation=cast.initiative_a, areas="3731,3732", max_visits_per_week=2
    )
    builders.make_member(cast.initiative_a, Role.COORDINATOR)

    loads = {load.coach: load for load in selectors.coach_workload(initiative=cast.initiative_a)}

    assert set(loads) == {cast.alice, cast.bob}
    assert (loads[cast.alice].open_cases, loads[cast.alice].visits_next_week) == (2, 1)
    assert loads[cast.bob].open_cases == 0 and loads[cast.bob].areas == ["3731", "3732"]
    assert loads[cast.bob].max_visits_per_week == 2
    near = selectors.coaches_for_postcode(list(loads.values()), "3731 AB")
    assert [load.coach for load in near] == [cast.bob]


def test_the_database_refuses_postcode_areas_that_are_not_four_digits(cast):
    with pytest.raises(IntegrityError), transaction.atomic():
        CoachProfile.objects.create(user=cast.bob, organisation=cast.initiative_a, areas="3731AB")
