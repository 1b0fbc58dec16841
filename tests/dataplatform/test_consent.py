"""Consent per purpose: giving, withdrawing, the one-active rule and the texts behind it."""

from __future__ import annotations

import datetime as dt
import importlib
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from dataplatform import consent
from dataplatform.models import Channel, ConsentRecord, ConsentText, Purpose
from tests.conftest import skip_or_fail
from tests.dataplatform.builders import give_consent, make_consent_text

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SEED = importlib.import_module("dataplatform.migrations.0002_seed_consent_texts")


def rows(household) -> list[tuple]:
    return list(
        ConsentRecord.objects.filter(household=household)
        .order_by("pk")
        .values_list("pk", "purpose", "channel", "withdrawn_at", "withdrawal_channel")
    )


def give(cast, purpose=Purpose.AGGREGATES, **kwargs):
    kwargs.setdefault("household", cast.household_a)
    kwargs.setdefault("actor", cast.resident)
    kwargs.setdefault("channel", Channel.ONLINE)
    return consent.consent_give(purpose=purpose, **kwargs)


def withdraw(cast, purpose=Purpose.AGGREGATES, **kwargs):
    kwargs.setdefault("household", cast.household_a)
    kwargs.setdefault("actor", cast.resident)
    kwargs.setdefault("channel", Channel.ONLINE)
    return consent.consent_withdraw(purpose=purpose, **kwargs)


# The texts in force -------------------------------------------------------------------------


def test_the_seed_migration_made_a_text_for_every_purpose(db):
    texts = consent.consent_texts_in_force(dt.datetime(2026, 6, 1, tzinfo=AMSTERDAM))
    assert set(texts) == set(Purpose.values)
    for purpose, text in texts.items():
        assert text.version == "2026-1"
        assert text.valid_from == dt.datetime(2026, 1, 1, tzinfo=AMSTERDAM)
        assert text.text_hash == ConsentText.hash_of(purpose, text.version, text.text)


def test_the_seed_texts_say_what_a_consent_must_say(db):
    texts = {t.purpose: t.text for t in ConsentText.objects.filter(version="2026-1")}
    for text in texts.values():
        for heading in (
            "Waarvoor",
            "Welke gegevens",
            "Wie ontvangt",
            "Je rechten",
            "Beveiliging",
            "Bewaartermijn",
            "Vrijwillig",
            "intrekken",
        ):
            assert heading in text
    assert "postcodegebied" in texts[Purpose.AGGREGATES]
    assert "weggelaten" in texts[Purpose.AGGREGATES]
    assert "adres" in texts[Purpose.ADDRESS_LEVEL]
    assert "afspraak" in texts[Purpose.ADDRESS_LEVEL]


def test_the_seed_is_idempotent_and_its_hash_matches_the_model(db):
    ConsentText.objects.filter(version="2026-1").delete()
    SEED.seed(apps, None)
    SEED.seed(apps, None)
    texts = ConsentText.objects.filter(version="2026-1")
    assert texts.count() == 4
    for text in texts:
        assert text.text_hash == ConsentText.hash_of(text.purpose, text.version, text.text)


def test_before_the_first_text_nothing_is_in_force(db):
    assert consent.consent_texts_in_force(dt.datetime(2025, 12, 31, 23, 59, tzinfo=AMSTERDAM)) == {}


def test_the_latest_text_valid_now_is_in_force(db):
    later = make_consent_text(
        Purpose.RESEARCH,
        version="2026-2",
        valid_from=dt.datetime(2026, 7, 1, tzinfo=AMSTERDAM),
    )
    future = make_consent_text(
        Purpose.RESEARCH, version="2099-1", valid_from=dt.datetime(2099, 1, 1, tzinfo=AMSTERDAM)
    )
    in_force = consent.consent_texts_in_force(dt.datetime(2026, 8, 1, tzinfo=AMSTERDAM))
    assert in_force[Purpose.RESEARCH] == later
    assert in_force[Purpose.RESEARCH] != future
    assert in_force[Purpose.AGGREGATES].version == "2026-1"


def test_the_hash_is_stable(db):
    assert ConsentText.hash_of("research", "1", "Tekst") == (
        ConsentText.hash_of("research", "1", "Tekst")
    )
    assert ConsentText.hash_of("research", "1", "Tekst") != ConsentText.hash_of(
        "research", "1", "Tekst."
    )
    text = make_consent_text(Purpose.RESEARCH, version="x", text="Tekst")
    assert text.text_hash == ConsentText.hash_of("research", "x", "Tekst")


def test_a_consent_text_never_changes_and_is_never_deleted(db):
    text = make_consent_text(Purpose.RESEARCH, version="x", text="Tekst")
    text.text = "Iets anders"
    with pytest.raises(ValidationError):
        text.save()
    with pytest.raises(ValidationError):
        text.delete()
    stored = ConsentText.objects.get(pk=text.pk)
    assert stored.text == "Tekst"


# Giving and withdrawing --------------------------------------------------------------------


def test_a_resident_gives_consent_online(cast):
    record = give(cast)
    assert record.is_active
    assert (record.channel, record.recorded_by, record.purpose) == (
        Channel.ONLINE,
        cast.resident,
        Purpose.AGGREGATES,
    )
    assert record.text == consent.consent_texts_in_force()[Purpose.AGGREGATES]


def test_giving_again_while_active_returns_the_active_record_unchanged(cast):
    first = give(cast)
    before = rows(cast.household_a)
    again, created = consent.consent_give_or_get(
        household=cast.household_a,
        purpose=Purpose.AGGREGATES,
        channel=Channel.ONLINE,
        actor=cast.resident,
    )
    assert (again.pk, created) == (first.pk, False)
    assert again.given_at == first.given_at
    assert rows(cast.household_a) == before


def test_withdrawing_fills_the_withdrawal_fields_once(cast):
    record = give(cast)
    withdrawn = withdraw(cast)
    assert withdrawn.pk == record.pk
    stored = ConsentRecord.objects.get(pk=record.pk)
    assert stored.withdrawn_at is not None
    assert (stored.withdrawal_channel, stored.withdrawn_by) == (Channel.ONLINE, cast.resident)
    assert stored.given_at == record.given_at


def test_withdrawing_when_nothing_is_active_changes_nothing(cast):
    give(cast)
    withdraw(cast)
    before = rows(cast.household_a)
    assert withdraw(cast) is None
    assert withdraw(cast, Purpose.RESEARCH) is None
    assert rows(cast.household_a) == before


def test_giving_again_after_withdrawing_is_a_new_row(cast):
    first = give(cast)
    withdraw(cast)
    second = give(cast)
    assert second.pk != first.pk
    assert second.is_active
    assert not ConsentRecord.objects.get(pk=first.pk).is_active
    assert ConsentRecord.objects.filter(household=cast.household_a).count() == 2


def test_staff_record_on_the_residents_behalf(cast):
    record = give(cast, Purpose.PROCESSING, actor=cast.alice, channel=Channel.PAPER)
    assert (record.channel, record.recorded_by) == (Channel.PAPER, cast.alice)
    withdrawn = withdraw(cast, Purpose.PROCESSING, actor=cast.coordinator, channel=Channel.PHONE)
    assert (withdrawn.withdrawal_channel, withdrawn.withdrawn_by) == (
        Channel.PHONE,
        cast.coordinator,
    )


@pytest.mark.parametrize(
    ("actor", "channel"),
    [("resident", Channel.PAPER), ("alice", Channel.ONLINE), ("coordinator", "fax")],
)
def test_the_wrong_channel_is_refused_and_nothing_written(cast, actor, channel):
    with pytest.raises(ValidationError):
        give(cast, actor=getattr(cast, actor), channel=channel)
    assert rows(cast.household_a) == []


@pytest.mark.parametrize("actor", ["bob", "charlie", "coordinator_b", "municipality_staff"])
def test_people_who_may_not_change_the_household_are_refused(cast, actor):
    with pytest.raises(PermissionDenied):
        give(cast, actor=getattr(cast, actor), channel=Channel.PAPER)
    assert rows(cast.household_a) == []


def test_an_unknown_purpose_is_refused(cast):
    with pytest.raises(ValidationError):
        give(cast, "marketing")
    assert rows(cast.household_a) == []


def test_without_a_text_in_force_consent_cannot_be_given(cast):
    with pytest.raises(ValidationError) as error:
        give(cast, now=dt.datetime(2025, 6, 1, tzinfo=AMSTERDAM))
    assert error.value.code == "no_text"
    assert rows(cast.household_a) == []


def test_one_active_consent_per_purpose_is_a_database_rule(cast):
    give_consent(cast.household_a, Purpose.AGGREGATES)
    with pytest.raises(IntegrityError), transaction.atomic():
        give_consent(cast.household_a, Purpose.AGGREGATES)
    assert ConsentRecord.objects.filter(household=cast.household_a).count() == 1


def test_a_lost_race_returns_the_active_row(cast, monkeypatch):
    # Another request inserted its row between this one's check and its insert.
    other = give_consent(cast.household_a, Purpose.AGGREGATES)
    real_active = consent._active
    calls = []

    def first_misses(household, purpose):
        calls.append(purpose)
        return None if len(calls) == 1 else real_active(household, purpose)

    monkeypatch.setattr(consent, "_active", first_misses)
    record, created = consent.consent_give_or_get(
        household=cast.household_a,
        purpose=Purpose.AGGREGATES,
        channel=Channel.ONLINE,
        actor=cast.resident,
    )
    assert (record.pk, created) == (other.pk, False)
    assert len(calls) == 2
    assert ConsentRecord.objects.filter(household=cast.household_a).count() == 1


def test_a_consent_record_is_never_deleted(cast):
    record = give(cast)
    with pytest.raises(ValidationError):
        record.delete()
    assert ConsentRecord.objects.filter(pk=record.pk).exists()


def test_withdrawal_before_the_consent_was_given_is_refused(cast):
    record = give(cast)
    with pytest.raises(ValidationError):
        withdraw(cast, now=record.given_at - dt.timedelta(minutes=1))
    assert ConsentRecord.objects.get(pk=record.pk).is_active


# The status of a household -------------------------------------------------------------------


def test_the_status_shows_each_purpose_with_its_text_and_history(cast):
    t0 = timezone.now() - dt.timedelta(days=3)
    give(cast, Purpose.RESEARCH, now=t0)
    withdraw(cast, Purpose.RESEARCH, now=t0 + dt.timedelta(days=1))
    give(cast, Purpose.AGGREGATES)

    statuses = {status.purpose: status for status in consent.consent_status(cast.household_a)}

    assert list(statuses) == Purpose.values
    assert statuses[Purpose.AGGREGATES].state == "given"
    assert statuses[Purpose.RESEARCH].state == "withdrawn"
    assert statuses[Purpose.RESEARCH].last_withdrawn.withdrawn_at == t0 + dt.timedelta(days=1)
    assert statuses[Purpose.PROCESSING].state == "not_given"
    assert statuses[Purpose.PROCESSING].text.version == "2026-1"
    assert len(statuses[Purpose.RESEARCH].history) == 1


def test_the_history_is_newest_first(cast):
    t0 = timezone.now() - dt.timedelta(days=3)
    first = give(cast, now=t0)
    withdraw(cast, now=t0 + dt.timedelta(hours=1))
    second = give(cast, now=t0 + dt.timedelta(days=1))
    status = next(
        s for s in consent.consent_status(cast.household_a) if s.purpose == Purpose.AGGREGATES
    )
    assert [record.pk for record in status.history] == [second.pk, first.pk]
    assert status.active.pk == second.pk


def test_counts_and_states_for_the_overview(cast):
    give(cast, Purpose.AGGREGATES)
    give_consent(cast.household_a2, Purpose.AGGREGATES)
    give_consent(cast.household_b, Purpose.AGGREGATES)
    give(cast, Purpose.RESEARCH)
    withdraw(cast, Purpose.RESEARCH)

    counts = consent.consent_counts(initiative_ids=[cast.initiative_a.pk])
    states = consent.consent_states([cast.household_a, cast.household_a2])

    assert counts == {
        Purpose.PROCESSING: 0,
        Purpose.AGGREGATES: 2,
        Purpose.ADDRESS_LEVEL: 0,
        Purpose.RESEARCH: 0,
    }
    assert states[cast.household_a.pk][Purpose.RESEARCH] == "withdrawn"
    assert states[cast.household_a.pk][Purpose.AGGREGATES] == "given"
    assert states[cast.household_a2.pk][Purpose.RESEARCH] == "not_given"


# Two submits at the same moment (PostgreSQL row locks) ---------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_gives_at_the_same_moment_make_one_row_and_one_insert(cast, monkeypatch):
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL (DATABASE_URL=postgres://...)")
    # A transactional test starts from a flushed database: put the seeded texts back.
    SEED.seed(apps, None)
    texts_in_force = consent.consent_texts_in_force

    def slow_texts(now=None):
        # Look, then wait: without the lock both would find no active row and insert.
        result = texts_in_force(now)
        time.sleep(0.3)
        return result

    monkeypatch.setattr(consent, "consent_texts_in_force", slow_texts)
    inserts = []
    create = ConsentRecord.objects.create

    def counting_create(**fields):
        inserts.append(fields["purpose"])
        return create(**fields)

    monkeypatch.setattr(ConsentRecord.objects, "create", counting_create)
    barrier = threading.Barrier(2)
    results: list[tuple[ConsentRecord, bool]] = []
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(
                consent.consent_give_or_get(
                    household=cast.household_a,
                    purpose=Purpose.AGGREGATES,
                    channel=Channel.ONLINE,
                    actor=cast.resident,
                )
            )
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(created for _record, created in results) == [False, True]
    assert len({record.pk for record, _created in results}) == 1
    # The second waited for the first's lock and found its row: it never tried to insert.
    assert inserts == [Purpose.AGGREGATES]
    assert ConsentRecord.objects.filter(household=cast.household_a).count() == 1
