from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from accounts.access import roles_by_organisation
from accounts.models import Membership, Organisation
from accounts.roles import Role

if TYPE_CHECKING:
    from accounts.models import User


def organisations_of(*, viewer: User) -> QuerySet[Organisation]:
    """The active organisations the viewer holds a role in."""
    return (
        Organisation.objects.filter(pk__in=list(roles_by_organisation(viewer)))
        .prefetch_related("municipalities")
        .order_by("kind", "name")
    )


def initiatives_in_area(*, organisation: Organisation) -> QuerySet[Organisation]:
    """Initiatives working in any municipality this organisation works in or governs."""
    return (
        Organisation.objects.filter(
            kind=Organisation.Kind.INITIATIVE,
            is_active=True,
            municipalities__in=organisation.municipalities.all(),
        )
        .exclude(pk=organisation.pk)
        .distinct()
        .order_by("name")
    )


def membership_list(*, viewer: User, organisation: Organisation) -> QuerySet[Membership]:
    return (
        Membership.objects.visible_to(viewer)
        .filter(organisation=organisation, is_active=True)
        .select_related("user")
        .order_by("role", "user__last_name", "user__first_name")
    )


def coach_list(*, viewer: User, organisation: Organisation) -> QuerySet[Membership]:
    return membership_list(viewer=viewer, organisation=organisation).filter(role=Role.COACH)
