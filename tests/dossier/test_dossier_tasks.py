"""The invitation mail goes out from a Celery task, after commit, with the user's id only."""

from __future__ import annotations

import json
import re
import smtplib
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse

from dossier import services, tasks

pytestmark = pytest.mark.django_db

SITE = "https://woningdossier.example.nl"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE


def invite(cast, email: str = "nieuw@example.org"):
    return services.resident_invite(dossier=cast.household_a2.dossier, email=email, actor=cast.bob)


def test_it_enqueues_nothing_when_the_invitation_rolls_back(
    cast, mailoutbox, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.resident_invitation_send, "apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        invite(cast)
        raise RuntimeError("the request failed after the invitation")
    assert callbacks == []
    apply_async.assert_not_called()
    assert mailoutbox == []
    assert not get_user_model().objects.filter(email="nieuw@example.org").exists()


def test_it_enqueues_one_task_after_commit_with_the_users_id_only(
    cast, django_capture_on_commit_callbacks
):
    with mock.patch.object(tasks.resident_invitation_send, "apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            user = invite(cast, "Nieuw.Bewoner@Example.org")
            # Nothing goes to the broker before the transaction has committed.
            apply_async.assert_not_called()
        for callback in callbacks:
            callback()
    apply_async.assert_called_once()
    args, kwargs = apply_async.call_args.args[:2]
    assert tuple(args) == (user.pk,) and not kwargs
    assert isinstance(args[0], int)
    message = json.dumps([list(args), kwargs or {}])
    for private in ("nieuw", "example", "Familie", cast.household_a2.dwelling.street):
        assert private.lower() not in message.lower()


def test_it_mails_the_invited_address_a_link_on_the_site_url_that_works(
    cast, client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user = invite(cast)
    assert [m.to for m in mailoutbox] == [["nieuw@example.org"]]
    body = mailoutbox[0].body
    assert body.startswith("Beste bewoner,")
    link = re.search(r"(\S+/uitnodiging/\S+/)", body).group(1)
    assert link.startswith(SITE + "/uitnodiging/")
    assert SITE + reverse("account_request_login_code") in body
    path = link.removeprefix(SITE)
    assert client.get(path).status_code == 200
    password = "een-lang-en-veilig-wachtwoord"
    client.post(path, {"new_password1": password, "new_password2": password})
    user.refresh_from_db()
    assert user.check_password(password)


def test_it_builds_the_link_from_site_url_and_not_from_the_host_header(
    cast, login, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "elders.example"]
    url = reverse("dossier:dossier-invite", args=[cast.household_a2.dossier.pk])
    with django_capture_on_commit_callbacks(execute=True):
        login(cast.bob).post(url, {"email": "nieuw@example.org"}, HTTP_HOST="elders.example")
    assert len(mailoutbox) == 1
    assert "elders.example" not in mailoutbox[0].body
    assert SITE + "/uitnodiging/" in mailoutbox[0].body


def test_it_tries_again_when_the_mail_server_is_away(cast, mailoutbox):
    user = invite(cast)
    real_send_mail = services.send_mail
    attempts = []

    def flaky(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")
        return real_send_mail(*args, **kwargs)

    with mock.patch.object(services, "send_mail", flaky):
        # throw=False: run in-process, a retry surfaces as a Retry instead of running again.
        tasks.resident_invitation_send.apply(args=(user.pk,), throw=False)
    assert len(attempts) == 2
    assert [m.to for m in mailoutbox] == [["nieuw@example.org"]]


def test_it_does_not_retry_a_refused_address(cast, mailoutbox):
    user = invite(cast)
    refused = smtplib.SMTPRecipientsRefused({"nieuw@example.org": (550, b"no such user")})
    with (
        mock.patch.object(services, "send_mail", side_effect=refused) as send_mail,
        pytest.raises(smtplib.SMTPRecipientsRefused),
    ):
        tasks.resident_invitation_send.delay(user.pk)
    assert send_mail.call_count == 1


def test_it_sends_nothing_to_a_user_who_is_gone_or_inactive(cast, mailoutbox):
    user = invite(cast)
    user.is_active = False
    user.save()
    tasks.resident_invitation_send.delay(user.pk)
    tasks.resident_invitation_send.delay(user.pk + 1000)
    assert mailoutbox == []
