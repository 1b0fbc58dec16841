"""Work asked for while the broker is unreachable is neither lost nor an error.

The web side (this test process) sends its tasks to a Redis URL on a closed port: a
coordinator assigns a coach on the case page and a website assigns one through the API.
Both answer success and store the assignment; each coach's mail waits in the outbox. Then
the broker is there and a real worker starts: the drain it sends on start hands the mails
over, and each coach gets one mail.
"""

from __future__ import annotations

import email
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from accounts import api_tokens
from crm import services
from crm.models import CaseEvent, EventKind
from dossier.models import Household
from outbox import relay
from outbox.models import QueuedTask
from tests.conftest import port_open, skip_or_fail
from tests.crm.test_api import API, key_client, post
from tests.test_celery_worker import pointed_at, sending_to, worker_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# A database number of its own, emptied first: no stray message from elsewhere runs here.
BROKER = "redis://127.0.0.1:6379/12"
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60


def closed_port() -> int:
    """A port on this machine where nothing listens (asked of the kernel, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def services_up(transactional_db) -> None:
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL (set DATABASE_URL): a worker cannot see an in-memory SQLite")
    if not port_open("127.0.0.1", 6379):
        skip_or_fail("Redis on 127.0.0.1:6379")


@pytest.fixture
def broker_down(services_up, monkeypatch) -> Iterator[str]:
    """The web side's broker is a Redis URL where nothing answers."""
    url = f"redis://127.0.0.1:{closed_port()}/12"
    yield from pointed_at(url, monkeypatch)


def start_worker(tmp_path: Path) -> subprocess.Popen[bytes]:
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "config", "worker"),
                *("--pool=solo", "--concurrency=1", "--hostname=outbox@%h"),
                *("--without-heartbeat", "--without-gossip", "--without-mingle"),
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=worker_env(BROKER, tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + TIMEOUT
    while "ready." not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the worker did not start:\n" + log.read_text(errors="replace"))
        time.sleep(0.2)
    return process


def wait_until(condition, *, what: str, log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {TIMEOUT} s:\n{log.read_text()}")
        time.sleep(0.2)


def mails(tmp_path: Path) -> list[email.message.Message]:
    folder = tmp_path / "mail"
    if not folder.exists():
        return []
    return [email.message_from_bytes(path.read_bytes()) for path in sorted(folder.iterdir())]


def test_coaches_assigned_while_the_broker_is_down_get_one_mail_each_once_it_is_back(
    cast, login, client, broker_down, monkeypatch, tmp_path
):
    page_case = services.case_open(household=cast.household_a, contact_email="alfa@example.org")
    api_case = services.case_open(household=cast.household_a2, contact_phone="06 11111111")
    _token, key = api_tokens.api_token_create(
        organisation=cast.initiative_a, name="Website", actor=cast.coordinator
    )

    # The page: the coordinator assigns Alice and is sent back to the case with a success.
    coordinator = login(cast.coordinator)
    response = coordinator.post(
        reverse("crm:case-assign", args=[page_case.pk]), {"coach": cast.alice.pk}
    )
    assert response.status_code == 302, response.content
    assert response["Location"] == reverse("crm:case-detail", args=[page_case.pk])
    page = coordinator.get(response["Location"])
    assert page.status_code == 200
    assert [message.level_tag for message in page.context["messages"]] == ["success"]
    # The API: the website's key assigns Bob.
    response = post(key_client(key), f"{API}/cases/{api_case.pk}/assign/", {"coach": cast.bob.pk})
    assert response.status_code == 200, response.content
    assert response.json()["assigned_coach"] == cast.bob.pk

    assert Household.objects.get(pk=cast.household_a.pk).assigned_coach == cast.alice
    assert Household.objects.get(pk=cast.household_a2.pk).assigned_coach == cast.bob
    waiting = QueuedTask.objects.filter(task="crm.tasks.coach_assignment_mail", sent_at=None)
    events = CaseEvent.objects.filter(kind=EventKind.ASSIGNMENT).order_by("pk")
    assert sorted(row.args for row in waiting) == [[event.pk] for event in events]
    assert {row.last_error for row in waiting} == {"OperationalError"}
    assert mails(tmp_path) == []

    # The broker is back, and a worker starts: its drain on start sends what waited.
    yield_from = sending_to(BROKER, monkeypatch)
    next(yield_from)
    try:
        worker = start_worker(tmp_path)
        log = tmp_path / "worker.log"
        try:
            wait_until(
                lambda: not QueuedTask.objects.filter(sent_at=None).exists(),
                what="the drain",
                log=log,
            )
            wait_until(lambda: len(mails(tmp_path)) >= 2, what="the mails", log=log)
            # Another drain finds nothing left, and the worker has nothing more to send.
            assert relay.drain() == 0
            sent_events = CaseEvent.objects.filter(kind=EventKind.EMAIL_SENT)
            wait_until(lambda: sent_events.count() >= 2, what="the mail events", log=log)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    finally:
        next(yield_from, None)

    received = mails(tmp_path)
    assert sorted(message["To"] for message in received) == sorted(
        [cast.alice.email, cast.bob.email]
    ), log.read_text()
    assert sent_events.count() == 2
    assert QueuedTask.objects.filter(task="crm.tasks.coach_assignment_mail").count() == 2
    text = log.read_text()
    assert "outbox.tasks.drain" in text
    # Ids only went through the broker and the worker's log.
    for private in ("alfa@example.org", cast.household_a.dwelling.street, cast.alice.email):
        assert private not in text
