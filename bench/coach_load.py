"""Fifty coaches saving a dossier topic at the same time, and every save found afterwards.

`bench/run.py coach-load` runs it on a throwaway PostgreSQL database: it makes an
initiative with COACHES coaches, each assigned one household with its dossier, starts
gunicorn on 127.0.0.1, logs every coach in through the login form, opens each coach's
energy topic as the visit page does (its CSRF token and form), then lets wrk send the
autosave of that form (an htmx POST) for each coach at once, one connection per coach,
for DURATION seconds. Each save stores the next number in "electricity use per year"
and starts from the version the previous answer carried, as htmx does.

Afterwards the database must hold, for every coach, as many new versions of the topic as
saves wrk was answered, the last number sent, and one audit entry per save. The same
wrk setup against the bench's logged-in floor (a bare view behind the whole middleware
stack, bench/views.py; not /health/, which is answered before the session is loaded) with
the coaches' cookies, before and after the saves, is the floor of the same run.

The parts marked "in Django" run in `manage.py shell` (or in the test's own process);
the rest is the client side and needs no Django.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from http.client import HTTPConnection
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import run as harness

COACHES = 50
DURATION = 60
FAULTS = "coach-load-faults"
SECTION = "energy"
FIELD = "electricity_kwh_per_year"
FIRST_VALUE = 2000
PASSWORD = "bench-coach-load-2026"  # noqa: S105 - the throwaway database's coaches
INITIATIVE = "bench-coach-load"
WRK_SCRIPT = Path(__file__).resolve().parent / "coach_load.lua"
FLOOR_SECONDS = 10
# The login form allows 30 logins a minute from one address (ACCOUNT_RATE_LIMITS): past
# that it answers 429 and the coach waits for the window to move on.
LOGIN_WAIT = 65


# In Django ------------------------------------------------------------------------------


def make_coaches(count: int, *, residents: bool = False) -> list[dict[str, Any]]:
    """An initiative with `count` coaches, each assigned one household and its dossier.

    residents: each household also gets a resident with a confirmed e-mail address, so an
    advice report asked for it is mailed (the fault variant).
    """
    from allauth.account.models import EmailAddress
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from accounts.models import Membership, Organisation, User
    from accounts.roles import Role
    from dossier.models import Dossier, Dwelling, Household
    from dossier.services import dossier_create

    # One hash for all: hashing fifty passwords would take longer than the load itself.
    hashed = make_password(PASSWORD)
    coaches = []
    with transaction.atomic():
        initiative, _ = Organisation.objects.get_or_create(
            slug=INITIATIVE,
            defaults={"kind": Organisation.Kind.INITIATIVE, "name": "Bench coach load"},
        )
        start = Household.objects.filter(initiative=initiative).count()
        for n in range(start + 1, start + count + 1):
            email = f"coach-load-{n}@bench.example"
            user = User.objects.create(
                email=email, password=hashed, first_name="Coach", last_name=str(n)
            )
            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
            Membership.objects.create(user=user, organisation=initiative, role=Role.COACH)
            dwelling = Dwelling.objects.create(
                postcode="3731AB",
                house_number=n,
                street="Benchstraat",
                city="De Bilt",
                municipality_code="GM0310",
                dwelling_type="terraced",
                build_year=1965,
            )
            household = Household.objects.create(
                initiative=initiative, dwelling=dwelling, assigned_coach=user, name=f"Bench {n}"
            )
            if residents:
                resident = User.objects.create(
                    email=f"resident-{n}@bench.example", password=hashed, first_name="Bewoner"
                )
                EmailAddress.objects.create(
                    user=resident, email=resident.email, verified=True, primary=True
                )
                household.residents.add(resident)
            dossier = dossier_create(household=household)
            Dossier.objects.filter(pk=dossier.pk).update(**{FIELD: FIRST_VALUE})
            coaches.append({"email": email, "dossier": dossier.pk, **_state(dossier.pk)})
    return coaches


def _state(dossier: int) -> dict[str, int]:
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from dossier.models import Dossier, DossierSection

    row = DossierSection.objects.get(dossier_id=dossier, section=SECTION)
    return {
        "version": row.version,
        "value": getattr(Dossier.objects.get(pk=dossier), FIELD),
        # One audit entry per stored change of the topic: the history of its saves.
        "audit": LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(DossierSection),
            object_id=row.pk,
            action=LogEntry.Action.UPDATE,
        ).count(),
    }


def saves_found(coaches: list[dict[str, Any]]) -> list[dict[str, int]]:
    """For each coach, what the database holds now against what it held before the load."""
    found = []
    for coach in coaches:
        now = _state(coach["dossier"])
        found.append(
            {
                "dossier": coach["dossier"],
                "versions": now["version"] - coach["version"],
                "value": now["value"],
                "audit": now["audit"] - coach["audit"],
            }
        )
    return found


def make_coaches_main(count: int, residents: bool = False) -> None:
    print("BENCH-COACHES", json.dumps(make_coaches(count, residents=residents)))


def jobs_found(mail_dir: str, media_root: str) -> dict[str, Any]:
    """What became of the advice reports asked for during the run: made and mailed, once?

    Each report is two jobs: making its PDF, then mailing it. Once means one PDF file on
    disk per report (a run that died leaves none behind) and one mail with the report's
    Message-ID (the same on every attempt) in the mail folder.
    """
    from dossier.advice_reports import report_message_id
    from dossier.models import AdviceReport, ReportStatus

    mails = "".join(
        path.read_text(errors="replace") for path in Path(mail_dir).glob("*") if path.is_file()
    )
    pdf_files = sorted(str(p) for p in Path(media_root).rglob("*.pdf"))
    reports = []
    for report in AdviceReport.objects.order_by("pk"):
        reports.append(
            {
                "report": report.pk,
                "dossier": report.dossier_id,
                "status": report.status,
                "attempts": report.attempts,
                "pdf": bool(report.pdf) and str(Path(media_root) / report.pdf.name) in pdf_files,
                "mails": mails.count(f"Message-ID: {report_message_id(report)}"),
                "done": report.status == ReportStatus.DONE and report.sent_at is not None,
            }
        )
    return {"reports": reports, "pdf_files": len(pdf_files)}


def jobs_found_main(mail_dir: str, media_root: str) -> None:
    print("BENCH-JOBS", json.dumps(jobs_found(mail_dir, media_root)))


def saves_found_main(coaches_json: str) -> None:
    print("BENCH-SAVES", json.dumps(saves_found(json.loads(coaches_json))))


# The client ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """One logged-in coach, ready to save: what wrk's thread for this coach sends."""

    dossier: int
    cookie: str
    # The form's fields as the browser would send them, the CSRF token included.
    fields: dict[str, str]
    version: int

    @property
    def path(self) -> str:
        return f"/dossiers/{self.dossier}/{SECTION}/"


class _FormFields(HTMLParser):
    """The values a browser submits with one form: inputs, checked boxes, selects, textareas."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or ("name" not in a and tag != "option"):
            return
        kind = a.get("type", "text")
        if tag == "input" and kind not in ("submit", "button", "file"):
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[a["name"]] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select":
            self._select, self._first_option = a["name"], None
        elif tag == "option" and self._select is not None:
            if self._first_option is None:
                self._first_option = a.get("value", "")
                self.fields.setdefault(self._select, self._first_option)
            if "selected" in a:
                self.fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[self._textarea] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.fields[self._textarea] += data


def form_fields(page: str, form_id: str) -> dict[str, str]:
    parser = _FormFields(form_id)
    parser.feed(page)
    return parser.fields


def version_field() -> str:
    return f"s-{SECTION}-version"


def value_field() -> str:
    return f"s-{SECTION}-{FIELD}"


def log_in(port: int, email: str) -> SimpleCookie:
    """Log a coach in through the login form (no second step for coaches); return the jar."""
    deadline = time.monotonic() + LOGIN_WAIT
    while True:
        jar: SimpleCookie = SimpleCookie()
        conn = HTTPConnection(harness.HOST, port, timeout=harness.REQUEST_TIMEOUT)
        try:
            status, headers, page = harness.fetch(port, "GET", "/accounts/login/", connection=conn)
            harness.remember_cookies(jar, headers)
            token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
            if status != 200 or token is None:
                raise harness.BenchError(f"the login page answered {status} without a token")
            form = {"login": email, "password": PASSWORD, "csrfmiddlewaretoken": token[1].decode()}
            status, headers, _ = harness.fetch(
                port,
                "POST",
                "/accounts/login/",
                body=urlencode(form),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Cookie": harness.cookie_header(jar),
                },
                connection=conn,
            )
            harness.remember_cookies(jar, headers)
        finally:
            conn.close()
        if status == 302:
            jar.pop("messages", None)
            return jar
        if status != 429 or time.monotonic() > deadline:
            raise harness.BenchError(f"logging in as {email} answered {status}")
        time.sleep(2)


def open_topic(port: int, coach: dict[str, Any]) -> Client:
    """Log in and open the coach's topic as the visit page shows it; return the saver."""
    jar = log_in(port, coach["email"])
    path = f"/dossiers/{coach['dossier']}/{SECTION}/?mode=visit"
    status, headers, page = harness.fetch(
        port, "GET", path, headers={"Cookie": harness.cookie_header(jar)}
    )
    harness.remember_cookies(jar, headers)
    fields = form_fields(page.decode(), f"form-{SECTION}")
    if status != 200 or version_field() not in fields or value_field() not in fields:
        raise harness.BenchError(f"{path} answered {status} without the topic's form")
    version = int(fields.pop(version_field()))
    fields.pop(value_field())
    return Client(coach["dossier"], harness.cookie_header(jar), fields, version)


def _lua(value: Any) -> str:
    """A Lua literal of a string, number, bool, list or dict (JSON strings are Lua strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{json.dumps(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    return json.dumps(value, ensure_ascii=True)


def wrk_script(clients: list[Client], workdir: Path, *, floor: bool) -> Path:
    """The per-coach table and coach_load.lua, in one script for wrk."""
    coaches = []
    for client in clients:
        fixed = urlencode(client.fields).replace("%", "%%")
        body = f"{fixed}&{version_field()}=%d&{value_field()}=%d"
        coaches.append(
            {
                "path": client.path,
                "body": body,
                "version": client.version,
                "value": FIRST_VALUE,
                "pattern": f'name="{version_field()}" value="(%d+)"'.replace("-", "%-"),
                "headers": {
                    "Cookie": client.cookie,
                    "Content-Type": "application/x-www-form-urlencoded",
                    # What htmx sends with an autosave: the answer is the form alone.
                    "HX-Request": "true",
                    "HX-Target": f"form-{SECTION}",
                },
            }
        )
    script = workdir / ("coach_floor.lua" if floor else "coach_load_run.lua")
    script.write_text(
        f"coaches = {_lua(coaches)}\nfloor = {_lua(floor)}\n"
        f"floor_path = {_lua(harness.SESSION_FLOOR)}\ndofile({json.dumps(str(WRK_SCRIPT))})\n"
    )
    return script


def run_wrk(
    port: int, clients: list[Client], workdir: Path, seconds: float, *, floor: bool
) -> dict[str, Any]:
    """wrk with one thread and one connection per coach; returns its figures."""
    count = len(clients)
    output = subprocess.run(
        [
            "wrk",
            "--threads",
            str(count),
            "--connections",
            str(count),
            "--duration",
            f"{max(1, round(seconds))}s",
            "--timeout",
            f"{harness.REQUEST_TIMEOUT}s",
            "--script",
            str(wrk_script(clients, workdir, floor=floor)),
            f"http://{harness.HOST}:{port}/",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + harness.REQUEST_TIMEOUT + 60,
    ).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> dict[str, Any]:
    line = re.search(r"^BENCH-COACHES (.*)$", output, re.MULTILINE)
    if line is None:
        raise harness.BenchError(f"wrk printed no BENCH-COACHES line:\n{output}")
    pairs = dict(field.split("=", 1) for field in line[1].split())
    per_coach = {}
    for entry in pairs.pop("coaches").split(","):
        thread, saves, failures, last, sent = (int(part) for part in entry.split(":"))
        per_coach[thread] = {"saves": saves, "failures": failures, "last": last, "sent": sent}
    figures: dict[str, Any] = {key: int(value) for key, value in pairs.items()}
    # wrk numbers its threads from 1 in the order it made them, as the clients were given.
    figures["per_coach"] = [per_coach[n] for n in sorted(per_coach)]
    return figures


def both_floors(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The floor measured before and after the saves as one: other load on the machine
    moves a single ten-second floor a lot, and the saves run between the two."""
    rates = [run["requests"] / (run["duration_us"] / 1e6) for run in (before, after)]
    return {
        "requests": before["requests"] + after["requests"],
        "duration_us": before["duration_us"] + after["duration_us"],
        "p50_us": (before["p50_us"] + after["p50_us"]) / 2,
        "p99_us": max(before["p99_us"], after["p99_us"]),
        "status_errors": before["status_errors"] + after["status_errors"],
        "socket_errors": before["socket_errors"] + after["socket_errors"],
        "per_coach": [
            {"saves": a["saves"] + b["saves"], "failures": a["failures"] + b["failures"]}
            for a, b in zip(before["per_coach"], after["per_coach"], strict=True)
        ],
        "rates": [round(rate, 1) for rate in rates],
    }


def load(port: int, clients: list[Client], workdir: Path, seconds: float) -> dict[str, Any]:
    """The floor, the saves, the floor again; the figures and what each coach was answered."""
    floor_seconds = min(seconds, FLOOR_SECONDS)
    before = run_wrk(port, clients, workdir, floor_seconds, floor=True)
    saves = run_wrk(port, clients, workdir, seconds, floor=False)
    after = run_wrk(port, clients, workdir, floor_seconds, floor=True)
    return {"floor": both_floors(before, after), "saves": saves}


def compare(
    measured: dict[str, Any], found: list[dict[str, int]], clients: list[Client]
) -> dict[str, Any]:
    """The bench's figures: rates, latencies, errors, and saves made against saves found."""
    saves, floor = measured["saves"], measured["floor"]
    missing = []
    cut_off = 0
    for client, made, held in zip(clients, saves["per_coach"], found, strict=True):
        assert held["dossier"] == client.dossier
        answered = (made["saves"], made["saves"], made["last"] or FIRST_VALUE)
        # wrk stops at the end of the run with each coach's last save possibly sent but
        # not answered: the server may have stored it, and then it must be there whole.
        in_flight = (made["saves"] + 1, made["saves"] + 1, made["sent"])
        stored = (held["versions"], held["audit"], held["value"])
        if stored == in_flight and made["sent"] > made["last"]:
            cut_off += 1
        elif stored != answered:
            missing.append({"dossier": client.dossier, "made": made, "found": held})
    seconds = saves["duration_us"] / 1e6
    floor_rate = floor["requests"] / (floor["duration_us"] / 1e6)
    rate = saves["requests"] / seconds
    return {
        "coaches": len(clients),
        "seconds": round(seconds, 1),
        "requests": saves["requests"],
        "requests_per_second": round(rate, 1),
        "p50_ms": saves["p50_us"] / 1e3,
        "p99_ms": saves["p99_us"] / 1e3,
        "errors": saves["status_errors"] + saves["socket_errors"],
        "failed_saves": sum(made["failures"] for made in saves["per_coach"]),
        "saves_made": sum(made["saves"] for made in saves["per_coach"]),
        # Sent before wrk stopped, stored, but the answer was never read.
        "saves_cut_off": cut_off,
        "saves_found": sum(held["versions"] for held in found),
        "audit_entries_found": sum(held["audit"] for held in found),
        "coaches_with_missing_saves": missing,
        "floor_requests_per_second": round(floor_rate, 1),
        "floor_p50_ms": floor["p50_us"] / 1e3,
        "floor_errors": floor["status_errors"]
        + floor["socket_errors"]
        + sum(made["failures"] for made in floor["per_coach"]),
        "ratio_to_floor": round(rate / floor_rate, 3) if floor_rate else None,
        # The floor before and after the saves, when both were measured.
        "floor_rates": floor.get("rates", []),
    }


def ok(figures: dict[str, Any]) -> bool:
    return (
        figures["errors"] == 0
        and figures["failed_saves"] == 0
        and not figures["coaches_with_missing_saves"]
        and figures["saves_made"] + figures["saves_cut_off"]
        == figures["saves_found"]
        == figures["audit_entries_found"]
    )


def describe(figures: dict[str, Any]) -> str:
    differ = len(figures["coaches_with_missing_saves"])
    verdict = (
        "every save found" if ok(figures) else f"SAVES MISSING OR FAILED ({differ} coaches differ)"
    )
    return (
        f"coach-load ({figures['coaches']} coaches saving their energy topic at once for "
        f"{figures['seconds']:g} s, PostgreSQL): {figures['requests_per_second']:.0f} saves/s, "
        f"p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms, "
        f"{figures['errors']} errors, {figures['saves_made']} saves answered "
        f"(+{figures['saves_cut_off']} sent as the run ended), {figures['saves_found']} found "
        f"({figures['audit_entries_found']} audit entries), "
        f"{verdict}; floor ({harness.SESSION_FLOOR} with the coaches' sessions) "
        f"{figures['floor_requests_per_second']:.0f} req/s{_floor_parts(figures)}, "
        f"{figures['ratio_to_floor']:.3f}× floor"
    )


def _floor_parts(figures: dict[str, Any]) -> str:
    rates = figures.get("floor_rates") or []
    if len(rates) != 2:
        return ""
    return f" ({rates[0]:.0f} before the saves, {rates[1]:.0f} after)"


def measure(
    env: dict[str, str], workdir: Path, *, coaches: int, seconds: float, workers: int
) -> dict[str, Any] | None:
    """The whole benchmark on a throwaway PostgreSQL database; None without a server."""
    with harness.postgres_database(env) as pg_env:
        if pg_env is None:
            return None
        subprocess.run(
            [sys.executable, "manage.py", "createcachetable"],
            cwd=harness.ROOT,
            env=pg_env,
            check=True,
            timeout=harness.SETUP_TIMEOUT,
        )
        made = harness.run_in_shell(
            pg_env,
            f"from bench.coach_load import make_coaches_main; make_coaches_main({int(coaches)})",
            "BENCH-COACHES",
            timeout=harness.SETUP_TIMEOUT,
        )
        with harness.gunicorn(pg_env, workdir, workers) as server:
            clients = [open_topic(server.port, coach) for coach in made]
            measured = load(server.port, clients, workdir, seconds)
        found = harness.run_in_shell(
            pg_env,
            "from bench.coach_load import saves_found_main; "
            f"saves_found_main({json.dumps(json.dumps(made))})",
            "BENCH-SAVES",
            timeout=harness.SETUP_TIMEOUT,
        )
    return compare(measured, found, clients)


# The fault variant: a worker killed during the run --------------------------------------
#
# `bench/run.py coach-load-faults`: the same coaches and saves, with a Celery broker and
# worker. While they save, REPORTS of the coaches ask for an advice report of their
# dossier (made by a worker, then mailed to the resident: two queued jobs each). Once a
# report is being made, the whole worker is killed with SIGKILL (its main process and its
# pool child: a machine or container that goes), and a new worker (with beat) starts. The
# product's own recovery must finish every report: a report whose worker died holds a
# lease that is no longer renewed, and the sweep (when a worker starts, and every minute)
# has it made again. Afterwards every save must be in the database with its last value,
# as in coach-load, and every report made and mailed exactly once.

# The bench's own Redis database, emptied before the run (BENCH_BROKER_URL to change it).
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
REPORTS = 10
# The lease of a report being made (settings.JOB_LEASE_SECONDS, two minutes in
# production): how long after its worker died the sweep takes a report for lost. Short
# here, so the recovery fits in the bench; the path is the product's own.
JOB_LEASE_SECONDS = 15
# How long after the load the bench waits for the reports: a lease plus a minute of beat,
# with room for making the reports on a busy machine.
JOBS_TIMEOUT = 300
WORKER_START_TIMEOUT = 90
# Seconds between killing the worker and starting the new one.
RESTART_AFTER = 2


def fault_environment(pg_env: dict[str, str], workdir: Path) -> dict[str, str]:
    """The server's and the workers' settings: the broker, mail to files, a short lease."""
    return {
        **pg_env,
        "CELERY_BROKER_URL": BROKER,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_URL": f"filemail://{workdir / 'mail'}",
        "MEDIA_ROOT": str(workdir / "media"),
        "JOB_LEASE_SECONDS": str(JOB_LEASE_SECONDS),
        "SITE_URL": "https://woningdossier.example.nl",
    }


def _stop_group(process: subprocess.Popen[bytes], *, grace: float = 15) -> None:
    """Stop a process started in a session of its own, and everything it started."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(grace)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def start_worker(
    env: dict[str, str], workdir: Path, name: str, *, beat: bool
) -> subprocess.Popen[bytes]:
    """`celery -A config worker` (prefork, one child) in a session of its own, once ready."""
    log_path = workdir / f"worker-{name}.log"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=prefork",
        "--concurrency=1",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
        f"--hostname=bench-{name}@%h",
    ]
    if beat:
        command += ["--beat", f"--schedule={workdir / 'beat-schedule'}"]
    with log_path.open("wb") as log:
        # Its own process group: SIGKILL to the group takes the main process and its pool
        # child at once, and nothing else.
        process = subprocess.Popen(
            command,
            cwd=harness.ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while b" ready." not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop_group(process)
            tail = log_path.read_text(errors="replace")[-2000:]
            raise harness.BenchError(f"the worker {name} did not start:\n{tail}")
        time.sleep(0.5)
    return process


def kill_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the whole worker: its main process and its pool child."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def report_states(database_url: str) -> list[tuple[str, bool]]:
    """Each report's status and whether it was mailed, straight from the database."""
    import psycopg2

    with psycopg2.connect(database_url, connect_timeout=5) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT status, sent_at IS NOT NULL FROM dossier_advicereport")
        rows = cursor.fetchall()
    conn.close()
    return rows


def ask_for_report(port: int, client: Client) -> int:
    """The coach asks for an advice report, by e-mail, as the reports page does."""
    body = urlencode(
        {
            "csrfmiddlewaretoken": client.fields["csrfmiddlewaretoken"],
            "delivery": "email",
            "summary": "",
        }
    )
    status, _, _ = harness.fetch(
        port,
        "POST",
        f"/dossiers/{client.dossier}/rapporten/",
        body=body,
        headers={
            "Cookie": client.cookie,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    return status


def load_with_a_fault(
    port: int,
    clients: list[Client],
    workdir: Path,
    seconds: float,
    *,
    env: dict[str, str],
    worker: subprocess.Popen[bytes],
) -> tuple[dict[str, Any], dict[str, Any], subprocess.Popen[bytes]]:
    """The saves, with reports asked for and the worker killed while one is made.

    Returns the load's figures, what happened to the jobs, and the new worker.
    """
    floor = run_wrk(port, clients, workdir, min(seconds, FLOOR_SECONDS), floor=True)
    result: dict[str, Any] = {}
    saving = threading.Thread(
        target=lambda: result.update(saves=run_wrk(port, clients, workdir, seconds, floor=False))
    )
    started = time.monotonic()
    saving.start()
    askers = clients[:REPORTS]
    asked: list[int] = []
    # Reports are asked for through the first half of the run; the worker is killed once
    # a quarter has passed and a report is being made (at the latest halfway through),
    # so that some reports wait in the queue behind it and some come after.
    every = seconds / 2 / max(1, len(askers))
    killed_at = running_at_kill = None
    new_worker = worker
    while saving.is_alive():
        elapsed = time.monotonic() - started
        if len(asked) < len(askers) and elapsed >= 1 + len(asked) * every:
            client = askers[len(asked)]
            status = ask_for_report(port, client)
            if status != 302:
                raise harness.BenchError(f"asking for a report answered {status}")
            asked.append(client.dossier)
        if killed_at is None and asked:
            running = sum(
                1 for status, _ in report_states(env["DATABASE_URL"]) if status == "running"
            )
            if (running and elapsed >= seconds / 4) or elapsed >= seconds / 2:
                kill_worker(worker)
                killed_at, running_at_kill = elapsed, running
                time.sleep(RESTART_AFTER)
                new_worker = start_worker(env, workdir, "b", beat=True)
        time.sleep(0.25)
    saving.join()
    if "saves" not in result:
        raise harness.BenchError("wrk ended without figures")
    # The jobs: every report asked for made and mailed, or the timeout.
    deadline = time.monotonic() + JOBS_TIMEOUT
    while time.monotonic() < deadline:
        states = report_states(env["DATABASE_URL"])
        if len(states) >= len(asked) and all(s == "done" and sent for s, sent in states):
            break
        time.sleep(1)
    finished = time.monotonic() - started
    # A moment for a second run of a job, if the product let one happen, to show.
    time.sleep(3)
    jobs = {
        "reports_asked": len(asked),
        "killed_at_s": None if killed_at is None else round(killed_at, 1),
        "running_at_kill": running_at_kill,
        "restarted_after_s": RESTART_AFTER,
        "jobs_done_after_kill_s": None if killed_at is None else round(finished - killed_at, 1),
        "job_lease_s": JOB_LEASE_SECONDS,
    }
    return {"floor": floor, "saves": result["saves"]}, jobs, new_worker


def jobs_ok(jobs: dict[str, Any]) -> bool:
    reports = jobs.get("reports", [])
    return (
        jobs.get("killed_at_s") is not None
        and len(reports) == jobs["reports_asked"] > 0
        and all(r["done"] and r["pdf"] and r["mails"] == 1 for r in reports)
        and jobs.get("pdf_files") == len(reports)
    )


def faults_ok(figures: dict[str, Any]) -> bool:
    return ok(figures) and jobs_ok(figures["jobs"])


def describe_faults(figures: dict[str, Any]) -> str:
    jobs = figures["jobs"]
    reports = jobs.get("reports", [])
    once = sum(1 for r in reports if r["done"] and r["pdf"] and r["mails"] == 1)
    verdict = "every job done once" if jobs_ok(jobs) else "JOBS LOST OR DONE TWICE"
    line = describe(figures).replace("coach-load (", f"{FAULTS} (", 1)
    if jobs.get("killed_at_s") is None:
        return f"{line}; NO WORKER KILLED, {verdict}"
    return (
        f"{line}; one worker killed (SIGKILL, whole worker) {jobs['killed_at_s']:g} s into "
        f"the run with {jobs['running_at_kill']} report(s) being made, a new one started "
        f"{jobs['restarted_after_s']} s later: {jobs['reports_asked']} advice reports asked "
        f"for, {once} made and mailed exactly once ({jobs['pdf_files']} PDFs, "
        f"{sum(r['mails'] for r in reports)} mails), all done "
        f"{jobs['jobs_done_after_kill_s']:g} s after the kill (lease {jobs['job_lease_s']} s); "
        f"{verdict}"
    )


def flush_broker() -> None:
    import redis

    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=3).flushdb()
    except redis.RedisError as error:
        raise harness.BenchError(f"no Redis at {BROKER}: {error}") from None


def measure_faults(
    env: dict[str, str], workdir: Path, *, coaches: int, seconds: float, workers: int
) -> dict[str, Any] | None:
    """The fault variant on a throwaway PostgreSQL database; None without a server."""
    with harness.postgres_database(env) as pg_env:
        if pg_env is None:
            return None
        flush_broker()
        fault_env = fault_environment(pg_env, workdir)
        (workdir / "mail").mkdir(exist_ok=True)
        made = harness.run_in_shell(
            fault_env,
            "from bench.coach_load import make_coaches_main; "
            f"make_coaches_main({int(coaches)}, residents=True)",
            "BENCH-COACHES",
            timeout=harness.SETUP_TIMEOUT,
        )
        worker = start_worker(fault_env, workdir, "a", beat=False)
        try:
            with harness.gunicorn(fault_env, workdir, workers) as server:
                clients = [open_topic(server.port, coach) for coach in made]
                measured, jobs, worker = load_with_a_fault(
                    server.port, clients, workdir, seconds, env=fault_env, worker=worker
                )
        finally:
            _stop_group(worker)
            flush_broker()
        found = harness.run_in_shell(
            fault_env,
            "from bench.coach_load import saves_found_main; "
            f"saves_found_main({json.dumps(json.dumps(made))})",
            "BENCH-SAVES",
            timeout=harness.SETUP_TIMEOUT,
        )
        jobs.update(
            harness.run_in_shell(
                fault_env,
                "from bench.coach_load import jobs_found_main; "
                f"jobs_found_main({str(workdir / 'mail')!r}, {fault_env['MEDIA_ROOT']!r})",
                "BENCH-JOBS",
                timeout=harness.SETUP_TIMEOUT,
            )
        )
    figures = compare(measured, found, clients)
    figures["jobs"] = jobs
    return figures
