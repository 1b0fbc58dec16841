from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import access
from accounts.models import Membership, Organisation, User
from accounts.roles import Role
from dossier.models import Dwelling, Household
from tests import builders

pytestmark = pytest.mark.django_db


def visible(user: User) -> set[str]:
    return set(Household.objects.visible_to(user).values_list("name", flat=True))


def test_it_shows_a_coordinator_every_household_of_their_initiative_only(cast):
    assert visible(cast.coordinator) == {"Familie Alfa", "Familie Beta"}
    assert visible(cast.coordinator_b) == {"Familie Gamma"}


def test_it_shows_a_coach_only_the_households_assigned_to_them(cast):
    assert visible(cast.alice) == {"Familie Alfa"}
    assert visible(cast.bob) == {"Familie Beta"}
    assert visible(cast.charlie) == {"Familie Gamma"}


def test_it_shows_a_resident_only_their_own_household(cast):
    assert visible(cast.resident) == {"Familie Alfa"}


def test_it_shows_government_staff_and_the_administrator_no_households(cast):
    assert visible(cast.municipality_staff) == set()
    assert visible(cast.province_analyst) == set()
    assert visible(cast.admin) == set()


def test_it_removes_the_old_coachs_access_at_once_on_reassignment(cast):
    assert access.allows(cast.alice, cast.household_a)
    Household.objects.filter(pk=cast.household_a.pk).update(assigned_coach=cast.bob)
    cast.household_a.refresh_from_db()
    assert not access.allows(cast.alice, cast.household_a)
    assert "Familie Alfa" not in visible(cast.alice)
    assert "Familie Alfa" in visible(cast.bob)


def test_it_ends_a_coachs_access_when_their_membership_ends(cast):
    Membership.objects.filter(user=cast.alice).update(is_active=False)
    alice = User.objects.get(pk=cast.alice.pk)
    assert visible(alice) == set()
    assert not access.allows(alice, cast.household_a)


def test_it_refuses_a_coach_assigned_across_initiatives(cast):
    # A coach of initiative B set on a household of A (a data error) still sees nothing.
    Household.objects.filter(pk=cast.household_a.pk).update(assigned_coach=cast.charlie)
    cast.household_a.refresh_from_db()
    assert not access.allows(cast.charlie, cast.household_a)
    assert "Familie Alfa" not in visible(cast.charlie)


def test_it_shows_nothing_to_a_deactivated_user(cast):
    User.objects.filter(pk=cast.coordinator.pk).update(is_active=False)
    assert visible(User.objects.get(pk=cast.coordinator.pk)) == set()


def test_it_tells_staff_from_residents_of_the_home_they_look_at(cast):
    residents = cast.household_a.residents.all()
    assert access.is_staff_viewer(cast.alice, residents=residents)
    assert access.is_staff_viewer(cast.coordinator, residents=residents)
    assert not access.is_staff_viewer(cast.resident, residents=residents)
    # A resident of another home is no staff member here either.
    assert not access.is_staff_viewer(cast.resident, residents=[])
    assert not access.is_staff_viewer(AnonymousUser(), residents=[])
    cast.coordinator.is_active = False
    assert not access.is_staff_viewer(cast.coordinator, residents=residents)


def test_it_sees_a_coach_who_lives_in_the_home_as_its_resident(cast, django_assert_num_queries):
    cast.household_a.residents.add(cast.alice)
    assert not access.is_staff_viewer(cast.alice, residents=cast.household_a.residents.all())
    assert access.is_staff_viewer(cast.alice, residents=cast.household_a2.residents.all())
    # Prefetched residents cost no query.
    household = Household.objects.prefetch_related("residents").get(pk=cast.household_a.pk)
    with django_assert_num_queries(0):
        assert not access.is_staff_viewer(cast.alice, residents=household.residents.all())


def test_it_answers_404_for_an_object_the_user_may_not_see(cast):
    with pytest.raises(Http404):
        access.get_for(cast.charlie, Household, pk=cast.household_a.pk)
    with pytest.raises(Http404):
        access.get_for(cast.alice, Household, pk=999_999)
    assert access.get_for(cast.alice, Household, pk=cast.household_a.pk) == cast.household_a


def test_it_answers_rules_permissions_that_agree_with_the_policy(cast):
    assert cast.coordinator.has_perm("dossier.change_household", cast.household_a)
    assert cast.alice.has_perm("dossier.view_household", cast.household_a)
    assert not cast.bob.has_perm("dossier.view_household", cast.household_a)
    assert not cast.coordinator_b.has_perm("dossier.view_household", cast.household_a)


def test_it_shows_a_dwelling_to_whoever_may_see_a_household_in_it(cast):
    dwelling = cast.household_a.dwelling
    assert set(Dwelling.objects.visible_to(cast.alice)) == {dwelling}
    assert access.allows(cast.resident, dwelling)
    assert not access.allows(cast.charlie, dwelling)
    assert dwelling not in Dwelling.objects.visible_to(cast.coordinator_b)


def test_it_lets_only_coordinators_see_the_members_of_their_organisation(cast):
    members = Membership.objects.visible_to(cast.coordinator)
    assert {m.organisation for m in members} == {cast.initiative_a}
    assert not Membership.objects.visible_to(cast.alice).exists()


def test_it_shows_an_organisation_to_its_members_only(cast):
    assert set(Organisation.objects.visible_to(cast.alice)) == {cast.initiative_a}
    assert set(Organisation.objects.visible_to(cast.municipality_staff)) == {cast.municipality}
    assert not Organisation.objects.visible_to(cast.resident).exists()


ROLES = [Role.COORDINATOR, Role.COACH, Role.MUNICIPALITY_STAFF, Role.PROVINCE_ANALYST]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    memberships=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 2), st.sampled_from(ROLES), st.booleans()),
        max_size=8,
    ),
    households=st.lists(
        st.tuples(st.integers(0, 2), st.one_of(st.none(), st.integers(0, 3)), st.integers(0, 4)),
        min_size=1,
        max_size=6,
    ),
)
def test_it_agrees_between_the_object_check_and_the_queryset(db, memberships, households):
    """For every user, model and action: allows(user, obj) ⇔ obj in visible_to(user)."""
    from django.db import transaction

    sid = transaction.savepoint_create()
    try:
        orgs = [builders.make_organisation() for _ in range(3)]
        users = [builders.make_user() for _ in range(4)]
        for user_i, org_i, role, active in memberships:
            Membership.objects.get_or_create(
                user=users[user_i],
                organisation=orgs[org_i],
                role=role,
                defaults={"is_active": active},
            )
        for org_i, coach_i, resident_i in households:
            builders.make_household(
                orgs[org_i],
                coach=None if coach_i is None else users[coach_i],
                residents=tuple(users[resident_i : resident_i + 1]),
            )
        for model in (Household, Dwelling, Membership, Organisation):
            for action in access.Action:
                for user in User.objects.all():
                    shown = set(model.objects.visible_to(user, action).values_list("pk", flat=True))
                    allowed = {
                        obj.pk for obj in model.objects.all() if access.allows(user, obj, action)
                    }
                    assert shown == allowed, (model.__name__, action, user.pk)
    finally:
        transaction.savepoint_rollback(sid)


def test_it_agrees_between_object_check_and_queryset_for_every_model_with_a_policy(cast):
    """Every organisation-owned model, the dossier's rows included, for the whole cast."""
    from django.apps import apps as django_apps

    users = [
        cast.coordinator,
        cast.alice,
        cast.bob,
        cast.charlie,
        cast.coordinator_b,
        cast.resident,
        cast.municipality_staff,
        cast.province_analyst,
        cast.admin,
    ]
    models_checked = 0
    for model in django_apps.get_models():
        if getattr(model, "access_policy", None) is None:
            continue
        rows = list(model._default_manager.all()[:50])
        if not rows:
            continue
        models_checked += 1
        for user in users:
            for action in access.Action:
                visible = set(
                    access.visible_to(model._default_manager.all(), user, action).values_list(
                        "pk", flat=True
                    )
                )
                for row in rows:
                    assert access.allows(user, row, action) == (row.pk in visible), (
                        model.__name__,
                        user.email,
                        action,
                    )
    # The dossier's own rows (dossier, topics, components, measures, sources) are covered.
    assert models_checked >= 7
