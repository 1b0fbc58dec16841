"""A real Celery worker (Redis broker, PostgreSQL) makes and mails an advice report.

Every other test runs tasks in-process; this one proves the wiring those tests cannot:
the task is found by the worker, its message survives JSON, the worker reaches the same
database and storage, and the report reaches the resident's inbox.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from dossier import advice_reports
from dossier.models import AdviceReport, Delivery, Dossier, ReportStatus
from tests.conftest import port_open, skip_or_fail
from tests.dossier.test_advice_reports import prepare

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# A database number of its own, emptied first: no stray message from elsewhere runs here.
BROKER = "redis://127.0.0.1:6379/11"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def services_up() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL (set DATABASE_URL): a worker cannot see an in-memory SQLite")
    if not port_open("127.0.0.1", 6379):
        skip_or_fail("Redis on 127.0.0.1:6379")


def pointed_at(url: str, monkeypatch) -> Iterator:
    """The test process sends tasks to the broker at `url` instead of running them itself."""
    from kombu import pools

    from config.celery import app

    # Celery lets this variable win over its configuration (CI sets it for other tests).
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = url
    # Forget connections made for another broker URL.
    app._pool = None
    app.amqp._producer_pool = None
    yield app
    # Closes the connections and forgets the pools: kombu keeps them per URL, process-wide,
    # and would hand the next test a closed one.
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.task_always_eager, app.conf.broker_url = saved


def sending_to(url: str, monkeypatch) -> Iterator:
    """The test process sends tasks to the real broker at `url`, emptied first."""
    import redis

    redis.Redis.from_url(url).flushdb()
    yield from pointed_at(url, monkeypatch)


@pytest.fixture
def broker(services_up, monkeypatch):
    """The test process sends tasks to the real broker instead of running them itself."""
    yield from sending_to(BROKER, monkeypatch)


def worker_env(broker: str, tmp_path) -> dict[str, str]:
    """A worker process's settings: the test database, this broker, media and mail in tmp."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "EMAIL_URL": f"filemail://{tmp_path / 'mail'}",
        "SITE_URL": "https://woningdossier.example.nl",
    }


@pytest.fixture
def worker(broker, tmp_path):
    """`celery -A config worker` in a subprocess, on the test database and a temporary media."""
    env = worker_env(BROKER, tmp_path)
    log = (tmp_path / "worker.log").open("w+")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in (tmp_path / "worker.log").read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the worker did not start:\n" + (tmp_path / "worker.log").read_text())
        time.sleep(0.2)
    yield process, tmp_path
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def wait_for(report: AdviceReport, *, field: str, timeout: float = 60) -> AdviceReport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report.refresh_from_db()
        if report.status == ReportStatus.FAILED or getattr(report, field):
            return report
        time.sleep(0.25)
    return report


def test_a_real_worker_makes_the_report_and_mails_it(
    transactional_db, seeded_parameters, cast, settings, worker
):
    process, tmp_path = worker
    settings.MEDIA_ROOT = tmp_path / "media"
    prepare(cast.household_a)

    # Autocommit here: the task is sent the moment the request's row is committed.
    report = advice_reports.report_request(
        dossier=Dossier.objects.get(pk=cast.household_a.dossier.pk),
        actor=cast.alice,
        summary="Tot ziens!",
        delivery=Delivery.EMAIL,
    )
    assert report.status == ReportStatus.QUEUED

    report = wait_for(report, field="sent_at")

    worker_log = (tmp_path / "worker.log").read_text()
    assert report.status == ReportStatus.DONE, worker_log
    assert report.sent_at is not None, worker_log
    assert report.attempts == 1 and report.pages
    pdf = tmp_path / "media" / report.pdf.name
    assert pdf.read_bytes().startswith(b"%PDF-")
    mails = list((tmp_path / "mail").iterdir())
    assert len(mails) == 1
    message = email.message_from_bytes(mails[0].read_bytes())
    assert message["To"] == cast.resident.email
    attachment = next(part for part in message.walk() if part.get_filename())
    assert attachment.get_filename() == f"adviesrapport-{report.dossier_id}-1.pdf"
    assert attachment.get_payload(decode=True) == pdf.read_bytes()
    # The worker logged the task by id; no address or name went through the broker.
    assert "advice_report_render[" in worker_log
    for private in (cast.resident.email, cast.household_a.dwelling.street, "Familie Alfa"):
        assert private not in worker_log
    assert process.poll() is None
