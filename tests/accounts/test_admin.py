"""The administrator manages organisations and their people, not residents' accounts."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.urls import reverse

from accounts.models import Membership
from tests import builders

pytestmark = pytest.mark.django_db


def test_the_user_admin_lists_people_with_a_role_but_not_residents(cast, login):
    client = login(cast.admin)

    page = client.get(reverse("admin:accounts_user_changelist"))

    assert page.status_code == 200
    assert cast.coordinator.email in page.text and cast.alice.email in page.text
    assert cast.resident.email not in page.text
    opened = client.get(reverse("admin:accounts_user_change", args=[cast.resident.pk]))
    assert opened.status_code == 302  # the admin's "no such object", back to its index
    assert (
        client.get(reverse("admin:accounts_user_change", args=[cast.alice.pk])).status_code == 200
    )


def test_a_resident_who_also_coaches_stays_in_the_admin(cast, login):
    Membership.objects.create(user=cast.resident, organisation=cast.initiative_a, role="coach")

    page = login(cast.admin).get(reverse("admin:accounts_user_changelist"))

    assert cast.resident.email in page.text


def test_allauths_admins_leave_residents_out(cast, login):
    for user in (cast.resident, cast.alice):
        EmailAddress.objects.get_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
        UserSession.objects.create(user=user, session_key=f"k{user.pk}", ip="192.0.2.1")
    builders.give_totp(cast.resident)
    client = login(cast.admin)

    for name in ("account_emailaddress", "usersessions_usersession", "mfa_authenticator"):
        page = client.get(reverse(f"admin:{name}_changelist"))
        assert page.status_code == 200, name
        assert str(cast.resident) not in page.text and cast.resident.email not in page.text, name
    emails = client.get(reverse("admin:account_emailaddress_changelist")).text
    assert cast.alice.email in emails
