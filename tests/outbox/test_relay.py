"""The outbox: a task asked for in a transaction is recorded in it and sent once.

The broker is replaced by a list here (publishing is `outbox.relay._publish`); the real
broker, down and then back, with a real worker, is in tests/test_outbox_worker.py.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from config.celery import app
from crm import tasks as crm_tasks
from dossier import tasks as dossier_tasks
from outbox import relay
from outbox.models import QueuedTask
from tests.conftest import skip_or_fail


@pytest.fixture
def broker(monkeypatch):
    """Tasks go to a broker (a list here) instead of running in-process."""
    published: list[tuple[str, list, dict]] = []
    state = {"down": False}

    def publish(row: QueuedTask) -> None:
        if state["down"]:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")
        published.append((row.task, row.args, row.kwargs))

    monkeypatch.setattr(relay, "_publish", publish)
    app.conf.task_always_eager = False
    yield type("Broker", (), {"published": published, "state": state})
    app.conf.task_always_eager = True


def test_a_task_is_recorded_in_the_transaction_and_sent_after_the_commit(
    db, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        crm_tasks.coach_assignment_mail.delay_on_commit(7)
        row = QueuedTask.objects.get()
        # Recorded now, sent only once the transaction commits.
        assert (row.task, row.args, row.sent_at) == (
            "crm.tasks.coach_assignment_mail",
            [7],
            None,
        )
        assert broker.published == []
    assert broker.published == [("crm.tasks.coach_assignment_mail", [7], {})]
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 1


def test_a_task_asked_for_in_a_transaction_that_rolls_back_was_never_asked_for(
    db, broker, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        dossier_tasks.advice_report_render.delay_on_commit(3)
        assert QueuedTask.objects.count() == 1
        raise RuntimeError("the caller's work failed")
    assert QueuedTask.objects.count() == 0
    assert broker.published == []


def test_a_task_the_broker_cannot_take_waits_and_the_drain_sends_it_once(
    db, broker, django_capture_on_commit_callbacks
):
    broker.state["down"] = True
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        # No exception reaches the caller: its work is committed, the task waits.
        crm_tasks.coach_assignment_mail.delay_on_commit(11)
        crm_tasks.signup_confirmation_mail.delay_on_commit(12)
    waiting = list(QueuedTask.objects.values_list("args", "sent_at", "attempts", "last_error"))
    assert waiting == [([11], None, 1, "OperationalError"), ([12], None, 1, "OperationalError")]

    # Still down: the drain stops at the first refusal, the rows keep waiting.
    assert relay.drain() == 0
    assert QueuedTask.objects.filter(sent_at__isnull=True).count() == 2

    broker.state["down"] = False
    assert relay.drain() == 2
    assert relay.drain() == 0
    assert broker.published == [
        ("crm.tasks.coach_assignment_mail", [11], {}),
        ("crm.tasks.signup_confirmation_mail", [12], {}),
    ]
    assert not QueuedTask.objects.filter(sent_at__isnull=True).exists()
    # A late after-commit send of a row the drain already sent sends nothing.
    assert relay.send(QueuedTask.objects.first().pk) is False
    assert len(broker.published) == 2


def test_the_drain_deletes_sent_rows_after_a_week_and_keeps_the_rest(db, broker):
    now = timezone.now()
    old = QueuedTask.objects.create(task="x", args=[1], sent_at=now - dt.timedelta(days=8))
    recent = QueuedTask.objects.create(task="x", args=[2], sent_at=now - dt.timedelta(days=6))
    broker.state["down"] = True
    waiting = QueuedTask.objects.create(task="x", args=[3])
    relay.drain(now=now)
    assert set(QueuedTask.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert not QueuedTask.objects.filter(pk=old.pk).exists()


def test_in_process_tasks_run_after_the_commit_as_before_and_leave_no_row(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    assert app.conf.task_always_eager
    ran: list[int] = []
    monkeypatch.setattr(
        crm_tasks.services, "coach_assignment_mail_send", lambda *, event_id: ran.append(event_id)
    )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        crm_tasks.coach_assignment_mail.delay_on_commit(5)
        assert ran == []
    assert ran == [5]
    assert QueuedTask.objects.count() == 0


def test_two_drains_at_once_send_each_row_once(transactional_db, broker):
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL (set DATABASE_URL): SQLite has no row locks to skip")
    rows = [
        QueuedTask.objects.create(task="crm.tasks.coach_assignment_mail", args=[n])
        for n in range(5)
    ]
    first_publishing = threading.Event()
    release = threading.Event()
    publish = relay._publish

    def slow_publish(row: QueuedTask) -> None:
        # The first drain holds its rows while it publishes the first one.
        first_publishing.set()
        release.wait(30)
        publish(row)

    results: list[int] = []

    def first_drain() -> None:
        try:
            results.append(relay.drain())
        finally:
            connections.close_all()

    relay._publish = slow_publish
    thread = threading.Thread(target=first_drain)
    thread.start()
    try:
        assert first_publishing.wait(30)
        relay._publish = publish
        # The second drain and an after-commit send pass the locked rows by.
        assert relay.drain() == 0
        assert relay.send(rows[0].pk) is False
    finally:
        release.set()
        thread.join(30)
    assert results == [5]
    assert relay.drain() == 0
    assert sorted(args[0] for _, args, _ in broker.published) == [0, 1, 2, 3, 4]
    assert QueuedTask.objects.filter(sent_at__isnull=False, attempts=1).count() == 5
