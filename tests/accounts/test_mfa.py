"""Roles that see many homes must log in with a second step; residents and coaches may."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests import builders

pytestmark = pytest.mark.django_db

NEEDS = ["coordinator", "municipality_staff", "province_analyst", "admin"]


def forced(user) -> Client:
    """Logged in without passing the login page, and without an authenticator app."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.mark.parametrize("who", NEEDS)
def test_without_a_second_step_every_page_leads_to_setting_it_up(cast, who):
    client = forced(getattr(cast, who))

    for url in (reverse("dossier:dashboard"), "/beheer/", reverse("dossier:household-list")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("mfa_activate_totp")

    # Setting it up asks for the password again first (a login this recent passes).
    page = client.get(reverse("mfa_activate_totp"), follow=True)
    assert page.status_code == 200
    assert page.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
    assert "tweede stap" in page.text


@pytest.mark.parametrize("who", NEEDS)
def test_setting_it_up_and_leaving_stay_open(cast, who):
    client = forced(getattr(cast, who))
    assert client.get(reverse("mfa_index")).status_code == 200
    assert client.post(reverse("account_logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_an_htmx_request_is_sent_to_the_setup(cast):
    response = forced(cast.coordinator).get(
        reverse("dossier:household-list"), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("mfa_activate_totp")


@pytest.mark.parametrize("who", ["alice", "resident"])
def test_coaches_and_residents_may_go_without(cast, who):
    assert forced(getattr(cast, who)).get(reverse("dossier:dashboard")).status_code == 200


def test_once_set_up_the_login_asks_for_the_code(cast):
    user = cast.coordinator
    builders.give_totp(user)
    client = Client()

    response = client.post(
        reverse("account_login"), {"login": user.email, "password": builders.PASSWORD}
    )
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session

    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session

    cache.clear()
    right = client.post(reverse("mfa_authenticate"), {"code": builders.totp_code(user)})
    assert right.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get(reverse("dossier:dashboard")).status_code == 200


def test_the_admin_login_is_the_allauth_login(client):
    response = client.get("/beheer/login/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_someone_who_needs_it_cannot_switch_it_off_but_a_coach_can(cast):
    from allauth.mfa.adapter import get_adapter
    from allauth.mfa.models import Authenticator

    for user in (cast.coordinator, cast.alice):
        builders.give_totp(user)
    adapter = get_adapter()

    coordinator = Authenticator.objects.get(user=cast.coordinator, type="totp")
    coach = Authenticator.objects.get(user=cast.alice, type="totp")
    assert not adapter.can_delete_authenticator(coordinator)
    assert adapter.can_delete_authenticator(coach)


def test_a_login_that_did_not_pass_the_second_step_must_log_in_again(cast):
    # The authenticator was set up after this login began, in another browser say.
    client = forced(cast.coordinator)
    builders.give_totp(cast.coordinator)
    url = reverse("dossier:household-list")

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?{urlencode({'next': url})}"
    assert "_auth_user_id" not in client.session
    htmx = forced(cast.coordinator).get(url, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 204 and htmx["HX-Redirect"].startswith(reverse("account_login"))


def test_such_a_login_cannot_reach_the_recovery_codes_either(cast):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    builders.give_totp(cast.coordinator)
    RecoveryCodes.activate(cast.coordinator)
    client = forced(cast.coordinator)

    reauthenticated = client.post(
        reverse("account_reauthenticate"), {"password": builders.PASSWORD}
    )
    assert reauthenticated.status_code == 302
    assert reauthenticated["Location"].startswith(reverse("account_login"))
    for name in ("mfa_view_recovery_codes", "mfa_download_recovery_codes", "mfa_index"):
        client = forced(cast.coordinator)
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("account_login")), name
        assert "_auth_user_id" not in client.session


# Committed for real: allauth announces the new authenticator once its transaction commits,
# which in a request is before the session is saved.
@pytest.mark.django_db(transaction=True)
def test_a_login_that_passed_it_or_set_it_up_just_now_goes_on(cast):
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value

    passed = builders.log_in_with_second_step(Client(), cast.coordinator)
    assert passed.get(reverse("dossier:household-list")).status_code == 200

    user = cast.municipality_staff
    client = forced(user)
    client.post(reverse("account_reauthenticate"), {"password": builders.PASSWORD})
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    activated = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert activated.status_code == 302, activated.content
    # On to the recovery codes allauth shows next, still logged in.
    assert client.get(activated["Location"]).status_code == 200

    assert client.get(reverse("dossier:dashboard")).status_code == 200
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (0, True), (1, True)])
def test_a_code_of_the_step_before_or_after_is_accepted_but_not_older(steps, accepted):
    """Someone who types the code as it changes, or whose phone runs a little off, gets in."""
    import datetime as dt

    import time_machine
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, validate_totp_code

    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    moment = dt.datetime(2026, 12, 3, 10, 0, 10, tzinfo=dt.UTC)
    now = int(moment.timestamp()) // app_settings.TOTP_PERIOD
    code = format_hotp_value(hotp_value(secret, now + steps))
    assert steps == 0 or code != format_hotp_value(hotp_value(secret, now))
    with time_machine.travel(moment, tick=False):
        assert validate_totp_code(secret, code) is accepted
