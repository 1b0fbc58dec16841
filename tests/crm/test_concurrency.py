"""Two coordinators assigning the same case at the same moment (PostgreSQL row locks)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from crm import services
from crm.models import Case, CaseEvent, CaseStatus, EventKind
from dossier.models import Household
from tests import builders
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow_lock_holder(monkeypatch):
    """Hold the case's lock a moment, so the other thread surely arrives while it is held."""
    move = services._move

    def slow(case, action):
        time.sleep(0.3)
        return move(case, action)

    monkeypatch.setattr(services, "_move", slow)


def assign_at_once(case: Case, pairs) -> list[BaseException]:
    barrier = threading.Barrier(len(pairs))
    errors: list[BaseException] = []

    def run(coach, actor):
        try:
            barrier.wait(timeout=10)
            services.case_assign(case=Case.objects.get(pk=case.pk), coach=coach, actor=actor)
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return errors


@pytest.fixture
def case(cast) -> Case:
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL (DATABASE_URL=postgres://...)")
    household = builders.make_household(cast.initiative_a)
    return services.case_open(household=household)


def test_two_coordinators_assigning_different_coaches_leave_one_consistent_assignment(
    cast, case, slow_lock_holder, mailoutbox
):
    second_coordinator = builders.make_member(cast.initiative_a, "coordinator")

    errors = assign_at_once(case, [(cast.alice, cast.coordinator), (cast.bob, second_coordinator)])

    assert errors == []
    final = Household.objects.get(pk=case.household_id).assigned_coach
    assert final in (cast.alice, cast.bob)
    assignments = list(
        CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNMENT).order_by("pk")
    )
    # The second saw the first's coach: one assignment, then one reassignment from it.
    assert len(assignments) == 2
    first, second = assignments
    assert (first.from_status, first.to_status, first.previous_coach) == (
        CaseStatus.NEW,
        CaseStatus.COACH_ASSIGNED,
        None,
    )
    assert (second.from_status, second.to_status) == (
        CaseStatus.COACH_ASSIGNED,
        CaseStatus.COACH_ASSIGNED,
    )
    assert second.previous_coach == first.coach and second.coach == final != first.coach
    assert Case.objects.get(pk=case.pk).status == CaseStatus.COACH_ASSIGNED
    assert [m.to for m in mailoutbox].count([final.email]) == 1


def test_two_coordinators_assigning_the_same_coach_leave_one_assignment(
    cast, case, slow_lock_holder, mailoutbox
):
    second_coordinator = builders.make_member(cast.initiative_a, "coordinator")

    errors = assign_at_once(
        case, [(cast.alice, cast.coordinator), (cast.alice, second_coordinator)]
    )

    assert errors == []
    assert Household.objects.get(pk=case.household_id).assigned_coach == cast.alice
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNMENT).count() == 1
    assert [m.to for m in mailoutbox] == [[cast.alice.email]]
