"""Writes to cases: opening one, moving it through the pipeline, assigning a coach,
visits, notes and tasks.

Every write that moves a case first locks the case row (select_for_update), so two
coordinators acting on one case at once are served one after the other, and the second
sees what the first did. Each write adds one line to the case's timeline. SQLite has no
row locks; there its IMMEDIATE transactions serialise writers instead.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Membership
from accounts.roles import Role
from crm import pipeline, tasks
from crm.models import (
    VISIT_MINUTES_MAX,
    VISIT_MINUTES_MIN,
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
from dossier import services as dossier_services
from dossier.dwellings import dossier_carry_over
from dossier.models import Dossier, Dwelling, Household, Occupancy

if TYPE_CHECKING:
    from accounts.models import Organisation, User

# The sign-up answers a case keeps; case_open takes these and nothing else.
SIGNUP_FIELDS = frozenset(
    {
        "wants_help_with",
        "heard_via",
        "is_member",
        "contact_email",
        "contact_phone",
        "privacy_statement_version",
        "privacy_accepted_at",
    }
)
# Actions with side effects beyond the status have services of their own.
OWN_SERVICE = {
    pipeline.ASSIGN_COACH: "case_assign",
    pipeline.INVITE_RESIDENT: "case_invite_resident",
    pipeline.PLAN_VISIT: "visit_plan",
    pipeline.RECORD_VISIT_DONE: "visit_done",
    pipeline.CANCEL_VISIT: "visit_cancel",
}
# What people record by hand; status changes, mails, assignments and visits come from
# the services that do them.
MANUAL_EVENT_KINDS = frozenset({EventKind.NOTE, EventKind.CALL, EventKind.MESSAGE})
TEXT_MAX = 4000
MAIL_ASSIGNMENT = "coach_assignment_mail"
MAIL_REPORT = "advice_report_mail"


def _lock(case: Case) -> Case:
    """The case's row, locked until the transaction ends, as it is now in the database.

    On PostgreSQL the joined household row is locked with it, in the same statement: the
    assigned coach lives there.
    """
    return Case.objects.select_for_update().select_related("household").get(pk=case.pk)


def _refresh(target: Case, source: Case) -> None:
    """Give the caller's instance the state the service left, so it does not act on a stale one."""
    for name in ("status", "closed_at", "updated_at"):
        setattr(target, name, getattr(source, name))


def _previous(case: Case) -> str | None:
    """For a "back" action: the status the case had before it came to its current one."""
    entered = (
        CaseEvent.objects.filter(case=case, to_status=case.status)
        .exclude(from_status=case.status)
        .order_by("-created_at", "-pk")
        .first()
    )
    return entered.from_status if entered is not None else None


def _move(case: Case, action: str) -> tuple[str, str]:
    """Apply the action to a locked case; returns (from, to). Refusals are ValidationErrors."""
    before = case.status
    previous = _previous(case) if action in pipeline.BACK_TARGETS else None
    try:
        after = pipeline.transition(before, action, previous=previous)
    except pipeline.TransitionRefused:
        raise ValidationError(
            _("This step is not possible for a case with the status “%(status)s”."),
            code="transition",
            params={"status": CaseStatus(before).label},
        ) from None
    if after != before:
        case.status = after
        if not pipeline.is_open(after):
            case.closed_at = timezone.now()
        elif not pipeline.is_open(before):
            case.closed_at = None
        case.save(update_fields=["status", "closed_at", "updated_at"])
    return before, after


def event_add(case: Case, kind: str, actor: User | None, **fields: Any) -> CaseEvent:
    """One line in the case's timeline; None as actor: the system did it."""
    return CaseEvent.objects.create(case=case, kind=kind, actor=actor, **fields)


def _clean_text(text: str, *, required: bool = False) -> str:
    text = text.strip()
    if required and not text:
        raise ValidationError(_("Write something first."), code="required")
    if len(text) > TEXT_MAX:
        raise ValidationError(
            _("Keep it under %(max)s characters."), code="max_length", params={"max": TEXT_MAX}
        )
    return text


def is_available_coach(*, user: User, case: Case) -> bool:
    """True when the user is an active coach of the case's initiative and not paused."""
    if not user.is_active:
        return False
    member = Membership.objects.filter(
        user=user,
        organisation_id=case.initiative_id,
        organisation__is_active=True,
        role=Role.COACH,
        is_active=True,
    ).exists()
    paused = CoachProfile.objects.filter(user=user, is_active=False).exists()
    return member and not paused


# Opening and moving a case ---------------------------------------------------------------


def case_open(*, household: Household, actor: User | None = None, **signup: Any) -> Case:
    """Open a case for the household with its sign-up answers; its open case if it has one.

    A double submit of the sign-up form therefore leaves one case, with the answers of
    the first.
    """
    unknown = set(signup) - SIGNUP_FIELDS
    if unknown:
        raise TypeError(f"case_open() got unexpected fields: {sorted(unknown)}")
    case = Case(household=household, initiative_id=household.initiative_id, **signup)
    # The household is excluded here: whether it has an open case is asked under the lock.
    case.full_clean(exclude=["household", "initiative"])
    with transaction.atomic():
        # Sign-ups for one household wait for each other here (PostgreSQL); the
        # constraint catches what gets past on SQLite.
        Household.objects.select_for_update().filter(pk=household.pk).exists()
        existing = Case.objects.filter(household=household).exclude(status__in=pipeline.ENDED)
        if (found := existing.first()) is not None:
            return found
        try:
            with transaction.atomic():
                case.save()
        except IntegrityError:
            if (found := existing.first()) is None:
                raise
            return found
        event_add(case, EventKind.STATUS_CHANGE, actor, to_status=case.status, action="open")
    return case


def same_contact(*, email: str, phone: str, case_email: str, case_phone: str) -> bool:
    """Whether a sign-up's contact details are those of an earlier case: the same person.

    The e-mail address decides when the sign-up gave one; otherwise the phone number
    (digits only). A sign-up with neither is nobody we know.
    """
    if email:
        return email.strip().casefold() == case_email.strip().casefold()
    digits = "".join(c for c in phone if c.isdigit())
    return bool(digits) and digits == "".join(c for c in case_phone if c.isdigit())


def household_of_contact(
    *, households: list[Household], email: str, phone: str
) -> Household | None:
    """The household among these whose cases carry this contact; None if none does."""
    if not households or not (email or phone.strip()):
        return None
    by_pk = {household.pk: household for household in households}
    cases = Case.objects.filter(household_id__in=by_pk).order_by("-created_at", "-pk")
    for household_id, case_email, case_phone in cases.values_list(
        "household_id", "contact_email", "contact_phone"
    ):
        if same_contact(email=email, phone=phone, case_email=case_email, case_phone=case_phone):
            return by_pk[household_id]
    return None


def signup_household(
    *,
    initiative: Organisation,
    dwelling: Dwelling,
    name: str,
    contact_email: str = "",
    contact_phone: str = "",
) -> Household:
    """The household a sign-up at this dwelling belongs to, made if needed.

    - nobody of the initiative lives there: a new household with the typed name;
    - the sign-up's e-mail (or phone) is that of a case of a household there: that
      household (a double submit, or the same people signing up again);
    - otherwise a new household "at a known address", with the typed name: never the
      household living there, its dossier or its case. The coordinator decides later
      whether it is a partner, new occupants or a second household
      (case_known_address_resolve).

    Call inside a transaction holding the dwelling's lock (dossier.dwellings.dwelling_at
    with lock=True), so two sign-ups at one address are placed one after the other.
    """
    living = list(
        Household.objects.filter(
            initiative=initiative, dwelling=dwelling, ended_at__isnull=True
        ).order_by("pk")
    )
    same = household_of_contact(households=living, email=contact_email, phone=contact_phone)
    if same is not None:
        return same
    if not any(h.occupancy == Occupancy.MAIN for h in living):
        try:
            with transaction.atomic():
                return Household.objects.create(initiative=initiative, dwelling=dwelling, name=name)
        except IntegrityError:
            # Without a row lock (SQLite between its checks) another sign-up made the
            # household living here a moment ago: this one is at a known address now.
            pass
    return Household.objects.create(
        initiative=initiative, dwelling=dwelling, name=name, occupancy=Occupancy.KNOWN_ADDRESS
    )


@transaction.atomic
def case_transition(*, case: Case, action: str, actor: User | None, text: str = "") -> Case:
    """Move the case by one action of the pipeline, and record it with who and why."""
    if action in OWN_SERVICE:
        raise ValueError(f"use {OWN_SERVICE[action]}() for {action}")
    if action not in pipeline.ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    text = _clean_text(text)
    locked = _lock(case)
    if (
        action == pipeline.WITHDRAW
        and Visit.objects.filter(case=locked, status=VisitStatus.PLANNED).exists()
    ):
        # The resident expects a coach at the door: someone must tell them it is off.
        raise ValidationError(_("Cancel the planned visit first."), code="visit_planned")
    before, after = _move(locked, action)
    event_add(
        locked,
        EventKind.STATUS_CHANGE,
        actor,
        action=action,
        from_status=before,
        to_status=after,
        text=text,
    )
    _refresh(case, locked)
    return locked


# Assigning a coach -----------------------------------------------------------------------


@transaction.atomic
def case_assign(*, case: Case, coach: User, actor: User | None) -> Case:
    """Make `coach` the case's coach (and the household's), and mail them.

    The household's assigned coach is what gives a coach access to the dossier and the
    case, so the old coach loses both in this same transaction. Two coordinators who
    assign at once are served one after the other: the second finds the first's coach
    and either does nothing (the same coach) or reassigns (another).
    """
    if not is_available_coach(user=coach, case=case):
        raise ValidationError(_("Choose an active coach of this initiative."), code="coach")
    locked = _lock(case)
    household = locked.household
    previous_id = household.assigned_coach_id
    if previous_id == coach.pk and locked.status != pipeline.NEW:
        _refresh(case, locked)
        return locked
    before, after = _move(locked, pipeline.ASSIGN_COACH)
    household.assigned_coach = coach
    # save() rather than update(): the household's audit log records the change.
    household.save(update_fields=["assigned_coach"])
    # The resident's appointment stands; whoever now coaches the case makes the visit.
    Visit.objects.filter(case=locked, status=VisitStatus.PLANNED).update(coach=coach)
    event = event_add(
        locked,
        EventKind.ASSIGNMENT,
        actor,
        action=pipeline.ASSIGN_COACH,
        from_status=before,
        to_status=after,
        coach=coach,
        previous_coach_id=previous_id if previous_id != coach.pk else None,
    )
    tasks.coach_assignment_mail.delay_on_commit(event.pk)
    _refresh(case, locked)
    return locked


def coach_assignment_mail_send(*, event_id: int) -> bool:
    """Mail the coach of this assignment that the case is theirs; True when sent now.

    Nothing is sent when the case has had another coach since (that coach has a mail of
    their own coming), or when this mail went out already (a task delivered twice). The
    mail holds a link, never the resident's name or address.
    """
    event = (
        CaseEvent.objects.select_related("case__household", "case__initiative", "coach")
        .filter(pk=event_id, kind=EventKind.ASSIGNMENT)
        .first()
    )
    if event is None or event.coach is None or not event.coach.email:
        return False
    case, coach = event.case, event.coach
    if case.household.assigned_coach_id != coach.pk:
        return False
    sent = CaseEvent.objects.filter(
        case=case, kind=EventKind.EMAIL_SENT, action=MAIL_ASSIGNMENT, coach=coach, pk__gt=event.pk
    )
    if sent.exists():
        return False
    link = settings.SITE_URL + reverse("crm:case-detail", kwargs={"pk": case.pk})
    # A worker has no request to take the language from.
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("A case has been assigned to you")
        body = "\n\n".join(
            [
                _("Hello %(name)s,") % {"name": coach.first_name or coach.email},
                _("%(initiative)s has assigned a resident's case to you.")
                % {"initiative": case.initiative.name},
                _("Open the case to see the details and plan a visit:") + f"\n{link}",
                _("This e-mail was sent automatically."),
            ]
        )
    # No lock is held while the mail server is slow. If it fails, the task retries; if
    # the worker dies between the mail and the row, the coach may get it twice.
    send_mail(subject, body, None, [coach.email])
    event_add(case, EventKind.EMAIL_SENT, None, action=MAIL_ASSIGNMENT, coach=coach, text=subject)
    return True


# Inviting the resident -------------------------------------------------------------------


@transaction.atomic
def case_invite_resident(*, case: Case, actor: User) -> Case:
    """Invite the resident to fill in the dossier before the visit, at the case's e-mail address.

    Sending again keeps the status and sends a fresh link.
    """
    locked = _lock(case)
    if not locked.contact_email:
        raise ValidationError(
            _("This resident has no e-mail address: help them fill in the dossier by phone."),
            code="no_email",
        )
    before, after = _move(locked, pipeline.INVITE_RESIDENT)
    dossier = dossier_services.dossier_create(household=locked.household)
    dossier_services.resident_invite(dossier=dossier, email=locked.contact_email, actor=actor)
    event_add(
        locked,
        EventKind.EMAIL_SENT,
        actor,
        action=pipeline.INVITE_RESIDENT,
        from_status=before,
        to_status=after,
    )
    _refresh(case, locked)
    return locked


# Visits --------------------------------------------------------------------------------


@transaction.atomic
def visit_plan(
    *,
    case: Case,
    coach: User,
    start: dt.datetime,
    duration_minutes: int,
    actor: User,
    now: dt.datetime | None = None,
) -> Visit:
    """Plan the visit to the home; the case moves to "visit planned"."""
    now = now or timezone.now()
    if timezone.is_naive(start):
        raise ValueError("start must be an aware datetime")
    if start <= now:
        raise ValidationError(_("Choose a start time in the future."), code="start_past")
    if not VISIT_MINUTES_MIN <= duration_minutes <= VISIT_MINUTES_MAX:
        raise ValidationError(
            _("A visit lasts between %(min)s and %(max)s minutes."),
            code="duration",
            params={"min": VISIT_MINUTES_MIN, "max": VISIT_MINUTES_MAX},
        )
    locked = _lock(case)
    if locked.household.assigned_coach_id != coach.pk:
        raise ValidationError(
            _("Only the coach assigned to this case can make its visit."), code="coach"
        )
    if Visit.objects.filter(case=locked, status=VisitStatus.PLANNED).exists():
        raise ValidationError(_("This case already has a planned visit."), code="visit_planned")
    before, after = _move(locked, pipeline.PLAN_VISIT)
    visit = Visit.objects.create(
        case=locked, coach=coach, planned_start=start, duration_minutes=duration_minutes
    )
    event_add(
        locked,
        EventKind.VISIT,
        actor,
        action=pipeline.PLAN_VISIT,
        from_status=before,
        to_status=after,
        coach=coach,
        visit=visit,
    )
    _refresh(case, locked)
    return visit


def _visit_finish(*, visit: Visit, actor: User, action: str, status: str, text: str) -> Visit:
    text = _clean_text(text)
    locked = _lock(visit.case)
    current = Visit.objects.select_for_update().get(pk=visit.pk)
    if current.status != VisitStatus.PLANNED:
        raise ValidationError(_("This visit is no longer planned."), code="visit_state")
    before, after = _move(locked, action)
    current.status = status
    current.save(update_fields=["status"])
    event_add(
        locked,
        EventKind.VISIT,
        actor,
        action=action,
        from_status=before,
        to_status=after,
        coach=current.coach,
        visit=current,
        text=text,
    )
    _refresh(visit.case, locked)
    visit.status = status
    return current


@transaction.atomic
def visit_done(
    *, visit: Visit, actor: User, text: str = "", now: dt.datetime | None = None
) -> Visit:
    """The visit took place; the case moves to "visit done".

    A visit that has not begun yet cannot have taken place: it is refused and nothing
    changes (it can still be cancelled). The start of a visit never changes after it is
    planned, so the row the caller loaded is good enough to check.
    """
    if visit.planned_start > (now or timezone.now()):
        raise ValidationError(
            _("This visit has not started yet. Mark it done after it has taken place."),
            code="visit_future",
        )
    return _visit_finish(
        visit=visit,
        actor=actor,
        action=pipeline.RECORD_VISIT_DONE,
        status=VisitStatus.DONE,
        text=text,
    )


@transaction.atomic
def visit_cancel(*, visit: Visit, actor: User, text: str = "") -> Visit:
    """The visit will not take place; the case goes back to where it was before planning."""
    return _visit_finish(
        visit=visit,
        actor=actor,
        action=pipeline.CANCEL_VISIT,
        status=VisitStatus.CANCELLED,
        text=text,
    )


# Contact history and tasks ---------------------------------------------------------------


def case_note_add(*, case: Case, actor: User, kind: str, text: str) -> CaseEvent:
    """Record a note, a phone call or a message in the case's timeline."""
    if kind not in MANUAL_EVENT_KINDS:
        raise ValueError(f"{kind!r} is recorded by its own service")
    return event_add(case, kind, actor, text=_clean_text(text, required=True))


def _is_staff_of(user: User, case: Case) -> bool:
    return (
        user.is_active
        and Membership.objects.filter(
            user=user,
            organisation_id=case.initiative_id,
            role__in=(Role.COORDINATOR, Role.COACH),
            is_active=True,
        ).exists()
    )


@transaction.atomic
def task_add(
    *,
    case: Case,
    assignee: User | None,
    title: str,
    due_date: dt.date,
    actor: User | None,
    kind: str = TaskKind.MANUAL,
    dedupe_key: str | None = None,
) -> Task:
    """Add a task to the case. With a dedupe_key, the task of that key if it exists already."""
    task, _created = task_ensure(
        case=case,
        assignee=assignee,
        title=title,
        due_date=due_date,
        actor=actor,
        kind=kind,
        dedupe_key=dedupe_key,
    )
    return task


@transaction.atomic
def task_ensure(
    *,
    case: Case,
    assignee: User | None,
    title: str,
    due_date: dt.date,
    actor: User | None,
    kind: str = TaskKind.MANUAL,
    dedupe_key: str | None = None,
) -> tuple[Task, bool]:
    """task_add() that also says whether the task is new: an automatic job acts only then."""
    title = title.strip()
    if not title:
        raise ValidationError(_("Give the task a title."), code="title")
    if assignee is not None and not _is_staff_of(assignee, case):
        raise ValidationError(
            _("Choose a coordinator or coach of this initiative."), code="assignee"
        )
    if dedupe_key is not None:
        existing = Task.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            task = Task.objects.create(
                case=case,
                assignee=assignee,
                title=title[:200],
                due_date=due_date,
                kind=kind,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        # The same job, run twice at once, made it a moment ago.
        if dedupe_key is None:
            raise
        return Task.objects.get(dedupe_key=dedupe_key), False
    event_add(case, EventKind.TASK, actor, action="task_add", coach=assignee, task=task)
    return task, True


@transaction.atomic
def task_done(*, task: Task, actor: User) -> Task:
    """Mark the task done; done twice is done once."""
    if Task.objects.filter(pk=task.pk, done_at__isnull=True).update(done_at=timezone.now()):
        event_add(task.case, EventKind.TASK, actor, action="task_done", task=task)
    task.refresh_from_db()
    return task


# What happens in the dossier moves the case ------------------------------------------------


def _open_case(household_id: int) -> Case | None:
    """The household's open case, locked; None when it has none (e.g. a dossier without sign-up)."""
    return (
        Case.objects.select_for_update()
        .select_related("household")
        .filter(household_id=household_id)
        .exclude(status__in=pipeline.ENDED)
        .first()
    )


def _move_if_possible(case: Case, action: str, actor: User | None) -> None:
    """Apply the action to a locked case when its status allows it, and record it; else nothing."""
    if action in pipeline.allowed_actions(case.status):
        before, after = _move(case, action)
        event_add(
            case,
            EventKind.STATUS_CHANGE,
            actor,
            action=action,
            from_status=before,
            to_status=after,
        )


@transaction.atomic
def case_dossier_submitted(*, household_id: int, actor: User | None) -> Case | None:
    """The resident finished the dossier: the case moves on, and its reminder is no longer due."""
    case = _open_case(household_id)
    if case is None:
        return None
    Task.objects.filter(case=case, kind=TaskKind.DOSSIER_REMINDER, done_at__isnull=True).update(
        done_at=timezone.now()
    )
    # Finishing again later (after a change) or after the visit moves nothing.
    _move_if_possible(case, pipeline.MARK_DOSSIER_FILLED_IN, actor)
    return case


@transaction.atomic
def case_report_delivered(*, household_id: int, how: str, actor: User | None) -> Case | None:
    """An advice report reached the resident (mailed, or printed for the post).

    The mail is one line in the contact history. A case whose visit is recorded as done
    moves to "report sent", which starts the clock of the follow-up; any other case keeps
    its status, as the coach may still have a step to record.
    """
    case = _open_case(household_id)
    if case is None:
        return None
    if how == "email":
        event_add(case, EventKind.EMAIL_SENT, None, action=MAIL_REPORT)
    _move_if_possible(case, pipeline.MARK_REPORT_SENT, actor)
    return case


# Coach profiles ------------------------------------------------------------------------


def normalise_areas(text: str) -> str:
    """ "3731, 3732 3733" as "3731,3732,3733": sorted, each once; the model checks the format."""
    return ",".join(sorted({part for part in text.replace(",", " ").split() if part}))


@transaction.atomic
def coach_profile_save(
    *,
    initiative: Organisation,
    coach: User,
    areas: str,
    max_visits_per_week: int,
    is_active: bool,
    actor: User,
) -> CoachProfile:
    """Set where a coach of the initiative works, how much, and whether they take new cases."""
    is_coach = Membership.objects.filter(
        user=coach, organisation=initiative, role=Role.COACH, is_active=True
    ).exists()
    if not is_coach:
        raise ValidationError(_("Choose an active coach of this initiative."), code="coach")
    profile = CoachProfile.objects.select_for_update().filter(user=coach).first()
    if profile is None:
        profile = CoachProfile(user=coach, organisation=initiative)
    elif profile.organisation_id != initiative.pk:
        # One profile per person: the initiative that made it keeps it.
        raise ValidationError(
            _("Another initiative keeps this coach's profile."), code="other_initiative"
        )
    profile.areas = normalise_areas(areas)
    profile.max_visits_per_week = max_visits_per_week
    profile.is_active = is_active
    profile.full_clean()
    profile.save()
    return profile


# A sign-up at a known address ------------------------------------------------------------

SAME_HOUSEHOLD = "same_household"
NEW_OCCUPANTS = "new_occupants"
SECOND_HOUSEHOLD = "second_household"
KNOWN_ADDRESS_CHOICES = (SAME_HOUSEHOLD, NEW_OCCUPANTS, SECOND_HOUSEHOLD)
KNOWN_ADDRESS_ACTION = "known_address"


def known_address_household(*, household: Household) -> Household | None:
    """The household of the same initiative living at the address of this one, if any."""
    return (
        Household.objects.filter(
            initiative_id=household.initiative_id,
            dwelling_id=household.dwelling_id,
            occupancy=Occupancy.MAIN,
            ended_at__isnull=True,
        )
        .exclude(pk=household.pk)
        .first()
    )


def _withdraw_known_address(case: Case, actor: User, text: str) -> None:
    """Withdraw a case as one step of resolving a known address, on its timeline."""
    before, after = _move(case, pipeline.WITHDRAW)
    event_add(
        case,
        EventKind.STATUS_CHANGE,
        actor,
        action=KNOWN_ADDRESS_ACTION,
        from_status=before,
        to_status=after,
        text=text,
    )


def _end_household(*, household: Household, actor: User, now: dt.datetime) -> None:
    """The previous occupants moved out: their open case is closed, the household ended.

    Nothing is deleted: retention erases the household once the initiative's period for
    inactive dossiers has passed since this day (closing the case counts as activity).
    """
    case = _open_case(household.pk)
    if case is not None:
        if Visit.objects.filter(case=case, status=VisitStatus.PLANNED).exists():
            raise ValidationError(
                _("The previous occupants have a planned visit: cancel it first."),
                code="visit_planned",
            )
        _withdraw_known_address(
            case, actor, _("The household moved out: new occupants live at this address.")
        )
    household.ended_at = now
    household.save(update_fields=["ended_at"])


@transaction.atomic
def case_known_address_resolve(
    *, case: Case, choice: str, actor: User, carry_over: bool = True
) -> Case:
    """Say who signed up at an address where a household of the initiative already lives.

    - SAME_HOUSEHOLD (e.g. a partner): the sign-up joins the household living there. Its
      case goes to that household when it has no open case; otherwise it is withdrawn
      there with a note carrying the contact details on the open case. The sign-up's own
      household ends (kept, with whatever was typed in it, until retention).
    - NEW_OCCUPANTS: the household living there ends (its open case withdrawn; retention
      removes it later); the sign-up becomes the household living here, and with
      `carry_over` its dossier takes the home's characteristics from the previous one,
      marked "previous occupants".
    - SECOND_HOUSEHOLD (e.g. a room): both stay, each with its own dossier.

    The mark "at a known address" is gone afterwards; every step is on the timeline.
    """
    if choice not in KNOWN_ADDRESS_CHOICES:
        raise ValueError(f"unknown choice {choice!r}")
    locked = _lock(case)
    # The dwelling's row: sign-ups at this address and other resolutions wait here.
    Dwelling.objects.select_for_update().filter(pk=locked.household.dwelling_id).exists()
    household = Household.objects.select_for_update().get(pk=locked.household_id)
    if household.occupancy != Occupancy.KNOWN_ADDRESS or household.ended_at is not None:
        raise ValidationError(
            _("This sign-up is no longer marked as being at a known address."),
            code="resolved",
        )
    living = known_address_household(household=household)
    if living is not None:
        living = Household.objects.select_for_update().get(pk=living.pk)
    now = timezone.now()
    if choice == SAME_HOUSEHOLD:
        if living is None:
            raise ValidationError(
                _("No other household of this initiative lives at this address any more."),
                code="nobody",
            )
        _join(case=locked, household=household, living=living, actor=actor, now=now)
    elif choice == NEW_OCCUPANTS:
        previous = living
        if previous is not None:
            _end_household(household=previous, actor=actor, now=now)
        household.occupancy = Occupancy.MAIN
        household.save(update_fields=["occupancy"])
        carried: list[str] = []
        if previous is not None and carry_over:
            old = Dossier.objects.filter(household=previous).first()
            if old is not None:
                new = dossier_services.dossier_create(household=household)
                carried = dossier_carry_over(source=old, target=new, actor=actor)
        event_add(
            locked,
            EventKind.NOTE,
            actor,
            action=KNOWN_ADDRESS_ACTION,
            text=ngettext(
                "New occupants: the previous household at this address has ended. "
                "%(count)s characteristic of the home was carried over from its dossier.",
                "New occupants: the previous household at this address has ended. "
                "%(count)s characteristics of the home were carried over from its dossier.",
                len(carried),
            )
            % {"count": len(carried)},
        )
    else:
        household.occupancy = Occupancy.SECOND if living is not None else Occupancy.MAIN
        household.save(update_fields=["occupancy"])
        event_add(
            locked,
            EventKind.NOTE,
            actor,
            action=KNOWN_ADDRESS_ACTION,
            text=_("A second household at this address: both keep their own dossier."),
        )
    _refresh(case, locked)
    return locked


def _join(
    *, case: Case, household: Household, living: Household, actor: User, now: dt.datetime
) -> None:
    """The sign-up belongs to the household living there: its case and details go there."""
    details = "\n".join(
        line
        for line in (
            _("Name given at sign-up: %(name)s") % {"name": household.name},
            _("E-mail address: %(email)s") % {"email": case.contact_email}
            if case.contact_email
            else "",
            _("Phone number: %(phone)s") % {"phone": case.contact_phone}
            if case.contact_phone
            else "",
            _("Wants help with: %(text)s") % {"text": case.wants_help_with}
            if case.wants_help_with
            else "",
        )
        if line
    )
    open_case = _open_case(living.pk)
    if case.is_open and open_case is not None:
        if Visit.objects.filter(case=case, status=VisitStatus.PLANNED).exists():
            raise ValidationError(_("Cancel the planned visit first."), code="visit_planned")
        # The household has its case already: the sign-up's details join it as a note,
        # and the sign-up's own case is withdrawn there, with its answers as they were.
        event_add(
            open_case,
            EventKind.NOTE,
            actor,
            action=KNOWN_ADDRESS_ACTION,
            text=_("A member of this household signed up as well (case %(case)s).")
            % {"case": case.pk}
            + "\n"
            + details,
        )
        _withdraw_known_address(
            case, actor, _("Joined the household living at this address, which has an open case.")
        )
    else:
        event_add(
            case,
            EventKind.NOTE,
            actor,
            action=KNOWN_ADDRESS_ACTION,
            text=_("Joined the household living at this address.") + "\n" + details,
        )
    case.household = living
    # save() rather than update(): the case's audit log records the move.
    case.save(update_fields=["household", "updated_at"])
    household.occupancy = Occupancy.MERGED
    household.ended_at = now
    household.save(update_fields=["occupancy", "ended_at"])
