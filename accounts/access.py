"""The access module: who may see or change which organisation-owned object.

Each organisation-owned model declares an `access_policy`. From that one declaration
this module derives both the object check (a rules predicate, so `user.has_perm(
"dossier.view_household", household)` works) and the queryset filter used by
`visible_to(user)`, so the two cannot drift apart. Views and APIs load objects only
through `get_for()`, which answers 404 for anything the user may not see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import rules
from django.apps import apps
from django.db import models
from django.db.models import Q
from django.http import Http404

from accounts.roles import Role

if TYPE_CHECKING:
    from accounts.models import User


class Action(StrEnum):
    VIEW = "view"
    CHANGE = "change"


@dataclass(frozen=True)
class Policy:
    """Who may act on the rows of one model.

    organisation: lookup path from the model to the owning Organisation ("" when the
        model is the Organisation itself, None when no organisation owns the rows).
    roles: per action, the roles in the owning organisation that may do it.
    coach: lookup path to the assigned coach; the coach must also hold an active coach
        membership of the owning organisation, so ending the membership ends access.
    resident: lookup path to the resident user(s) (a foreign key or many-to-many).
    via: (lookup path, related model): a row is visible when a related row is visible,
        e.g. a dwelling through the households that live in it.
    parties: further (lookup path, roles per action) pairs for rows that belong to two
        organisations at once, e.g. a sharing agreement seen by both its parties.
    """

    organisation: str | None
    roles: dict[str, frozenset[str]] = field(default_factory=dict)
    coach: str | None = None
    coach_actions: frozenset[str] = frozenset()
    resident: str | None = None
    resident_actions: frozenset[str] = frozenset()
    via: tuple[str, str] | None = None
    parties: tuple[tuple[str, dict[str, frozenset[str]]], ...] = ()


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def roles_by_organisation(user: User) -> dict[int, frozenset[str]]:
    """The user's active roles per organisation id, cached on the user object for a request."""
    cached = getattr(user, "_access_roles", None)
    if cached is not None:
        return cached
    result: dict[int, set[str]] = {}
    if _active(user):
        for org_id, role in user.memberships.filter(
            is_active=True, organisation__is_active=True
        ).values_list("organisation_id", "role"):
            result.setdefault(org_id, set()).add(role)
    frozen = {org_id: frozenset(r) for org_id, r in result.items()}
    user._access_roles = frozen  # type: ignore[attr-defined]
    return frozen


def forget_roles(user: User) -> None:
    """Drop the per-request cache after a membership of this user changed."""
    if hasattr(user, "_access_roles"):
        del user._access_roles  # type: ignore[attr-defined]


def organisations_with_role(user: User, roles: Iterable[str]) -> list[int]:
    wanted = set(roles)
    return [org for org, have in roles_by_organisation(user).items() if have & wanted]


def has_role(user: User, *roles: str) -> bool:
    """True when the user holds one of these roles in any organisation."""
    return bool(organisations_with_role(user, roles))


def is_resident(user: User) -> bool:
    return _active(user) and not roles_by_organisation(user) and not user.is_staff


def is_staff_viewer(user: User, *, residents: Iterable[User]) -> bool:
    """True when the user looks at a home as staff rather than as one of its residents.

    residents: the people who live in the home (`household.residents.all()`; prefetch it
    to save the query). Someone who works for an initiative and also lives in this home
    sees it as a resident: their own home's staff-only notes stay hidden from them. This
    says nothing about access; load the object through get_for() first.
    """
    if not _active(user) or is_resident(user):
        return False
    return all(resident.pk != user.pk for resident in residents)


def policy_of(model: type[models.Model]) -> Policy:
    policy = getattr(model, "access_policy", None)
    if policy is None:
        raise TypeError(f"{model.__name__} declares no access_policy")
    return policy


def _path(prefix: str, name: str) -> str:
    return f"{prefix}__{name}" if prefix else name


def q_for(model: type[models.Model], user: User, action: str = Action.VIEW) -> Q:
    """The filter that selects exactly the rows of `model` that `user` may act on."""
    nothing = Q(pk__in=[])
    if not _active(user):
        return nothing
    policy = policy_of(model)
    org_field = _path(policy.organisation, "id") if policy.organisation else "pk"
    q = nothing
    staff_orgs = organisations_with_role(user, policy.roles.get(action, ()))
    if policy.organisation is not None and staff_orgs:
        q |= Q(**{f"{org_field}__in": staff_orgs})
    if policy.organisation is not None and policy.coach and action in policy.coach_actions:
        coach_orgs = organisations_with_role(user, {Role.COACH})
        if coach_orgs:
            q |= Q(**{policy.coach: user, f"{org_field}__in": coach_orgs})
    for path, roles in policy.parties:
        party_orgs = organisations_with_role(user, roles.get(action, ()))
        if party_orgs:
            q |= Q(**{f"{_path(path, 'id')}__in": party_orgs})
    if policy.resident and action in policy.resident_actions:
        # A subquery keeps a household with two residents from appearing twice.
        q |= Q(pk__in=model._default_manager.filter(**{policy.resident: user}).values("pk"))
    if policy.via:
        path, label = policy.via
        related = apps.get_model(label)
        visible = related._default_manager.filter(q_for(related, user, action))
        q |= Q(pk__in=visible.values(path))
    return q


def _resolve_id(obj: models.Model, path: str) -> Any:
    """Follow a lookup path of foreign keys and return the id at its end."""
    if not path:
        return obj.pk
    *head, last = path.split("__")
    target: Any = obj
    for name in head:
        target = getattr(target, name, None)
        if target is None:
            return None
    field_obj = target._meta.get_field(last)
    if field_obj.is_relation and field_obj.many_to_one:
        return getattr(target, field_obj.attname)
    return getattr(target, last)


def allows(user: User, obj: models.Model, action: str = Action.VIEW) -> bool:
    """The object check; agrees with q_for() row by row (a property test proves it)."""
    if not _active(user) or obj is None:
        return False
    policy = policy_of(type(obj))
    roles = roles_by_organisation(user)
    org_id = None if policy.organisation is None else _resolve_id(obj, policy.organisation)
    org_roles = roles.get(org_id, frozenset()) if org_id is not None else frozenset()
    if org_roles & policy.roles.get(action, frozenset()):
        return True
    for path, party_roles in policy.parties:
        party_id = _resolve_id(obj, path)
        if party_id is not None and roles.get(party_id, frozenset()) & party_roles.get(
            action, frozenset()
        ):
            return True
    if (
        policy.coach
        and action in policy.coach_actions
        and Role.COACH in org_roles
        and _resolve_id(obj, policy.coach) == user.pk
    ):
        return True
    if (
        policy.resident
        and action in policy.resident_actions
        and type(obj)._default_manager.filter(pk=obj.pk, **{policy.resident: user}).exists()
    ):
        return True
    if policy.via:
        path, label = policy.via
        related = apps.get_model(label)
        return (
            related._default_manager.filter(q_for(related, user, action))
            .filter(**{path: obj.pk})
            .exists()
        )
    return False


def visible_to[M: models.Model](
    queryset: models.QuerySet[M], user: User, action: str = Action.VIEW
) -> models.QuerySet[M]:
    return queryset.filter(q_for(queryset.model, user, action))


def get_for[M: models.Model](
    user: User,
    queryset: models.QuerySet[M] | type[M],
    *,
    action: str = Action.VIEW,
    **lookup: Any,
) -> M:
    """Load one object the user may act on, or raise Http404: never reveal that it exists."""
    qs = queryset._default_manager.all() if isinstance(queryset, type) else queryset
    try:
        return visible_to(qs, user, action).get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


class AccessQuerySet(models.QuerySet):
    """Queryset for organisation-owned models: `Model.objects.visible_to(user)`."""

    def visible_to(self, user: User, action: str = Action.VIEW) -> AccessQuerySet:
        return visible_to(self, user, action)


def register_rules() -> None:
    """Register one rules permission per model and action, e.g. "dossier.view_household"."""
    for model in apps.get_models():
        if getattr(model, "access_policy", None) is None:
            continue
        for action in Action:
            name = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
            rules.set_perm(name, rules.predicate(_checker(action), name=name))


def _checker(action: str):
    def check(user: User, obj: models.Model | None) -> bool:
        return obj is not None and allows(user, obj, action)

    return check
