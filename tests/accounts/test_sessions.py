"""A login ends when idle too long and after twelve hours; switching an account off ends all."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from allauth.usersessions.models import UserSession
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests import builders

pytestmark = pytest.mark.django_db

IDLE = dt.timedelta(hours=1)


def households(client):
    return client.get(reverse("dossier:household-list"))


def test_a_login_survives_a_pause_shorter_than_the_idle_limit(cast, login):
    client = login(cast.coordinator)
    with time_machine.travel(timezone.now() + IDLE - dt.timedelta(minutes=5)):
        assert households(client).status_code == 200


def test_a_login_ends_after_an_hour_without_a_request(cast, login):
    client = login(cast.coordinator)
    assert households(client).status_code == 200

    with time_machine.travel(timezone.now() + IDLE + dt.timedelta(minutes=1)):
        response = households(client)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=" in response["Location"]
    assert "_auth_user_id" not in client.session
    follow = client.get(response["Location"])
    assert "U bent afgemeld om uw gegevens te beschermen" in follow.text


def test_activity_keeps_a_login_alive_until_twelve_hours(cast, login, settings):
    client = login(cast.coordinator)
    start = timezone.now()
    # A request every 50 minutes: never idle for an hour.
    for minutes in range(50, 12 * 60, 50):
        with time_machine.travel(start + dt.timedelta(minutes=minutes)):
            assert households(client).status_code == 200, minutes

    with time_machine.travel(start + dt.timedelta(hours=12, minutes=5)):
        assert households(client).status_code == 302


def test_an_htmx_request_after_the_limit_is_sent_to_the_login(cast, login):
    client = login(cast.coordinator)
    households(client)
    with time_machine.travel(timezone.now() + IDLE + dt.timedelta(minutes=1)):
        response = client.get(reverse("dossier:household-list"), HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("account_login"))


def test_anonymous_requests_are_left_alone(client):
    assert client.get(reverse("home")).status_code == 200


def signed_in(user) -> Client:
    """A client signed in through the login page, as a person would (allauth records it)."""
    client = Client()
    client.post(reverse("account_login"), {"login": user.email, "password": builders.PASSWORD})
    assert "_auth_user_id" in client.session
    return client


def test_switching_an_account_off_ends_all_its_logins(cast, django_user_model):
    first, second, other = signed_in(cast.alice), signed_in(cast.alice), signed_in(cast.bob)
    assert UserSession.objects.filter(user=cast.alice).count() == 2

    alice = django_user_model.objects.get(pk=cast.alice.pk)
    alice.is_active = False
    alice.save()

    assert UserSession.objects.filter(user=cast.alice).count() == 0
    keys = {first.session.session_key, second.session.session_key}
    assert not Session.objects.filter(session_key__in=keys).exists()
    assert households(first).status_code == 302
    # Someone else's login goes on.
    assert households(other).status_code == 200


def test_saving_an_active_account_ends_nothing(cast, login, django_user_model):
    client = login(cast.alice)
    alice = django_user_model.objects.get(pk=cast.alice.pk)
    alice.first_name = "Alice"
    alice.save()
    assert households(client).status_code == 200
