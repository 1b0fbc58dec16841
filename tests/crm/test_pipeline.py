"""The case pipeline as a table: where each action leads, and what it refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm import pipeline as p
from crm.models import CaseStatus

HAPPY_PATH = [
    (p.ASSIGN_COACH, p.COACH_ASSIGNED),
    (p.INVITE_RESIDENT, p.DOSSIER_INVITED),
    (p.MARK_DOSSIER_FILLED_IN, p.DOSSIER_FILLED_IN),
    (p.PLAN_VISIT, p.VISIT_PLANNED),
    (p.RECORD_VISIT_DONE, p.VISIT_DONE),
    (p.MARK_REPORT_SENT, p.REPORT_SENT),
    (p.START_FOLLOW_UP, p.FOLLOW_UP),
    (p.CLOSE, p.CLOSED),
]


def test_the_model_offers_exactly_the_pipelines_statuses_in_its_order():
    assert tuple(CaseStatus.values) == p.STATUSES
    assert p.STATUSES[:-2] == p.OPEN


def test_the_happy_path_walks_every_status_in_order():
    status = p.NEW
    seen = [status]
    for action, expected in HAPPY_PATH:
        status = p.transition(status, action)
        assert status == expected
        seen.append(status)
    assert seen == list(p.STATUSES[:-1])


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (p.NEW, p.PLAN_VISIT),
        (p.NEW, p.INVITE_RESIDENT),
        (p.NEW, p.CLOSE),
        (p.NEW, p.REOPEN),
        (p.COACH_ASSIGNED, p.RECORD_VISIT_DONE),
        (p.VISIT_PLANNED, p.PLAN_VISIT),
        (p.VISIT_PLANNED, p.MARK_REPORT_SENT),
        (p.VISIT_DONE, p.CANCEL_VISIT),
        (p.REPORT_SENT, p.PLAN_VISIT),
        (p.CLOSED, p.ASSIGN_COACH),
        (p.CLOSED, p.WITHDRAW),
        (p.WITHDRAWN, p.CLOSE),
        (p.WITHDRAWN, p.ASSIGN_COACH),
        (p.NEW, "fly_to_the_moon"),
    ],
)
def test_it_refuses_impossible_transitions(status, action):
    with pytest.raises(p.TransitionRefused) as refused:
        p.transition(status, action)
    assert (refused.value.status, refused.value.action) == (status, action)


@pytest.mark.parametrize("status", p.WITH_COACH)
def test_a_new_coach_keeps_the_status_once_a_coach_was_assigned(status):
    assert p.transition(status, p.ASSIGN_COACH) == status


@pytest.mark.parametrize("status", p.OPEN)
def test_every_open_case_can_be_withdrawn(status):
    assert p.transition(status, p.WITHDRAW) == p.WITHDRAWN


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        (p.DOSSIER_FILLED_IN, p.DOSSIER_FILLED_IN),
        (p.DOSSIER_INVITED, p.DOSSIER_INVITED),
        (p.COACH_ASSIGNED, p.COACH_ASSIGNED),
        # Unknown history, or one the visit cannot go back to: the earliest safe status.
        (None, p.COACH_ASSIGNED),
        (p.FOLLOW_UP, p.COACH_ASSIGNED),
    ],
)
def test_a_cancelled_visit_goes_back_to_the_status_before_planning(previous, expected):
    assert p.transition(p.VISIT_PLANNED, p.CANCEL_VISIT, previous=previous) == expected


@pytest.mark.parametrize(
    ("status", "previous", "expected"),
    [
        (p.CLOSED, p.FOLLOW_UP, p.FOLLOW_UP),
        (p.WITHDRAWN, p.VISIT_PLANNED, p.VISIT_PLANNED),
        (p.CLOSED, None, p.NEW),
        (p.WITHDRAWN, p.CLOSED, p.NEW),
    ],
)
def test_reopening_goes_back_or_to_new(status, previous, expected):
    assert p.transition(status, p.REOPEN, previous=previous) == expected


def test_an_ended_case_allows_only_reopening():
    assert p.allowed_actions(p.CLOSED) == (p.REOPEN,)
    assert p.allowed_actions(p.WITHDRAWN) == (p.REOPEN,)
    assert p.REOPEN not in p.allowed_actions(p.FOLLOW_UP)


@given(
    st.lists(
        st.tuples(st.sampled_from(p.ACTIONS), st.none() | st.sampled_from(p.STATUSES)),
        max_size=40,
    )
)
def test_any_sequence_of_actions_keeps_a_known_status(steps):
    status = p.NEW
    for action, previous in steps:
        try:
            after = p.transition(status, action, previous=previous)
        except p.TransitionRefused:
            assert action not in p.allowed_actions(status)
            continue
        assert after in p.STATUSES
        if status in p.ENDED:
            # Closed and withdrawn cases leave only by being reopened, and only to open.
            assert action == p.REOPEN and after in p.OPEN
        if after in p.ENDED:
            assert action in (p.CLOSE, p.WITHDRAW)
        status = after
