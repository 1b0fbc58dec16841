"""Load-test the application over loopback and compare every page with the floor.

`make bench` runs this file. It builds a throwaway SQLite database with the demo data in a
temporary directory, starts gunicorn on 127.0.0.1, logs in through the real login form and
measures each entry of BENCHMARKS with the same server, worker count and client. Figures go
to the terminal and to bench/results/latest.json; bench/README.md explains how to read them.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from http.client import HTTPConnection, HTTPException, HTTPMessage
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.data import DEFAULT_PASSWORD, LOGINS  # noqa: E402 - needs ROOT on the path

# Traffic goes to this address only: the bench must never load anything but its own server.
HOST = "127.0.0.1"
RESULTS = ROOT / "bench" / "results" / "latest.json"
WRK_REPORT = ROOT / "bench" / "report.lua"
SETUP_TIMEOUT = 300
START_TIMEOUT = 30
# A request counts as failed only when it takes longer than gunicorn would let a worker
# run (its default timeout). On SQLite a writing request holds the write lock for its
# whole length (an IMMEDIATE transaction, config/middleware.py), so one worker can wait
# several seconds for another: that is latency, not failure.
REQUEST_TIMEOUT = 30


@dataclass(frozen=True)
class Benchmark:
    name: str
    # May hold "{dossier}": the demo dossier enlarged for the bench (see prepare_database).
    path: str
    # A role of demo.data.LOGINS; None requests the page anonymously.
    role: str | None = None
    # The benchmark this one is divided by; None for the first one, the bare floor.
    floor: str | None = None
    # A JSON body makes the request a POST (an API operation) instead of a GET.
    body: str | None = None


# A corner house with its gas use and a few known parts: every measure is computed.
CALCULATE_BODY = json.dumps(
    {
        "dwelling_type": "corner",
        "build_year": 1965,
        "floor_area_m2": 120,
        "gas_m3_per_year": 1600,
        "components": {"roof": {"state": "none"}, "glazing_living": {"state": "partial"}},
    }
)


# The logged-in floor (bench/views.py session_floor): the whole middleware stack with a
# session and the user loaded, then a tiny answer. Routed only with BENCH_VIEWS=1.
SESSION_FLOOR = "/bench/floor/"

# The first entry is the floor: the cheapest request the stack answers (a bare view, no
# session, no database). Every other result is read as a fraction of it.
BENCHMARKS = [
    Benchmark("floor", "/health/"),
    # A bare view with a session: what every logged-in request pays before its view runs
    # (the whole middleware stack: session, user, the session activity of
    # allauth.usersessions). Not /health/, which is answered before the session middleware;
    # a bench-only view (bench/views.py, routed only with BENCH_VIEWS=1).
    Benchmark("floor-logged-in", SESSION_FLOOR, role="coordinator"),
    Benchmark("dashboard", "/overzicht/", role="coordinator"),
    # The coach's visit page of a dossier with 40 measures, 30 messages and 20 photos,
    # against its own floor: the same template and context, computed once per worker
    # (bench/views.py, routed only with BENCH_VIEWS=1). The ratio is what the page's
    # queries and access checks cost on top of rendering it.
    Benchmark("dossier-floor", "/bench/dossiers/{dossier}/bezoek/", role="coach"),
    Benchmark("dossier", "/dossiers/{dossier}/bezoek/", role="coach", floor="dossier-floor"),
    # The public calculation endpoint (anonymous, stores nothing) against the bare floor.
    Benchmark("calculate", "/api/v1/advice/calculate/", body=CALCULATE_BODY),
]


# Measured in-process, not over HTTP: making an advice report end to end against
# WeasyPrint rendering the finished HTML alone (bench/report.py). Target: at most 1.3.
REPORT = "report"
REPORT_TARGET = 1.3
# Measured in-process too: the NIP's RVO monitoring export of 10,000 homes against bare
# xlsxwriter writing the same rows, and its peak memory at 10,000 and 100,000 homes
# (bench/nip_export.py). Target: at most 1.5, and memory that does not grow with the rows.
NIP_EXPORT = "nip-export"
NIP_EXPORT_TARGET = 1.5
# Peak memory at 100,000 homes over the peak at 10,000: flat is about 1×.
NIP_EXPORT_MEMORY_TARGET = 1.5
# The data platform on PostgreSQL (bench/dp_aggregate.py, bench/dp_import.py): postcode-6
# aggregation of 1,000,000 synthetic dwellings against a bare GROUP BY of the same rows
# (target: at most 1.5), and the open-data import rate against a bare COPY of the same
# file (target: at least 0.5). They need a PostgreSQL server: BENCH_POSTGRES_URL, by
# default the local one; a throwaway database is made and dropped.
DP_AGGREGATE = "dp-aggregate"
DP_AGGREGATE_TARGET = 1.5
DP_IMPORT = "dp-import"
DP_IMPORT_TARGET = 0.5
DP_TIMEOUT = 3600
# Coaches saving a dossier topic at once on PostgreSQL, with a server of its own
# (bench/coach_load.py): no request may fail and every save must be in the database.
COACH_LOAD = "coach-load"
# The same with a Celery worker (Redis, BENCH_BROKER_URL) killed during the run: no save
# lost, every queued job done once. Only when named: it needs Redis as well.
COACH_LOAD_FAULTS = "coach-load-faults"
# The benchmarks that are not pages of the shared server.
IN_PROCESS = frozenset({REPORT, NIP_EXPORT, DP_AGGREGATE, DP_IMPORT, COACH_LOAD, COACH_LOAD_FAULTS})


@dataclass(frozen=True)
class Options:
    workers: int
    connections: int
    duration: float
    warmup: float
    client: str
    # Advice reports to time in-process; 0 leaves the report benchmark out.
    report_runs: int = 0
    # Whether to time the NIP's monitoring export in-process.
    nip_export: bool = False
    # Which data-platform benchmarks to run on PostgreSQL.
    dataplatform: tuple[str, ...] = ()
    # Coaches of the coach-load benchmark (0 leaves it out) and its seconds of load.
    coaches: int = 0
    coach_load_duration: float = 60
    # Coaches of the fault variant (0 leaves it out); it runs only when named.
    fault_coaches: int = 0


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    # Responses with an error status plus connections that failed.
    errors: int

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Result:
    name: str
    path: str
    role: str | None
    # What the page answered to one request before the load; anything but 200 means the
    # figures would measure an error page, so no load is sent.
    status: int
    requests: int = 0
    requests_per_second: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    errors: int = 0
    # Throughput as a fraction of the floor's: the bare floor's, or the benchmark's own.
    ratio_to_floor: float | None = None
    floor: str | None = None
    ratio_to_bare_floor: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.errors == 0


class BenchError(Exception):
    pass


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of values; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def bench_environment(workdir: Path) -> dict[str, str]:
    """The environment of every process the bench starts: the embedded default, DEBUG off."""
    env = dict(os.environ)
    # A value left in the shell must not point the bench at another database or broker.
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_ENV": "development",
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": HOST,
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "CACHE_URL": "dbcache://django_cache",
            "CELERY_BROKER_URL": "",
            "EMAIL_URL": "consolemail://",
            "STATIC_ROOT": str(workdir / "static"),
            "STATIC_MANIFEST": "0",
            "MEDIA_ROOT": str(workdir / "media"),
            "LOG_LEVEL": "WARNING",
            # Routes the floor views of bench/views.py in this server only.
            "BENCH_VIEWS": "1",
            # One client sends every request: the public endpoint's rate limit would
            # measure the 429 page instead of the calculation.
            "CALCULATE_THROTTLE_RATE": "100000000/second",
        }
    )
    return env


def prepare_database(env: dict[str, str]) -> dict[str, str]:
    """Build the demo database; return the values of the path placeholders."""
    for command in (
        ["migrate", "--no-input"],
        ["createcachetable"],
        ["seed_demo", "--quiet"],
        ["collectstatic", "--no-input"],
    ):
        subprocess.run(
            [sys.executable, "manage.py", *command, "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=SETUP_TIMEOUT,
        )
    enlarge = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "--verbosity",
            "0",
            "--command",
            "from bench.views import enlarge_demo_dossier; "
            "print('BENCH-DOSSIER', enlarge_demo_dossier())",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=SETUP_TIMEOUT,
        capture_output=True,
        text=True,
    )
    found = re.search(r"^BENCH-DOSSIER (\d+)$", enlarge.stdout, re.MULTILINE)
    if found is None:
        raise BenchError(f"enlarging the demo dossier printed no id:\n{enlarge.stdout}")
    return {"dossier": found[1]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Server:
    port: int
    log: Path

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_since(self, offset: int, lines: int = 30) -> str:
        with self.log.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def gunicorn(env: dict[str, str], workdir: Path, workers: int) -> Iterator[Server]:
    """Run gunicorn on a free loopback port for the duration of the block."""
    port = free_port()
    log_path = workdir / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"{HOST}:{port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
                # The default control socket lives in the home directory and would collide
                # with a gunicorn already running there.
                "--no-control-socket",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so stopping it can never reach another process.
            start_new_session=True,
        )
        try:
            wait_until_serving(server, port, log_path)
            yield Server(port, log_path)
        finally:
            stop(server)


def wait_until_serving(server: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"gunicorn exited:\n{log_path.read_text(errors='replace')[-2000:]}")
        try:
            status, _, _ = fetch(port, "GET", "/health/")
        except (OSError, HTTPException):
            time.sleep(0.1)
            continue
        if status == 200:
            return
        raise BenchError(f"/health/ answered {status}:\n{log_path.read_text(errors='replace')}")
    raise BenchError(f"gunicorn did not answer within {START_TIMEOUT} s")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def fetch(
    port: int,
    method: str,
    path: str,
    *,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    connection: HTTPConnection | None = None,
) -> tuple[int, HTTPMessage, bytes]:
    conn = connection or HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        if connection is None:
            conn.close()


def remember_cookies(jar: SimpleCookie, headers: HTTPMessage) -> None:
    for header in headers.get_all("Set-Cookie") or []:
        jar.load(header)


def cookie_header(jar: SimpleCookie) -> str:
    # Django deletes a cookie by sending it empty with max-age=0; a browser drops it.
    return "; ".join(
        f"{name}={morsel.value}"
        for name, morsel in sorted(jar.items())
        if morsel.value and morsel["max-age"] != "0"
    )


@functools.cache
def login(port: int, role: str) -> str:
    """Log in through the real login form as the demo user of role; return a Cookie header."""
    email = dict(LOGINS)[role]
    jar: SimpleCookie = SimpleCookie()
    conn = HTTPConnection(HOST, port, timeout=10)
    try:
        status, headers, page = fetch(port, "GET", "/accounts/login/", connection=conn)
        remember_cookies(jar, headers)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or token is None:
            raise BenchError(f"the login page answered {status} without a CSRF token")
        form = {
            "login": email,
            "password": DEFAULT_PASSWORD,
            "csrfmiddlewaretoken": token[1].decode(),
        }
        status, headers, _ = fetch(
            port,
            "POST",
            "/accounts/login/",
            body=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": cookie_header(jar),
            },
            connection=conn,
        )
        remember_cookies(jar, headers)
        if status == 302 and headers.get("Location", "").endswith(MFA_AUTHENTICATE):
            status, headers = second_step(port, jar, conn)
    finally:
        conn.close()
    if status != 302:
        raise BenchError(f"logging in as {email} answered {status} instead of a redirect")
    # The one-off "signed in" message rides in its own cookie until a page shows it; sent
    # with every measured request it would be rendered (and re-signed) every time.
    jar.pop("messages", None)
    return cookie_header(jar)


MFA_AUTHENTICATE = "/accounts/2fa/authenticate/"


def second_step(port: int, jar: SimpleCookie, conn: HTTPConnection) -> tuple[int, Any]:
    """The code of the demo's authenticator app (accounts.mfa), as `manage.py demo_code` shows."""
    status, headers, page = fetch(
        port, "GET", MFA_AUTHENTICATE, headers={"Cookie": cookie_header(jar)}, connection=conn
    )
    remember_cookies(jar, headers)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or token is None:
        raise BenchError(f"the second-step page answered {status} without a CSRF token")
    shown = subprocess.run(
        [sys.executable, "manage.py", "demo_code"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    form = {"code": shown.stdout.split()[0], "csrfmiddlewaretoken": token[1].decode()}
    status, headers, _ = fetch(
        port,
        "POST",
        MFA_AUTHENTICATE,
        body=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie_header(jar),
        },
        connection=conn,
    )
    remember_cookies(jar, headers)
    return status, headers


def wrk_script(body: str | None, workdir: Path) -> Path:
    """report.lua, preceded for a POST by the request wrk sends (still Lua-free per request)."""
    if body is None:
        return WRK_REPORT
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"dofile({json.dumps(str(WRK_REPORT))})\n"
    )
    return script


def load_with_wrk(
    port: int,
    path: str,
    cookie: str | None,
    *,
    connections: int,
    seconds: float,
    body: str | None = None,
) -> Measurement:
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--timeout",
        f"{REQUEST_TIMEOUT}s",
        "--script",
        str(wrk_script(body, Path(tempfile.gettempdir()))),
    ]
    if cookie:
        command += ["--header", f"Cookie: {cookie}"]
    command.append(f"http://{HOST}:{port}{path}")
    output = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + REQUEST_TIMEOUT + 30,
    ).stdout
    return parse_wrk_report(output)


def parse_wrk_report(output: str) -> Measurement:
    line = re.search(r"^BENCH-RESULT (.*)$", output, re.MULTILINE)
    if line is None:
        raise BenchError(f"wrk printed no BENCH-RESULT line:\n{output}")
    figures = {key: int(value) for key, value in (f.split("=") for f in line[1].split())}
    return Measurement(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1e3,
        p95_ms=figures["p95_us"] / 1e3,
        errors=figures["status_errors"] + figures["socket_errors"],
    )


def load_with_python(
    port: int,
    path: str,
    cookie: str | None,
    *,
    connections: int,
    seconds: float,
    body: str | None = None,
) -> Measurement:
    """A small closed-loop client: connections threads, each sending one request at a time."""
    headers = {"Cookie": cookie} if cookie else {}
    method = "GET" if body is None else "POST"
    if body is not None:
        headers["Content-Type"] = "application/json"
    deadline = time.perf_counter() + seconds

    def client() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        # http.client reopens the connection by itself when the server closes it.
        conn = HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, _, _ = fetch(
                    port, method, path, body=body, headers=headers, connection=conn
                )
            except (OSError, HTTPException):
                errors += 1
                conn.close()
                continue
            latencies.append(time.perf_counter() - started)
            errors += status != 200
        conn.close()
        return latencies, errors

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=connections) as pool:
        outcomes = list(pool.map(lambda _: client(), range(connections)))
    elapsed = time.perf_counter() - started
    latencies = [latency for batch, _ in outcomes for latency in batch]
    return Measurement(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=percentile(latencies, 0.50) * 1e3,
        p95_ms=percentile(latencies, 0.95) * 1e3,
        errors=sum(errors for _, errors in outcomes),
    )


LOADERS = {"wrk": load_with_wrk, "python": load_with_python}


def run_benchmark(
    benchmark: Benchmark, server: Server, options: Options, placeholders: dict[str, str]
) -> Result:
    port = server.port
    path = benchmark.path.format(**placeholders)
    benchmark = replace(benchmark, path=path)
    cookie = login(port, benchmark.role) if benchmark.role else None
    log_offset = server.log_size()
    request_headers = {"Cookie": cookie} if cookie else {}
    if benchmark.body is not None:
        request_headers["Content-Type"] = "application/json"
    status, headers, _ = fetch(
        port,
        "GET" if benchmark.body is None else "POST",
        benchmark.path,
        body=benchmark.body,
        headers=request_headers,
    )
    if status != 200:
        where = f" (Location: {headers['Location']})" if headers["Location"] else ""
        print(f"{benchmark.name}: {benchmark.path} answered {status}{where}; server log:")
        print(server.log_since(log_offset))
        return Result(
            benchmark.name, benchmark.path, benchmark.role, status=status, floor=benchmark.floor
        )
    if headers["X-Bench-Template-Queries"] not in (None, "0"):
        print(
            f"{benchmark.name}: the template makes {headers['X-Bench-Template-Queries']} "
            "queries of its own on every request, so the floor includes them"
        )
    load = LOADERS[options.client]
    # Warm-up: the first requests of each worker compile templates and open the database.
    load_with_python(
        port,
        benchmark.path,
        cookie,
        connections=options.connections,
        seconds=options.warmup,
        body=benchmark.body,
    )
    measured = load(
        port,
        benchmark.path,
        cookie,
        connections=options.connections,
        seconds=options.duration,
        body=benchmark.body,
    )
    return Result(
        benchmark.name,
        benchmark.path,
        benchmark.role,
        status=status,
        requests=measured.requests,
        requests_per_second=round(measured.requests_per_second, 1),
        p50_ms=round(measured.p50_ms, 2),
        p95_ms=round(measured.p95_ms, 2),
        errors=measured.errors,
        floor=benchmark.floor,
    )


def with_ratios(results: list[Result]) -> list[Result]:
    """Each result with its throughput as a fraction of its floor's (by default the first)."""
    by_name = {result.name: result.requests_per_second for result in results}
    bare = results[0].requests_per_second

    def ratio(value: float | None, floor: float | None) -> float | None:
        return round(value / floor, 3) if floor and value is not None else None

    return [
        replace(
            result,
            ratio_to_floor=ratio(
                result.requests_per_second,
                by_name.get(result.floor) if result.floor else bare,
            ),
            ratio_to_bare_floor=(ratio(result.requests_per_second, bare) if result.floor else None),
        )
        for result in results
    ]


def describe(result: Result) -> str:
    who = f" as {result.role}" if result.role else ""
    head = f"{result.name} ({result.path}{who})"
    if result.requests_per_second is None:
        return f"{head}: not measured, the page answered {result.status}"
    line = (
        f"{head}: {result.requests_per_second:.0f} req/s, p50 {result.p50_ms:.1f} ms, "
        f"p95 {result.p95_ms:.1f} ms"
    )
    if result.ratio_to_floor is not None:
        line += f", {result.ratio_to_floor:.2f}× {result.floor or 'floor'}"
    if result.ratio_to_bare_floor is not None:
        line += f" ({result.ratio_to_bare_floor:.2f}× floor)"
    if result.errors:
        line += f", {result.errors} failed requests (figures not comparable)"
    return line


def write_results(
    results: list[Result],
    options: Options,
    report: dict[str, Any] | None = None,
    nip_export: dict[str, Any] | None = None,
    dataplatform: dict[str, Any] | None = None,
    coach_load: dict[str, Any] | None = None,
    coach_load_faults: dict[str, Any] | None = None,
) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "server": {"software": "gunicorn", "worker_class": "sync", "workers": options.workers},
        "options": asdict(options),
        "floor": results[0].name if results else None,
        "results": [asdict(result) for result in results],
        REPORT: report,
        NIP_EXPORT: nip_export,
        **(dataplatform or {}),
        COACH_LOAD: coach_load,
        COACH_LOAD_FAULTS: coach_load_faults,
    }
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def run_report_benchmark(env: dict[str, str], dossier: str, runs: int) -> dict[str, Any]:
    return run_in_shell(
        env,
        f"from bench.report import main; main({int(dossier)}, {int(runs)})",
        "BENCH-REPORT",
        timeout=SETUP_TIMEOUT,
    )


def run_nip_export_benchmark(env: dict[str, str]) -> dict[str, Any]:
    return run_in_shell(
        env, "from bench.nip_export import main; main()", "BENCH-NIP-EXPORT", timeout=SETUP_TIMEOUT
    )


def describe_nip_export(figures: dict[str, Any]) -> str:
    speed = "within" if figures["ratio"] <= NIP_EXPORT_TARGET else "ABOVE"
    memory = "flat" if figures["memory_ratio"] <= NIP_EXPORT_MEMORY_TARGET else "GROWING"
    return (
        f"{NIP_EXPORT} (RVO monitoring XLSX of {figures['homes']:,} homes, median of "
        f"{figures['runs']}): {figures['export_s'] * 1000:.0f} ms, bare xlsxwriter "
        f"{figures['xlsxwriter_s'] * 1000:.0f} ms, {figures['ratio']:.2f}× ({speed} the "
        f"target of {NIP_EXPORT_TARGET}×), {figures['queries']} queries; peak memory "
        f"{figures['peak_kib']:,} KiB at {figures['homes']:,} homes and "
        f"{figures['peak_large_kib']:,} KiB at {figures['large_homes']:,}, "
        f"{figures['memory_ratio']:.2f}× ({memory})"
    )


@contextmanager
def postgres_database(env: dict[str, str]) -> Iterator[dict[str, str] | None]:
    """A throwaway, migrated PostgreSQL database for the data-platform benchmarks.

    Yields the environment pointing at it, or None (with a message) when no PostgreSQL
    server answers; the database is dropped afterwards.
    """
    import psycopg2
    from psycopg2 import sql

    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"woningdossier_bench_{os.getpid()}"
    try:
        admin = psycopg2.connect(server, connect_timeout=5)
    except psycopg2.OperationalError as error:
        print(f"data-platform benchmarks skipped: no PostgreSQL at {server} ({error})".strip())
        yield None
        return
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = server.rsplit("/", 1)[0]
    pg_env = {**env, "DATABASE_URL": f"{base}/{name}"}
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "--verbosity", "0"],
            cwd=ROOT,
            env=pg_env,
            check=True,
            timeout=SETUP_TIMEOUT,
        )
        yield pg_env
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        admin.close()


def run_in_shell(
    env: dict[str, str], code: str, marker: str, *, timeout: float = DP_TIMEOUT
) -> dict[str, Any]:
    """Run `code` in `manage.py shell` and read the JSON it prints after `marker`."""
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "--verbosity",
            "0",
            "--command",
            code,
        ],
        cwd=ROOT,
        env=env,
        timeout=timeout,
        capture_output=True,
        text=True,
    )
    found = re.search(rf"^{marker} (.+)$", done.stdout, re.MULTILINE)
    if done.returncode or found is None:
        raise BenchError(f"{code} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(found[1])


def run_dataplatform_benchmarks(env: dict[str, str], names: tuple[str, ...]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with postgres_database(env) as pg_env:
        if pg_env is None:
            return figures
        if DP_IMPORT in names:
            figures[DP_IMPORT] = run_in_shell(
                pg_env, "from bench.dp_import import main; main()", "BENCH-DP-IMPORT"
            )
        if DP_AGGREGATE in names:
            figures[DP_AGGREGATE] = run_in_shell(
                pg_env, "from bench.dp_aggregate import main; main()", "BENCH-DP-AGGREGATE"
            )
    return figures


def describe_dp_aggregate(figures: dict[str, Any]) -> str:
    verdict = "within" if figures["ratio"] <= DP_AGGREGATE_TARGET else "ABOVE"
    return (
        f"{DP_AGGREGATE} (postcode-6 aggregation of {figures['dwellings']:,} dwellings in "
        f"{figures['postcodes']:,} postcodes, PostgreSQL): {figures['aggregate_s']:.2f} s, "
        f"bare GROUP BY of the same rows {figures['floor_s']:.2f} s, {figures['ratio']:.2f}× "
        f"({verdict} the target of {DP_AGGREGATE_TARGET}×); the same bare count over the "
        f"joined dossier tables {figures['joined_floor_s']:.2f} s; suppression "
        f"{figures['suppression_s']:.2f} s; a whole publication {figures['publication_s']:.2f} s; "
        f"the nightly recount of every household's row {figures['check_s']:.1f} s"
    )


def describe_dp_import(figures: dict[str, Any]) -> str:
    verdict = "within" if figures["ratio"] >= DP_IMPORT_TARGET else "BELOW"
    return (
        f"{DP_IMPORT} (EP-Online file of {figures['rows']:,} rows, PostgreSQL): "
        f"{figures['import_rows_per_s']:,.0f} rows/s, bare COPY "
        f"{figures['copy_rows_per_s']:,.0f} rows/s, {figures['ratio']:.2f}× ({verdict} the "
        f"target of {DP_IMPORT_TARGET}×)"
    )


def run_coach_load(env: dict[str, str], workdir: Path, options: Options) -> dict[str, Any] | None:
    """Coaches saving at once on a throwaway PostgreSQL database; None without a server."""
    # Imported here: bench.coach_load imports this file as a module of its own.
    from bench import coach_load

    try:
        return coach_load.measure(
            env,
            workdir,
            coaches=options.coaches,
            seconds=options.coach_load_duration,
            workers=options.workers,
        )
    except coach_load.harness.BenchError as error:
        raise BenchError(str(error)) from None


def run_coach_load_faults(
    env: dict[str, str], workdir: Path, options: Options
) -> dict[str, Any] | None:
    """The coaches saving while a worker is killed; None without a PostgreSQL server."""
    from bench import coach_load

    try:
        return coach_load.measure_faults(
            env,
            workdir,
            coaches=options.fault_coaches,
            seconds=options.coach_load_duration,
            workers=options.workers,
        )
    except coach_load.harness.BenchError as error:
        raise BenchError(str(error)) from None


def coach_load_ok(figures: dict[str, Any]) -> bool:
    from bench import coach_load

    return coach_load.ok(figures)


def describe_coach_load(figures: dict[str, Any]) -> str:
    from bench import coach_load

    return coach_load.describe(figures)


def describe_report(report: dict[str, Any]) -> str:
    verdict = "within" if report["ratio"] <= REPORT_TARGET else "ABOVE"
    return (
        f"{REPORT} (advice report of {report['pages']} pages, median of {report['runs']}): "
        f"{report['report_s'] * 1000:.0f} ms end to end, WeasyPrint alone "
        f"{report['weasyprint_s'] * 1000:.0f} ms, {report['ratio']:.2f}× "
        f"({verdict} the target of {REPORT_TARGET}×)"
    )


def selected(names: Sequence[str]) -> list[Benchmark]:
    names = [name for name in names if name not in IN_PROCESS]
    unknown = set(names) - {benchmark.name for benchmark in BENCHMARKS}
    if unknown:
        raise SystemExit(f"Unknown benchmark(s): {', '.join(sorted(unknown))}")
    # The floor (and a benchmark's own floor) always runs: a ratio is only meaningful
    # against a floor of the same run.
    wanted = set(names)
    wanted |= {b.floor for b in BENCHMARKS if b.name in wanted and b.floor}
    return [b for i, b in enumerate(BENCHMARKS) if i == 0 or not names or b.name in wanted]


def parse_options(argv: Sequence[str]) -> tuple[Options, list[Benchmark]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=10, help="seconds per benchmark")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of warm-up per page")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--report-runs", type=int, default=5, help="advice reports to time")
    parser.add_argument("--coaches", type=int, default=50, help="coaches of coach-load")
    parser.add_argument(
        "--coach-load-duration", type=float, default=60, help="seconds of coach-load"
    )
    args = parser.parse_args(argv)
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    options = Options(
        workers=args.workers,
        connections=args.connections,
        duration=args.duration,
        warmup=args.warmup,
        client=client,
        report_runs=args.report_runs if not args.names or REPORT in args.names else 0,
        nip_export=not args.names or NIP_EXPORT in args.names,
        dataplatform=tuple(
            name for name in (DP_IMPORT, DP_AGGREGATE) if not args.names or name in args.names
        ),
        coaches=args.coaches if not args.names or COACH_LOAD in args.names else 0,
        coach_load_duration=args.coach_load_duration,
        fault_coaches=args.coaches if COACH_LOAD_FAULTS in args.names else 0,
    )
    # Only in-process benchmarks asked for: no server, no pages.
    only_in_process = bool(args.names) and set(args.names) <= IN_PROCESS
    return options, [] if only_in_process else selected(args.names)


def main(argv: Sequence[str]) -> int:
    options, benchmarks = parse_options(argv)
    # Turn a plain kill into an exception, so the finally blocks stop gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(
        f"{options.workers} gunicorn sync workers, {options.connections} connections, "
        f"{options.duration:g} s per page, client {options.client}, {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="woningdossier-bench-") as tmp:
        workdir = Path(tmp)
        env = bench_environment(workdir)
        started = time.monotonic()
        placeholders: dict[str, str] = {}
        # The demo database serves the pages, the report and the NIP export; the
        # PostgreSQL benchmarks make databases of their own.
        if benchmarks or options.report_runs or options.nip_export:
            placeholders = prepare_database(env)
            print(f"demo database ready in {time.monotonic() - started:.0f} s")
        results: list[Result] = []
        if benchmarks:
            with gunicorn(env, workdir, options.workers) as server:
                results = with_ratios(
                    [run_benchmark(b, server, options, placeholders) for b in benchmarks]
                )
        # After the server has stopped: the in-process timings need the CPUs to themselves.
        report = (
            run_report_benchmark(env, placeholders["dossier"], options.report_runs)
            if options.report_runs
            else None
        )
        nip_export = run_nip_export_benchmark(env) if options.nip_export else None
        coach_load = run_coach_load(env, workdir, options) if options.coaches else None
        faults = run_coach_load_faults(env, workdir, options) if options.fault_coaches else None
        dataplatform = (
            run_dataplatform_benchmarks(env, options.dataplatform) if options.dataplatform else {}
        )
    for result in results:
        print(describe(result))
    if report is not None:
        print(describe_report(report))
    if nip_export is not None:
        print(describe_nip_export(nip_export))
    if DP_IMPORT in dataplatform:
        print(describe_dp_import(dataplatform[DP_IMPORT]))
    if DP_AGGREGATE in dataplatform:
        print(describe_dp_aggregate(dataplatform[DP_AGGREGATE]))
    if coach_load is not None:
        print(describe_coach_load(coach_load))
    if faults is not None:
        from bench import coach_load as coach_load_module

        print(coach_load_module.describe_faults(faults))
    write_results(results, options, report, nip_export, dataplatform, coach_load, faults)
    print(f"written to {RESULTS.relative_to(ROOT)}")
    pages_ok = all(result.ok for result in results)
    from bench import coach_load as coach_load_module

    saves_ok = coach_load is None or coach_load_ok(coach_load)
    faults_ok = faults is None or coach_load_module.faults_ok(faults)
    return 0 if pages_ok and saves_ok and faults_ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as error:
        sys.exit(f"bench: {error}")
