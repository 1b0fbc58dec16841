"""The case pipeline: which action may move a case from which status to which.

Pure rules, no ORM: statuses and actions are plain strings, and `transition()` answers
where an action leads or refuses it. Statuses move only by actions, never by editing.

Two actions go back to where the case came from: cancelling a visit returns to the
status before the visit was planned, and reopening returns to the status before the
case was closed or withdrawn (or to "new"). The pipeline cannot know that history; the
caller passes it as `previous` (the services read it from the case's timeline).
"""

from __future__ import annotations

NEW = "new"
COACH_ASSIGNED = "coach_assigned"
DOSSIER_INVITED = "dossier_invited"
DOSSIER_FILLED_IN = "dossier_filled_in"
VISIT_PLANNED = "visit_planned"
VISIT_DONE = "visit_done"
REPORT_SENT = "report_sent"
FOLLOW_UP = "follow_up"
CLOSED = "closed"
WITHDRAWN = "withdrawn"

# In the order a case normally goes through them; withdrawn can follow any open status.
STATUSES: tuple[str, ...] = (
    NEW,
    COACH_ASSIGNED,
    DOSSIER_INVITED,
    DOSSIER_FILLED_IN,
    VISIT_PLANNED,
    VISIT_DONE,
    REPORT_SENT,
    FOLLOW_UP,
    CLOSED,
    WITHDRAWN,
)
ENDED: frozenset[str] = frozenset({CLOSED, WITHDRAWN})
OPEN: tuple[str, ...] = tuple(s for s in STATUSES if s not in ENDED)

ASSIGN_COACH = "assign_coach"
INVITE_RESIDENT = "invite_resident"
MARK_DOSSIER_FILLED_IN = "mark_dossier_filled_in"
PLAN_VISIT = "plan_visit"
RECORD_VISIT_DONE = "record_visit_done"
CANCEL_VISIT = "cancel_visit"
MARK_REPORT_SENT = "mark_report_sent"
START_FOLLOW_UP = "start_follow_up"
CLOSE = "close"
WITHDRAW = "withdraw"
REOPEN = "reopen"

ACTIONS: tuple[str, ...] = (
    ASSIGN_COACH,
    INVITE_RESIDENT,
    MARK_DOSSIER_FILLED_IN,
    PLAN_VISIT,
    RECORD_VISIT_DONE,
    CANCEL_VISIT,
    MARK_REPORT_SENT,
    START_FOLLOW_UP,
    CLOSE,
    WITHDRAW,
    REOPEN,
)

# Marks a transition that goes back to the status given as `previous`.
BACK = "<back>"

# The statuses before a visit is planned: the ones a cancelled visit may return to.
BEFORE_VISIT: tuple[str, ...] = (COACH_ASSIGNED, DOSSIER_INVITED, DOSSIER_FILLED_IN)
# Statuses in which a coach is (or should be) assigned; a new coach there keeps the status.
WITH_COACH: tuple[str, ...] = OPEN[1:]


def _stay(*statuses: str) -> dict[str, str]:
    return {status: status for status in statuses}


# action -> {from status: to status}. Anything not in here is refused.
TRANSITIONS: dict[str, dict[str, str]] = {
    ASSIGN_COACH: {NEW: COACH_ASSIGNED, **_stay(*WITH_COACH)},
    # Sending the invitation again keeps the status.
    INVITE_RESIDENT: {COACH_ASSIGNED: DOSSIER_INVITED, DOSSIER_INVITED: DOSSIER_INVITED},
    # A resident may fill in the dossier before the invitation (e.g. at the sign-up desk).
    MARK_DOSSIER_FILLED_IN: {COACH_ASSIGNED: DOSSIER_FILLED_IN, DOSSIER_INVITED: DOSSIER_FILLED_IN},
    PLAN_VISIT: dict.fromkeys(BEFORE_VISIT, VISIT_PLANNED),
    RECORD_VISIT_DONE: {VISIT_PLANNED: VISIT_DONE},
    CANCEL_VISIT: {VISIT_PLANNED: BACK},
    # A new version of the report keeps the status.
    MARK_REPORT_SENT: {VISIT_DONE: REPORT_SENT, REPORT_SENT: REPORT_SENT},
    START_FOLLOW_UP: {REPORT_SENT: FOLLOW_UP},
    CLOSE: dict.fromkeys((VISIT_DONE, REPORT_SENT, FOLLOW_UP), CLOSED),
    WITHDRAW: dict.fromkeys(OPEN, WITHDRAWN),
    REOPEN: dict.fromkeys(ENDED, BACK),
}

# Where a "back" transition may go, and where it goes when the history is unknown.
BACK_TARGETS: dict[str, tuple[frozenset[str], str]] = {
    CANCEL_VISIT: (frozenset(BEFORE_VISIT), COACH_ASSIGNED),
    REOPEN: (frozenset(OPEN), NEW),
}


class TransitionRefused(ValueError):
    """The action is not possible from this status."""

    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"{action} is not possible from {status}")
        self.status = status
        self.action = action


def allowed_actions(status: str) -> tuple[str, ...]:
    """The actions possible from this status, in pipeline order."""
    return tuple(action for action in ACTIONS if status in TRANSITIONS[action])


def transition(status: str, action: str, *, previous: str | None = None) -> str:
    """The status the action leads to from `status`; raises TransitionRefused if none.

    previous: for cancel_visit and reopen, the status to go back to. A value the action
    may not go back to, or none at all, falls back to that action's default.
    """
    target = TRANSITIONS.get(action, {}).get(status)
    if target is None:
        raise TransitionRefused(status, action)
    if target == BACK:
        allowed, default = BACK_TARGETS[action]
        return previous if previous in allowed else default
    return target


def is_open(status: str) -> bool:
    return status not in ENDED
