"""The consent pages: a household's consents, the coordinator's overview, the household
panel, and the administrator's view of texts and records.

Each page as an allowed user, as someone of another organisation or without a part in
the household (404) and anonymously (login). Bad input gets a message and changes nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import constants
from django.urls import reverse

from dataplatform import consent_views
from dataplatform.models import Channel, ConsentRecord, ConsentText, Purpose
from tests.dataplatform.builders import give_consent

pytestmark = pytest.mark.django_db

ADMIN = "/beheer/dataplatform"


def page(household) -> str:
    return reverse("dataplatform:consent", args=[household.pk])


def records(household) -> list[tuple]:
    return list(
        ConsentRecord.objects.filter(household=household)
        .order_by("pk")
        .values_list(
            "pk", "purpose", "channel", "recorded_by", "withdrawn_at", "withdrawal_channel"
        )
    )


def levels(response) -> list[int]:
    return [message.level for message in response.context["messages"]]


def post(client, household, follow=True, **data):
    return client.post(page(household), data, follow=follow)


# The household's page ----------------------------------------------------------------------


def test_the_resident_sees_every_purpose_with_its_text(cast, login):
    response = login(cast.resident).get(page(cast.household_a))
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    for text in ConsentText.objects.filter(version="2026-1"):
        assert text.title in html
        assert f'data-purpose="{text.purpose}" data-state="not_given"' in html
    assert "Bewaartermijn" in html
    assert 'name="channel"' not in html
    assert response.context["on_behalf"] is False


def test_the_resident_gives_consent_online_with_one_post(cast, login):
    client = login(cast.resident)
    response = post(client, cast.household_a, follow=False, purpose="aggregates", action="give")
    assert response.status_code == 302
    assert response["Location"] == f"{page(cast.household_a)}#purpose-aggregates"
    [(_pk, purpose, channel, by, withdrawn_at, _wc)] = records(cast.household_a)
    assert (purpose, channel, by, withdrawn_at) == (
        Purpose.AGGREGATES,
        Channel.ONLINE,
        cast.resident.pk,
        None,
    )
    response = client.get(page(cast.household_a))
    assert levels(response) == [constants.SUCCESS]
    assert 'data-purpose="aggregates" data-state="given"' in response.content.decode()


def test_a_double_submit_gives_consent_once(cast, login):
    client = login(cast.resident)
    post(client, cast.household_a, purpose="aggregates", action="give")
    before = records(cast.household_a)
    response = post(client, cast.household_a, purpose="aggregates", action="give")
    assert records(cast.household_a) == before
    assert len(before) == 1
    assert levels(response) == [constants.INFO]


def test_withdrawing_is_one_post_too_and_twice_changes_nothing(cast, login):
    client = login(cast.resident)
    post(client, cast.household_a, purpose="research", action="give")
    response = post(client, cast.household_a, purpose="research", action="withdraw")
    assert levels(response) == [constants.SUCCESS]
    [row] = records(cast.household_a)
    assert row[4] is not None and row[5] == Channel.ONLINE
    assert 'data-purpose="research" data-state="withdrawn"' in response.content.decode()

    response = post(client, cast.household_a, purpose="research", action="withdraw")
    assert levels(response) == [constants.INFO]
    assert records(cast.household_a) == [row]


def test_giving_again_after_withdrawal_adds_a_row_and_the_history_shows_both(cast, login):
    client = login(cast.resident)
    post(client, cast.household_a, purpose="research", action="give")
    post(client, cast.household_a, purpose="research", action="withdraw")
    response = post(client, cast.household_a, purpose="research", action="give")
    rows = records(cast.household_a)
    assert len(rows) == 2
    html = response.content.decode()
    newest, oldest = rows[1][0], rows[0][0]
    assert html.index(f'data-record="{newest}"') < html.index(f'data-record="{oldest}"')


@pytest.mark.parametrize(
    "data",
    [
        {"purpose": "marketing", "action": "give"},
        {"purpose": "aggregates", "action": "delete"},
        {"purpose": "aggregates"},
        {"action": "give"},
    ],
    ids=["unknown-purpose", "unknown-action", "no-action", "no-purpose"],
)
def test_bad_input_from_the_resident_gives_a_message_and_changes_nothing(cast, login, data):
    response = post(login(cast.resident), cast.household_a, **data)
    assert response.status_code == 200
    assert levels(response) == [constants.ERROR]
    assert records(cast.household_a) == []


def test_a_residents_own_choice_is_always_recorded_online(cast, login):
    # The resident's form has no channel: one sent anyway is ignored.
    post(
        login(cast.resident), cast.household_a, purpose="aggregates", action="give", channel="paper"
    )
    [row] = records(cast.household_a)
    assert row[2:4] == (Channel.ONLINE, cast.resident.pk)


@pytest.mark.parametrize("who", ["alice", "coordinator"])
def test_staff_record_a_choice_on_the_residents_behalf(cast, login, who):
    user = getattr(cast, who)
    client = login(user)
    response = client.get(page(cast.household_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="channel"' in html
    assert 'value="online"' not in html

    response = post(client, cast.household_a, purpose="processing", action="give", channel="paper")
    assert levels(response) == [constants.SUCCESS]
    response = post(
        client, cast.household_a, purpose="processing", action="withdraw", channel="phone"
    )
    assert levels(response) == [constants.SUCCESS]
    [row] = records(cast.household_a)
    assert row[1:4] == (Purpose.PROCESSING, Channel.PAPER, user.pk)
    assert row[5] == Channel.PHONE
    assert ConsentRecord.objects.get(pk=row[0]).withdrawn_by == user


@pytest.mark.parametrize("channel", ["online", "", "fax"])
def test_staff_must_choose_an_offline_channel(cast, login, channel):
    response = post(
        login(cast.alice), cast.household_a, purpose="processing", action="give", channel=channel
    )
    assert levels(response) == [constants.ERROR]
    assert records(cast.household_a) == []


def test_staff_cannot_withdraw_online_either(cast, login):
    give_consent(cast.household_a, Purpose.PROCESSING)
    before = records(cast.household_a)
    response = post(
        login(cast.alice),
        cast.household_a,
        purpose="processing",
        action="withdraw",
        channel="online",
    )
    assert levels(response) == [constants.ERROR]
    assert records(cast.household_a) == before


def test_without_a_text_in_force_the_page_says_so_and_giving_is_refused(cast, login):
    ConsentText.objects.filter(purpose=Purpose.RESEARCH).update(
        valid_from=dt.datetime(2999, 1, 1, tzinfo=dt.UTC)
    )
    client = login(cast.resident)
    html = client.get(page(cast.household_a)).content.decode()
    section = html[html.index('id="purpose-research"') :]
    assert 'value="give"' not in section.split("</section>")[0]
    response = post(client, cast.household_a, purpose="research", action="give")
    assert levels(response) == [constants.ERROR]
    assert records(cast.household_a) == []


@pytest.mark.parametrize(
    "who", ["bob", "charlie", "coordinator_b", "municipality_staff", "province_analyst", "admin"]
)
def test_anyone_else_gets_a_404_and_changes_nothing(cast, login, who):
    client = login(getattr(cast, who))
    assert client.get(page(cast.household_a)).status_code == 404
    response = client.post(
        page(cast.household_a), {"purpose": "aggregates", "action": "give", "channel": "paper"}
    )
    assert response.status_code == 404
    assert records(cast.household_a) == []


def test_anonymous_visitors_are_sent_to_the_login(cast, client):
    for response in (
        client.get(page(cast.household_a)),
        client.post(page(cast.household_a), {"purpose": "aggregates", "action": "give"}),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert records(cast.household_a) == []


def test_only_get_and_post(cast, login):
    assert login(cast.resident).put(page(cast.household_a)).status_code == 405


# The panel on the household page -----------------------------------------------------------


@pytest.mark.parametrize("who", ["resident", "alice", "coordinator"])
def test_the_household_page_shows_the_consent_panel(cast, login, who):
    give_consent(cast.household_a, Purpose.AGGREGATES)
    response = login(getattr(cast, who)).get(
        reverse("dossier:household-detail", args=[cast.household_a.pk])
    )
    assert response.status_code == 200
    html = response.content.decode()
    panel = html[html.index('id="consent-panel"') :]
    assert page(cast.household_a) in panel
    assert 'data-purpose="aggregates" data-state="given"' in panel
    assert 'data-purpose="research" data-state="not_given"' in panel


# The coordinator's overview ----------------------------------------------------------------


def test_the_coordinator_sees_counts_and_a_row_per_household(cast, login):
    give_consent(cast.household_a, Purpose.AGGREGATES)
    give_consent(cast.household_a2, Purpose.AGGREGATES)
    give_consent(cast.household_b, Purpose.AGGREGATES)
    withdrawn = give_consent(cast.household_a, Purpose.RESEARCH)
    ConsentRecord.objects.filter(pk=withdrawn.pk).update(
        withdrawn_at=withdrawn.given_at, withdrawal_channel=Channel.ONLINE
    )
    response = login(cast.coordinator).get(reverse("dataplatform:consent-overview"))
    assert response.status_code == 200
    counts = {purpose: count for purpose, _label, count in response.context["purposes"]}
    assert counts == {"processing": 0, "aggregates": 2, "address_level": 0, "research": 0}
    rows = {household.pk: states for household, states in response.context["rows"]}
    assert set(rows) == {cast.household_a.pk, cast.household_a2.pk}
    assert rows[cast.household_a.pk] == ["not_given", "given", "not_given", "withdrawn"]
    html = response.content.decode()
    assert page(cast.household_a) in html
    assert page(cast.household_b) not in html


def test_the_overview_is_paginated(cast, login, monkeypatch):
    monkeypatch.setattr(consent_views, "PAGE_SIZE", 1)
    client = login(cast.coordinator)
    first = client.get(reverse("dataplatform:consent-overview"))
    second = client.get(reverse("dataplatform:consent-overview"), {"page": 2})
    assert len(first.context["rows"]) == len(second.context["rows"]) == 1
    assert first.context["rows"][0][0] != second.context["rows"][0][0]
    assert first.context["page"].paginator.num_pages == 2


def test_another_initiatives_coordinator_sees_only_their_own(cast, login):
    response = login(cast.coordinator_b).get(reverse("dataplatform:consent-overview"))
    assert response.status_code == 200
    assert [household.pk for household, _ in response.context["rows"]] == [cast.household_b.pk]


@pytest.mark.parametrize("who", ["alice", "resident", "municipality_staff", "province_analyst"])
def test_the_overview_is_for_coordinators_only(cast, login, who):
    assert (
        login(getattr(cast, who)).get(reverse("dataplatform:consent-overview")).status_code == 404
    )


def test_the_overview_sends_anonymous_visitors_to_the_login(cast, client):
    response = client.get(reverse("dataplatform:consent-overview"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# The administrator --------------------------------------------------------------------------


def test_the_administrator_adds_a_new_text_version_with_its_hash(cast, login):
    response = login(cast.admin).post(
        f"{ADMIN}/consenttext/add/",
        {
            "purpose": "research",
            "version": "2026-2",
            "title": "Onderzoek",
            "text": "Nieuwe tekst.",
            "valid_from_0": "2026-07-01",
            "valid_from_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    text = ConsentText.objects.get(purpose="research", version="2026-2")
    assert text.text_hash == ConsentText.hash_of("research", "2026-2", "Nieuwe tekst.")


def test_the_administrator_can_neither_change_nor_delete_a_text(cast, login):
    client = login(cast.admin)
    text = ConsentText.objects.get(purpose="research", version="2026-1")
    response = client.get(f"{ADMIN}/consenttext/{text.pk}/change/")
    assert response.status_code == 200
    assert text.text_hash in response.content.decode()
    assert 'name="text"' not in response.content.decode()
    response = client.post(
        f"{ADMIN}/consenttext/{text.pk}/change/",
        {"purpose": "research", "version": "2026-1", "title": "x", "text": "Anders."},
    )
    assert response.status_code == 403
    assert client.post(f"{ADMIN}/consenttext/{text.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ConsentText.objects.get(pk=text.pk).text == text.text


def test_consent_records_are_read_only_in_the_admin(cast, login):
    record = give_consent(cast.household_a, Purpose.AGGREGATES)
    client = login(cast.admin)
    response = client.get(f"{ADMIN}/consentrecord/", {"active": "yes", "purpose": "aggregates"})
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [record]
    assert client.get(f"{ADMIN}/consentrecord/", {"active": "no"}).context["cl"].result_count == 0
    assert client.get(f"{ADMIN}/consentrecord/add/").status_code == 403
    response = client.post(f"{ADMIN}/consentrecord/{record.pk}/change/", {"channel": "paper"})
    assert response.status_code == 403
    response = client.post(f"{ADMIN}/consentrecord/{record.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert ConsentRecord.objects.get(pk=record.pk).channel == Channel.ONLINE


def test_the_admin_shows_a_consent_without_naming_the_resident(cast, login):
    record = give_consent(cast.household_a, Purpose.AGGREGATES, by=cast.resident)

    page = login(cast.admin).get(f"{ADMIN}/consentrecord/{record.pk}/change/")

    assert page.status_code == 200
    assert str(cast.household_a.pk) in page.text
    for personal in (cast.resident.get_full_name(), cast.resident.email, cast.household_a.name):
        assert personal not in page.text


def test_the_admin_pages_are_for_the_administrator_only(cast, login):
    response = login(cast.coordinator).get(f"{ADMIN}/consentrecord/")
    assert response.status_code == 302
