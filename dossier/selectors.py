from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet

from accounts.access import roles_by_organisation
from accounts.models import Membership, Organisation
from accounts.roles import Role
from dossier.models import Household

if TYPE_CHECKING:
    from accounts.models import User


def household_list(*, viewer: User) -> QuerySet[Household]:
    return (
        Household.objects.visible_to(viewer)
        .select_related("dwelling", "initiative", "assigned_coach")
        .order_by("-created_at", "-pk")
    )


@dataclass(frozen=True)
class CoachLoad:
    membership: Membership
    open_households: int


@dataclass(frozen=True)
class InitiativeSummary:
    organisation: Organisation
    households: int
    without_coach: int
    coaches: list[CoachLoad]


def initiative_summaries(*, viewer: User) -> list[InitiativeSummary]:
    """Per initiative the viewer coordinates: household counts and each coach's load."""
    org_ids = [
        org for org, roles in roles_by_organisation(viewer).items() if Role.COORDINATOR in roles
    ]
    if not org_ids:
        return []
    organisations = Organisation.objects.filter(pk__in=org_ids).annotate(
        n_households=Count("households", distinct=True),
        n_without_coach=Count(
            "households", filter=Q(households__assigned_coach__isnull=True), distinct=True
        ),
    )
    coaches = (
        Membership.objects.filter(organisation__in=org_ids, role=Role.COACH, is_active=True)
        .select_related("user")
        .order_by("user__first_name", "user__last_name")
    )
    loads = {
        (row["initiative_id"], row["assigned_coach_id"]): row["n"]
        for row in Household.objects.filter(initiative__in=org_ids, assigned_coach__isnull=False)
        .values("initiative_id", "assigned_coach_id")
        .annotate(n=Count("pk"))
        .order_by()
    }
    by_org: dict[int, list[CoachLoad]] = {}
    for membership in coaches:
        by_org.setdefault(membership.organisation_id, []).append(
            CoachLoad(membership, loads.get((membership.organisation_id, membership.user_id), 0))
        )
    return [
        InitiativeSummary(org, org.n_households, org.n_without_coach, by_org.get(org.pk, []))
        for org in organisations
    ]
