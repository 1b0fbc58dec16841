"""A Celery worker killed with SIGKILL mid-job loses nothing and does nothing twice.

A real prefork worker (Redis broker, PostgreSQL) is stopped dead at a known point of an
advice report (while its PDF is made, or while its mail is being handed over), of a
delivery to the provincial platform (after the POST was sent, before the answer came
back), or of an RVO monitoring file made in the background. Two ways to die:

- only the pool's child is killed (out of memory, a segfault): the parent sees it, and
  acks_late with reject_on_worker_lost hands the message back at once; the same worker
  finishes the job in a new child.
- the whole worker is killed (the machine or the container goes): the message stays
  unacknowledged in Redis until the broker's visibility timeout (an hour in production);
  a new worker started here with a timeout of a few seconds takes it over.
- the whole worker is killed, and the new one keeps the production visibility timeout of
  an hour: the job's lease, no longer renewed by the dead worker, runs out, and the
  sweep the new worker runs when it starts has the job done again ("lease" below; the
  dead worker held a lease of a few seconds here instead of two minutes).

Either way the job ends done, once in effect: one report row, one PDF, one mail; one
publication stored by the platform and its outbox row delivered; one monitoring file.

The stopping point is installed by the launcher below, in the worker process only and
before Celery starts; the product has no hook for it.
"""

from __future__ import annotations

import datetime as dt
import email
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from dataplatform import tasks as dataplatform_tasks
from dataplatform.models import DeliveryStatus
from demo.nip_plan import programme_from_plan
from dossier import advice_reports
from dossier.models import AdviceReport, Delivery, Dossier, ReportStatus
from nip import monitoring
from nip.models import ExportStatus, MonitoringExport
from tests.conftest import port_open, skip_or_fail
from tests.dataplatform.test_delivery import KEY, Platform, fresh, published
from tests.dossier.test_advice_reports import prepare
from tests.nip.builders import make_application, make_measure
from tests.test_celery_worker import sending_to, worker_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# A database number of its own, emptied first: no stray message from elsewhere runs here.
BROKER = os.environ.get("FAULTS_BROKER_URL", "redis://127.0.0.1:6379/14")
ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60
JOB_TIMEOUT = 90
# The new worker's visibility timeout when the whole old one was killed: long enough for
# a report to be made before its own message would be handed out again.
SHORT_VISIBILITY = 5
# The lease of the killed worker's jobs in the "lease" variant, in seconds.
SHORT_LEASE = 3

# Runs `celery` after installing the stopping point named by FAULT_STAGE. The first
# process to reach it writes its pid to FAULT_DIR/reached and waits there to be killed;
# every later one (the retry) passes straight through.
LAUNCHER = """
import os, sys, time
stage = os.environ.get("FAULT_STAGE", "")
visibility = os.environ.get("FAULT_VISIBILITY_TIMEOUT")
import django
django.setup()

def hold():
    try:
        reached = os.path.join(os.environ["FAULT_DIR"], "reached")
        fd = os.open(reached, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)

if stage == "render":
    from dossier import reports
    make_pdf = reports.advice_report_pdf
    def advice_report_pdf(**kwargs):
        made = make_pdf(**kwargs)
        hold()  # The PDF is made, not yet stored.
        return made
    reports.advice_report_pdf = advice_report_pdf
elif stage in ("mail", "sent"):
    from django.core.mail.backends import filebased
    send_messages = filebased.EmailBackend.send_messages
    def send(self, messages):
        if stage == "mail":
            hold()  # The report is locked for sending, the mail not yet handed over.
        sent = send_messages(self, messages)
        if stage == "sent":
            hold()  # The mail server has said yes; sent_at is not committed yet.
        return sent
    filebased.EmailBackend.send_messages = send
elif stage == "export":
    from nip import monitoring
    write = monitoring.monitoring_file_write
    def monitoring_file_write(target, **kwargs):
        write(target, **kwargs)
        hold()  # The file is in its temporary file, not yet stored.
    monitoring.monitoring_file_write = monitoring_file_write
if visibility:
    from config.celery import app
    app.conf.broker_transport_options = {
        "visibility_timeout": int(visibility),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
from celery.__main__ import main
sys.argv[0] = "celery"
sys.exit(main())
"""


@pytest.fixture
def broker(transactional_db, monkeypatch):
    """The test process sends tasks to the real broker instead of running them itself."""
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL (set DATABASE_URL): a worker cannot see an in-memory SQLite")
    if not port_open("127.0.0.1", 6379):
        skip_or_fail("Redis on 127.0.0.1:6379")
    yield from sending_to(BROKER, monkeypatch)


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def children(self) -> set[int]:
        """The pids of the pool's processes (a child may be forked from any thread)."""
        pids: set[int] = set()
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            pids.update(int(pid) for pid in (task / "children").read_text().split())
        return pids

    def text(self) -> str:
        return self.log.read_text(errors="replace")


class Workers:
    """Starts `celery worker` processes (prefork, one child) and stops them afterwards."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.started: list[Worker] = []

    def start(
        self, *, stage: str = "", visibility: int | None = None, lease: int | None = None
    ) -> Worker:
        number = len(self.started) + 1
        log = self.tmp_path / f"worker-{number}.log"
        env = {**self.env, "FAULT_STAGE": stage, "FAULT_DIR": str(self.tmp_path)}
        if visibility is not None:
            env["FAULT_VISIBILITY_TIMEOUT"] = str(visibility)
        if lease is not None:
            env["JOB_LEASE_SECONDS"] = str(lease)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-c", LAUNCHER, "-A", "config", "worker"),
                    *("--pool=prefork", "--concurrency=1", f"--hostname=faults{number}@%h"),
                    *("--without-heartbeat", "--without-gossip", "--without-mingle"),
                    "--loglevel=INFO",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own process group: "the whole worker" is this group and nothing else.
                start_new_session=True,
            )
        worker = Worker(process, log)
        self.started.append(worker)
        deadline = time.monotonic() + START_TIMEOUT
        while "ready." not in worker.text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"worker {number} did not start:\n{worker.text()}")
            time.sleep(0.2)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            if worker.process.poll() is None:
                worker.process.terminate()
                try:
                    worker.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.process.pid, signal.SIGKILL)
                    worker.process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {w.log.name}\n{w.text()}" for w in self.started)


@pytest.fixture
def workers(broker, tmp_path, settings) -> Iterator[Workers]:
    settings.MEDIA_ROOT = tmp_path / "media"
    env = {
        **worker_env(BROKER, tmp_path),
        "DATAPLATFORM_SIGNING_KEY": KEY,
        # Longer than the platform is made to wait: the kill, not a timeout, ends the POST.
        "DATAPLATFORM_TIMEOUT": "60",
    }
    pool = Workers(tmp_path, env)
    yield pool
    pool.stop_all()


def wait_until(condition, *, what: str, logs, timeout: float = JOB_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s:\n{logs()}")
        time.sleep(0.2)


def kill(worker: Worker, child: int, how: str) -> None:
    if how == "child":
        os.kill(child, signal.SIGKILL)
    else:
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)


def first_lease(how: str) -> int | None:
    """The lease of the first worker's jobs: a short one where the test waits for it."""
    return SHORT_LEASE if how == "lease" else None


def recover(pool: Workers, worker: Worker, how: str, *, lease_expired=None) -> None:
    """After a child's death the same worker carries on; after the whole worker's, a new one.

    In the "lease" variant the new worker keeps the broker's hour of visibility timeout:
    it is started once the dead worker's lease has run out, and only its sweep can finish
    the job within the test's time.
    """
    if how == "child":
        wait_until(lambda: "WorkerLostError" in worker.text(), what="the requeue", logs=pool.logs)
        assert worker.process.poll() is None
    elif how == "lease":
        if lease_expired is not None:
            wait_until(lease_expired, what="the end of the lease", logs=pool.logs)
        pool.start()
    else:
        pool.start(visibility=SHORT_VISIBILITY)


def renewed(queryset, *, logs) -> None:
    """Wait until the worker renews the lease of the one job in `queryset`."""
    first = queryset.values_list("lease_until", flat=True).get()
    wait_until(lambda: queryset.filter(lease_until__gt=first).exists(), what="a renewal", logs=logs)


def expired(queryset) -> Callable[[], bool]:
    """Whether the one job in `queryset` is held by nobody any more."""
    return lambda: queryset.filter(lease_until__lt=timezone.now()).exists()


def media_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


@pytest.mark.parametrize("how", ["child", "worker", "lease"])
@pytest.mark.parametrize("stage", ["render", "mail"])
def test_a_report_survives_a_killed_worker_and_is_made_and_mailed_once(
    seeded_parameters, cast, workers, tmp_path, stage, how
):
    worker = workers.start(stage=stage, lease=first_lease(how))
    prepare(cast.household_a)

    report = advice_reports.report_request(
        dossier=Dossier.objects.get(pk=cast.household_a.dossier.pk),
        actor=cast.alice,
        summary="Tot ziens!",
        delivery=Delivery.EMAIL,
    )
    reached = tmp_path / "reached"
    wait_until(lambda: reached.exists() and reached.read_text(), what=stage, logs=workers.logs)
    child = int(reached.read_text())
    # The task runs in the pool's child, not in the process that talks to the broker.
    assert child in worker.children() and child != worker.process.pid
    report.refresh_from_db()
    running = ReportStatus.RUNNING if stage == "render" else ReportStatus.DONE
    assert report.status == running and report.sent_at is None
    assert not (tmp_path / "mail").exists() or not list((tmp_path / "mail").iterdir())
    if stage == "render":
        assert media_files(tmp_path / "media") == []

    if how == "lease" and stage == "render":
        # The worker renews the lease while the PDF is being made: a slow report is not
        # taken for a lost one.
        renewed(AdviceReport.objects.filter(pk=report.pk), logs=workers.logs)
    kill(worker, child, how)
    recover(workers, worker, how, lease_expired=expired(AdviceReport.objects.filter(pk=report.pk)))

    def mailed() -> bool:
        report.refresh_from_db()
        return report.sent_at is not None or report.status == ReportStatus.FAILED

    wait_until(mailed, what="the mail", logs=workers.logs)
    # Late repeats of either task (a restored message) must find nothing left to do.
    time.sleep(SHORT_VISIBILITY + 2 if how == "worker" else 1)

    report.refresh_from_db()
    assert report.status == ReportStatus.DONE, workers.logs()
    assert AdviceReport.objects.filter(dossier=report.dossier).count() == 1
    # The render ran twice when it was the one killed; its first run left nothing behind.
    assert report.attempts == (2 if stage == "render" else 1)
    stored = media_files(tmp_path / "media")
    assert stored == [tmp_path / "media" / report.pdf.name]
    assert stored[0].read_bytes().startswith(b"%PDF-")
    mails = list((tmp_path / "mail").iterdir())
    assert len(mails) == 1, workers.logs()
    message = email.message_from_bytes(mails[0].read_bytes())
    assert message["To"] == cast.resident.email
    attachment = next(part for part in message.walk() if part.get_filename())
    assert attachment.get_payload(decode=True) == stored[0].read_bytes()


class HoldingPlatform(Platform):
    """The platform of the delivery tests, which can keep the first answer back.

    With "hold" in the script it stores the publication, then answers nothing until
    released: the worker has sent its POST and waits for the answer when it is killed.
    """

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.held = threading.Event()
        self.release = threading.Event()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        if self.script[:1] != ["hold"]:
            return super().handle(request)
        body = request.rfile.read(int(request.headers["Content-Length"]))
        key = request.headers["Idempotency-Key"]
        with self.lock:
            self.script.pop(0)
            self.stored.setdefault(key, body)
            self.requests.append((key, None))
        self.held.set()
        self.release.wait(JOB_TIMEOUT)
        request.close_connection = True


@pytest.fixture
def holding_platform(workers) -> Iterator[HoldingPlatform]:
    server = HoldingPlatform(KEY)
    server.start()
    workers.env["DATAPLATFORM_ENDPOINT_URL"] = server.url
    yield server
    server.release.set()
    server.stop()


@pytest.mark.parametrize("how", ["child", "worker", "lease"])
def test_a_delivery_cut_off_after_its_post_is_stored_once_and_marked_delivered(
    cast, workers, holding_platform, how
):
    platform = holding_platform
    row = published(cast)
    platform.script = ["hold"]
    worker = workers.start()

    dataplatform_tasks.deliveries_send.delay()
    wait_until(platform.held.is_set, what="the POST", logs=workers.logs)
    (child,) = worker.children()
    assert fresh(row).status == DeliveryStatus.PENDING

    kill(worker, child, how)
    recover(workers, worker, how)

    wait_until(
        lambda: fresh(row).status != DeliveryStatus.PENDING,
        what="the delivery",
        logs=workers.logs,
    )
    row = fresh(row)
    key = str(row.idempotency_key)
    # The platform saw the same key twice and kept one copy; the row says delivered once.
    assert platform.requests == [(key, None), (key, 409)], workers.logs()
    assert list(platform.stored) == [key]
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.DELIVERED, 1, 409)
    assert row.delivered_at is not None


def test_a_worker_killed_after_the_mail_was_handed_over_sends_the_same_message_again(
    seeded_parameters, cast, workers, tmp_path
):
    """The one window left: the mail server took the mail, the commit of sent_at did not
    happen. The report goes out again (better twice than never), as the same message."""
    worker = workers.start(stage="sent")
    prepare(cast.household_a)
    report = advice_reports.report_request(
        dossier=Dossier.objects.get(pk=cast.household_a.dossier.pk),
        actor=cast.alice,
        delivery=Delivery.EMAIL,
    )
    reached = tmp_path / "reached"
    wait_until(lambda: reached.exists() and reached.read_text(), what="the mail", logs=workers.logs)
    assert len(list((tmp_path / "mail").iterdir())) == 1

    kill(worker, int(reached.read_text()), "child")
    recover(workers, worker, "child")

    wait_until(
        lambda: AdviceReport.objects.filter(pk=report.pk, sent_at__isnull=False).exists(),
        what="the second mail",
        logs=workers.logs,
    )
    mails = [email.message_from_bytes(path.read_bytes()) for path in (tmp_path / "mail").iterdir()]
    assert len(mails) == 2
    report.refresh_from_db()
    # The worker's SITE_URL names the host.
    with override_settings(SITE_URL=workers.env["SITE_URL"]):
        expected = advice_reports.report_message_id(report)
    assert [mail["Message-ID"] for mail in mails] == [expected, expected]
    assert expected == f"<adviesrapport-{report.pk}-{report.number}@woningdossier.example.nl>"


@pytest.mark.parametrize("how", ["child", "worker", "lease"])
def test_a_monitoring_export_survives_a_killed_worker_and_leaves_one_file(
    cast, workers, tmp_path, how
):
    # What the migrations seed, back after an earlier transactional test's flush.
    for seeded in (
        "dossier.migrations.0003_seed_measure_catalogue",
        "nip.migrations.0002_seed_parameters",
    ):
        importlib.import_module(seeded).seed(apps, None)
    programme = programme_from_plan(cast.municipality)
    for _ in range(3):
        application = make_application(
            programme, status="approved", amount_granted_eur=Decimal("1460")
        )
        make_measure(application)
    worker = workers.start(stage="export", lease=first_lease(how))

    export = monitoring.monitoring_export_request(
        programme=programme,
        period=monitoring.Period(dt.date(2024, 1, 1), dt.date(2024, 6, 30)),
        fmt="csv",
        actor=cast.municipality_staff,
    )
    reached = tmp_path / "reached"
    wait_until(lambda: reached.exists() and reached.read_text(), what="the file", logs=workers.logs)
    export.refresh_from_db()
    assert (export.status, export.attempts) == (ExportStatus.RUNNING, 1)

    if how == "lease":
        renewed(MonitoringExport.objects.filter(pk=export.pk), logs=workers.logs)
    kill(worker, int(reached.read_text()), how)
    recover(
        workers, worker, how, lease_expired=expired(MonitoringExport.objects.filter(pk=export.pk))
    )

    def finished() -> bool:
        export.refresh_from_db()
        return export.status != ExportStatus.RUNNING

    wait_until(finished, what="the export", logs=workers.logs)
    # A late repeat of the task (a restored message) must find nothing left to do.
    time.sleep(SHORT_VISIBILITY + 2 if how == "worker" else 1)

    export.refresh_from_db()
    assert (export.status, export.attempts) == (ExportStatus.DONE, 2), workers.logs()
    assert (export.rows_total, export.rows_done) == (3, 3)
    assert MonitoringExport.objects.count() == 1
    stored = media_files(tmp_path / "media")
    assert stored == [tmp_path / "media" / export.file.name]
    assert len(stored[0].read_text(encoding="utf-8-sig").splitlines()) == 4
