"""Reads of cases: the coordinator's queue, a case's timeline, the coaches' workload."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts import access
from accounts.models import Municipality, Organisation, User
from accounts.roles import Role
from crm import pipeline
from crm.models import Case, CaseEvent, CoachProfile, Task, Visit, VisitStatus
from dossier import addresses

if TYPE_CHECKING:
    from collections.abc import Sequence


def case_queue(
    *,
    viewer: User,
    status: str | Sequence[str] | None = None,
    coach: User | None = None,
    search: str | None = None,
) -> QuerySet[Case]:
    """The cases the viewer may see, oldest first; open ones unless a status is asked for.

    search: part of the household's name, street or e-mail address, or a postcode (with
    or without its space).
    """
    cases = Case.objects.visible_to(viewer).select_related(
        "initiative", "household__dwelling", "household__assigned_coach"
    )
    if status is None:
        cases = cases.filter(status__in=pipeline.OPEN)
    elif isinstance(status, str):
        cases = cases.filter(status=status)
    else:
        cases = cases.filter(status__in=list(status))
    if coach is not None:
        cases = cases.filter(household__assigned_coach=coach)
    if search := (search or "").strip():
        postcode = search.replace(" ", "").upper()
        cases = cases.filter(
            Q(household__name__icontains=search)
            | Q(household__dwelling__street__icontains=search)
            | Q(contact_email__icontains=search)
            | Q(household__dwelling__postcode__startswith=postcode)
        )
    return cases.order_by("created_at", "pk")


def case_timeline(*, case: Case, viewer: User) -> QuerySet[CaseEvent]:
    """Everything that happened to the case, in the order it happened."""
    return (
        CaseEvent.objects.filter(case=case)
        .visible_to(viewer)
        .select_related("actor", "coach", "previous_coach")
        .order_by("created_at", "pk")
    )


@dataclass(frozen=True)
class CoachLoad:
    coach: User
    open_cases: int
    visits_next_week: int
    areas: list[str]
    max_visits_per_week: int | None
    is_active: bool


def coach_workload(*, initiative: Organisation, now: dt.datetime | None = None) -> list[CoachLoad]:
    """Per active coach of the initiative: open cases, visits in the coming 7 days, profile.

    The caller checks that the viewer coordinates this initiative.
    """
    now = now or timezone.now()
    week = Q(
        visits__status=VisitStatus.PLANNED,
        visits__planned_start__gte=now,
        visits__planned_start__lt=now + dt.timedelta(days=7),
        visits__case__initiative=initiative,
    )
    open_cases = Q(
        coached_households__initiative=initiative,
        coached_households__cases__status__in=pipeline.OPEN,
    )
    coaches = (
        User.objects.filter(
            is_active=True,
            memberships__organisation=initiative,
            memberships__role=Role.COACH,
            memberships__is_active=True,
        )
        .annotate(
            open_cases=Count("coached_households__cases", filter=open_cases, distinct=True),
            visits_next_week=Count("visits", filter=week, distinct=True),
        )
        .order_by("first_name", "last_name", "pk")
    )
    profiles = {p.user_id: p for p in CoachProfile.objects.filter(user__in=coaches)}
    loads = []
    for coach in coaches:
        profile = profiles.get(coach.pk)
        loads.append(
            CoachLoad(
                coach=coach,
                open_cases=coach.open_cases,
                visits_next_week=coach.visits_next_week,
                areas=profile.area_list if profile else [],
                max_visits_per_week=profile.max_visits_per_week if profile else None,
                is_active=profile.is_active if profile else True,
            )
        )
    return loads


def coaches_for_postcode(loads: list[CoachLoad], postcode: str) -> list[CoachLoad]:
    """The loads of the coaches who work in the postcode's area, active ones only."""
    area = addresses.normalise_postcode(postcode)[:4] if postcode else ""
    return [load for load in loads if load.is_active and area in load.areas]


# The coordinator's pages ------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    """What the queue is narrowed to; empty values do not narrow."""

    status: str | Sequence[str] | None = None
    municipality: str = ""
    area: str = ""
    coach: User | None = None
    without_coach: bool = False
    older_than_days: int | None = None
    search: str = ""


def case_queue_filtered(
    *, viewer: User, filters: QueueFilters, now: dt.datetime | None = None
) -> QuerySet[Case]:
    """The viewer's queue (case_queue) narrowed by municipality, postcode area and age too."""
    cases = case_queue(
        viewer=viewer, status=filters.status, coach=filters.coach, search=filters.search
    )
    if filters.without_coach:
        cases = cases.filter(household__assigned_coach__isnull=True)
    if filters.municipality:
        cases = cases.filter(household__dwelling__municipality_code=filters.municipality)
    if filters.area:
        cases = cases.filter(household__dwelling__postcode__startswith=filters.area)
    if filters.older_than_days is not None:
        now = now or timezone.now()
        cases = cases.filter(created_at__lt=now - dt.timedelta(days=filters.older_than_days))
    return cases


def coordinated_initiatives(*, viewer: User) -> list[int]:
    """Ids of the initiatives the viewer coordinates."""
    return access.organisations_with_role(viewer, {Role.COORDINATOR})


def initiative_people(*, initiative_ids: Sequence[int], roles: Sequence[str]) -> QuerySet[User]:
    """Active people with one of these roles in these initiatives, by name."""
    return (
        User.objects.filter(
            is_active=True,
            memberships__organisation_id__in=list(initiative_ids),
            memberships__organisation__is_active=True,
            memberships__role__in=list(roles),
            memberships__is_active=True,
        )
        .distinct()
        .order_by("first_name", "last_name", "pk")
    )


def queue_municipalities(*, viewer: User) -> QuerySet[Municipality]:
    """The municipalities of the initiatives the viewer works for as coordinator or coach."""
    org_ids = access.organisations_with_role(viewer, {Role.COORDINATOR, Role.COACH})
    return Municipality.objects.filter(organisations__in=org_ids).distinct().order_by("name")


def case_page(*, viewer: User, pk: int) -> Case:
    """One case with what its page shows, or Http404 when the viewer may not see it."""
    cases = Case.objects.select_related(
        "initiative", "household__dwelling", "household__assigned_coach", "household__dossier"
    ).prefetch_related(
        Prefetch(
            "visits",
            queryset=Visit.objects.select_related("coach").order_by("-planned_start"),
        ),
        Prefetch(
            "tasks",
            queryset=Task.objects.select_related("assignee").order_by("done_at", "due_date", "pk"),
        ),
    )
    return access.get_for(viewer, cases, pk=pk)


def visit_list_upcoming(*, viewer: User, now: dt.datetime | None = None) -> QuerySet[Visit]:
    """Planned visits the viewer may see that have not ended yet, soonest first."""
    now = now or timezone.now()
    # A visit that started up to a day ago may still be going on or not yet be marked done.
    return (
        Visit.objects.visible_to(viewer)
        .filter(status=VisitStatus.PLANNED, planned_start__gte=now - dt.timedelta(days=1))
        .select_related("coach", "case__household__dwelling")
        .order_by("planned_start", "pk")
    )


def cases_to_plan(*, viewer: User) -> QuerySet[Case]:
    """The viewer's own open cases that wait for a visit to be planned, oldest first."""
    return (
        Case.objects.visible_to(viewer)
        .filter(household__assigned_coach=viewer, status__in=pipeline.BEFORE_VISIT)
        .select_related("household__dwelling")
        .order_by("created_at", "pk")
    )
