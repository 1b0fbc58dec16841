"""The benchmark harness in bench/run.py: its definitions and its measuring parts.

No timings are asserted here; bench/run.py itself is run by `make bench`.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import threading
from collections.abc import Iterator
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import Resolver404, resolve

from demo.data import LOGINS
from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parent.parent


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the module runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = load_bench()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok/" else 500)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        good = (
            self.path == "/api/"
            and self.headers.get("Content-Type") == "application/json"
            and body == b'{"a": 1}'
        )
        self.send_response(200 if good else 400)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def loopback_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_it_measures_the_anonymous_floor_first() -> None:
    floor = bench.BENCHMARKS[0]
    assert (floor.path, floor.role) == ("/health/", None)
    assert resolve(floor.path).url_name == "health"


PLACEHOLDERS = {"dossier": "1"}


def bench_urlconf(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """config/urls.py as the bench's server loads it, with BENCH_VIEWS=1."""
    monkeypatch.setenv("BENCH_VIEWS", "1")
    # The module wraps the admin's login view again; put the original back afterwards.
    monkeypatch.setattr(admin.site, "login", admin.site.login)
    spec = importlib.util.spec_from_file_location("bench_urls", ROOT / "config" / "urls.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_benchmarks_routed_paths_as_demo_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [benchmark.name for benchmark in bench.BENCHMARKS]
    assert len(names) == len(set(names))
    urlconf = bench_urlconf(monkeypatch)
    for benchmark in bench.BENCHMARKS:
        resolve(benchmark.path.format(**PLACEHOLDERS), urlconf=urlconf)
        assert benchmark.role is None or benchmark.role in dict(LOGINS)


def test_it_routes_the_bench_only_views_only_with_bench_views_set() -> None:
    bench_only = [b for b in bench.BENCHMARKS if b.path.startswith("/bench/")]
    assert bench_only
    for benchmark in bench_only:
        with pytest.raises(Resolver404):
            resolve(benchmark.path.format(**PLACEHOLDERS))


def test_the_logged_in_floor_goes_through_the_session_middleware(
    monkeypatch: pytest.MonkeyPatch, settings, cast, login, client
) -> None:
    """Not /health/ (answered before the session middleware): a view that needs the user."""
    floor = next(b for b in bench.BENCHMARKS if b.name == "floor-logged-in")
    assert floor.path == bench.SESSION_FLOOR and floor.role is not None
    settings.ROOT_URLCONF = bench_urlconf(monkeypatch)
    assert client.get(floor.path).status_code == 403
    coach = login(cast.alice)
    coach.get(floor.path)
    # The session and the user are read from the database on every request, as for a page.
    with CaptureQueriesContext(connection) as queries:
        response = coach.get(floor.path)
    assert (response.status_code, response.content) == (200, b"ok")
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "django_session" in sql and "accounts_user" in sql


def test_it_measures_each_floor_before_the_pages_divided_by_it() -> None:
    names = [benchmark.name for benchmark in bench.BENCHMARKS]
    for i, benchmark in enumerate(bench.BENCHMARKS):
        if benchmark.floor:
            assert benchmark.floor in names[:i]
    dossier = next(b for b in bench.BENCHMARKS if b.name == "dossier")
    floor = next(b for b in bench.BENCHMARKS if b.name == dossier.floor)
    assert floor.role == dossier.role


def test_it_always_runs_the_floor_with_a_selection() -> None:
    assert [b.name for b in bench.selected(["dashboard"])] == ["floor", "dashboard"]
    assert [b.name for b in bench.selected(["dossier"])] == ["floor", "dossier-floor", "dossier"]
    assert bench.selected([]) == bench.BENCHMARKS
    # The report benchmark is no page: it never asks for one.
    assert [b.name for b in bench.selected(["report", "dashboard"])] == ["floor", "dashboard"]
    with pytest.raises(SystemExit):
        bench.selected(["no-such-page"])


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, 0.0),
        ([7.0], 0.95, 7.0),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.0),
        (list(range(1, 101)), 0.95, 95),
        (list(range(1, 21)), 0.95, 19),
        ([1.0, 2.0, 3.0, 4.0], 0.51, 3.0),
    ],
)
def test_it_takes_nearest_rank_percentiles(
    values: list[float], fraction: float, expected: float
) -> None:
    assert bench.percentile(values, fraction) == expected


def test_it_reads_the_wrk_report_line() -> None:
    output = (
        "Running 10s test @ http://127.0.0.1:1/health/\n"
        "BENCH-RESULT requests=2000 duration_us=10000000 p50_us=1500 p95_us=4200 "
        "status_errors=3 socket_errors=1\n"
    )
    measured = bench.parse_wrk_report(output)
    assert measured.requests == 2000
    assert measured.requests_per_second == 200
    assert (measured.p50_ms, measured.p95_ms) == (1.5, 4.2)
    assert measured.errors == 4


def test_it_refuses_wrk_output_without_the_report_line() -> None:
    with pytest.raises(bench.BenchError):
        bench.parse_wrk_report("Requests/sec: 100\n")


def test_it_divides_every_result_by_the_floor_of_the_same_run() -> None:
    results = [
        bench.Result("floor", "/health/", None, status=200, requests_per_second=1000.0),
        bench.Result("page", "/p/", "coach", status=200, requests_per_second=250.0),
        bench.Result("broken", "/b/", "coach", status=500),
    ]
    ratios = [result.ratio_to_floor for result in bench.with_ratios(results)]
    assert ratios == [1.0, 0.25, None]


def test_it_divides_a_page_with_its_own_floor_by_that_floor() -> None:
    results = [
        bench.Result("floor", "/health/", None, status=200, requests_per_second=1000.0),
        bench.Result("own-floor", "/f/", "coach", status=200, requests_per_second=100.0),
        bench.Result(
            "page",
            "/p/",
            "coach",
            status=200,
            requests_per_second=70.0,
            p50_ms=50.0,
            p95_ms=60.0,
            floor="own-floor",
        ),
    ]
    page = bench.with_ratios(results)[2]
    assert (page.ratio_to_floor, page.ratio_to_bare_floor) == (0.7, 0.07)
    assert bench.describe(page).endswith("0.70× own-floor (0.07× floor)")


def test_it_leaves_deleted_and_message_cookies_out_of_the_cookie_header() -> None:
    jar = SimpleCookie()
    jar.load("sessionid=abc; Path=/")
    jar.load('deleted=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/')
    jar.load("expired=x; Max-Age=0; Path=/")
    assert bench.cookie_header(jar) == "sessionid=abc"


def test_it_counts_answers_and_error_statuses_with_the_python_client(loopback_port: int) -> None:
    good = bench.load_with_python(loopback_port, "/ok/", "a=b", connections=2, seconds=0.2)
    assert good.requests > 0
    assert good.errors == 0
    assert 0 < good.p50_ms <= good.p95_ms
    bad = bench.load_with_python(loopback_port, "/fail/", None, connections=2, seconds=0.2)
    assert bad.requests > 0
    assert bad.errors == bad.requests


def test_it_runs_the_bench_with_the_embedded_default_against_a_temporary_database(
    tmp_path: Path,
) -> None:
    env = bench.bench_environment(tmp_path)
    assert env["DJANGO_ENV"] == "development"
    assert env["DJANGO_DEBUG"] == "0"
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert env["CELERY_BROKER_URL"] == ""
    assert env["BENCH_VIEWS"] == "1"
    assert env["STATIC_ROOT"].startswith(str(tmp_path))
    assert env["MEDIA_ROOT"].startswith(str(tmp_path))


def test_it_posts_a_json_body_with_the_python_client(loopback_port: int) -> None:
    posted = bench.load_with_python(
        loopback_port, "/api/", None, connections=2, seconds=0.2, body='{"a": 1}'
    )
    assert posted.requests > 0
    assert posted.errors == 0
    wrong = bench.load_with_python(
        loopback_port, "/api/", None, connections=1, seconds=0.1, body='{"a": 2}'
    )
    assert wrong.errors == wrong.requests


def test_it_posts_a_json_body_with_wrk(loopback_port: int) -> None:
    if shutil.which("wrk") is None:
        skip_or_fail("wrk is not installed (apt-get install wrk)")
    posted = bench.load_with_wrk(
        loopback_port, "/api/", None, connections=2, seconds=1, body='{"a": 1}'
    )
    assert posted.requests > 0
    assert posted.errors == 0


def test_it_benchmarks_the_calculation_endpoint_with_a_valid_body_and_no_rate_limit(
    tmp_path: Path,
) -> None:
    calculate = next(b for b in bench.BENCHMARKS if b.name == "calculate")
    assert calculate.role is None
    assert calculate.floor is None  # divided by the bare floor
    assert json.loads(calculate.body)["dwelling_type"] == "corner"
    rate = bench.bench_environment(tmp_path)["CALCULATE_THROTTLE_RATE"]
    assert int(rate.split("/")[0]) >= 1_000_000


def test_it_times_the_report_only_when_asked_or_when_all_run() -> None:
    everything, pages = bench.parse_options([])
    only_report, no_pages = bench.parse_options(["report", "--report-runs", "2"])
    pages_only, _ = bench.parse_options(["dashboard"])

    assert everything.report_runs == 5 and pages == bench.BENCHMARKS
    assert only_report.report_runs == 2 and no_pages == []
    assert pages_only.report_runs == 0


def test_it_reads_the_report_line_against_the_target() -> None:
    line = bench.describe_report(
        {"pages": 5, "runs": 5, "report_s": 1.2, "weasyprint_s": 1.0, "ratio": 1.2}
    )
    assert "5 pages" in line and "1.20×" in line and "within" in line
    slow = bench.describe_report(
        {"pages": 5, "runs": 5, "report_s": 2.0, "weasyprint_s": 1.0, "ratio": 2.0}
    )
    assert "ABOVE" in slow


def test_the_report_benchmark_makes_real_reports_and_compares_them(
    transactional_db, seeded_parameters, cast, settings, tmp_path
) -> None:
    from bench import report

    settings.MEDIA_ROOT = tmp_path
    figures = report.measure(cast.household_a.dossier.pk, runs=1)

    assert figures["pages"] >= 2 and figures["runs"] == 1
    assert figures["report_s"] > 0 and figures["weasyprint_s"] > 0
    ratio = figures["report_s"] / figures["weasyprint_s"]
    assert figures["ratio"] == pytest.approx(ratio, rel=0.02)
    made = cast.household_a.dossier.reports.all()
    # One warm-up and one measured report, both finished and kept.
    assert [r.status for r in made] == ["done", "done"]


def test_it_times_the_nip_export_when_asked_or_when_all_run() -> None:
    everything, pages = bench.parse_options([])
    only_export, no_pages = bench.parse_options(["nip-export"])
    both, none = bench.parse_options(["report", "nip-export"])
    report_only, _ = bench.parse_options(["report"])
    pages_only, some_pages = bench.parse_options(["dashboard"])

    assert everything.nip_export and pages == bench.BENCHMARKS
    assert only_export.nip_export and only_export.report_runs == 0 and no_pages == []
    assert both.nip_export and both.report_runs == 5 and none == []
    assert not report_only.nip_export
    assert not pages_only.nip_export and [b.name for b in some_pages] == ["floor", "dashboard"]


def test_it_reads_the_nip_export_line_against_its_targets() -> None:
    figures = {
        "homes": 10000,
        "runs": 3,
        "export_s": 1.9,
        "xlsxwriter_s": 1.5,
        "ratio": 1.27,
        "queries": 2,
        "large_homes": 100000,
        "peak_kib": 3680,
        "peak_large_kib": 3690,
        "memory_ratio": 1.0,
    }
    line = bench.describe_nip_export(figures)
    assert "10,000 homes" in line and "1.27×" in line and "within" in line and "flat" in line
    slow = bench.describe_nip_export({**figures, "ratio": 1.8, "memory_ratio": 9.5})
    assert "ABOVE" in slow and "GROWING" in slow


def test_the_nip_export_benchmark_builds_the_homes_it_says_and_measures_both_paths(db) -> None:
    from bench import nip_export
    from nip import monitoring
    from nip.models import Programme

    figures = nip_export.measure(homes=30, large_homes=60, runs=1, block=10)

    assert (figures["homes"], figures["large_homes"], figures["runs"]) == (30, 60, 1)
    assert figures["export_s"] > 0 and figures["xlsxwriter_s"] > 0
    # The times are rounded to the millisecond and the ratio is not: with times of a few
    # milliseconds the ratio lies anywhere within what the rounding allows.
    half = 0.0005
    export, floor = figures["export_s"], figures["xlsxwriter_s"]
    upper = (export + half) / max(floor - half, 1e-6)
    assert (export - half) / (floor + half) <= figures["ratio"] <= upper
    assert 0 < figures["queries"] <= 3
    assert figures["peak_kib"] > 0 and figures["peak_large_kib"] > 0
    period = nip_export._period()
    for programme, homes in zip(
        Programme.objects.filter(municipality__slug="bench-nip-export").order_by("tranche"),
        (30, 60),
        strict=True,
    ):
        rows = list(monitoring.monitoring_rows(programme=programme, period=period))
        # Every copied home is a home of its own, with its own measures.
        assert len(rows) == homes
        assert len({(row[3], row[1], row[2]) for row in rows}) == homes
        assert all(row[16] == 55.5 for row in rows)  # the cavity wall, by a contractor


def test_it_runs_the_data_platform_benchmarks_when_asked_or_when_all_run() -> None:
    everything, _ = bench.parse_options([])
    only_aggregate, no_pages = bench.parse_options(["dp-aggregate"])
    pages_only, _ = bench.parse_options(["dashboard"])

    assert everything.dataplatform == ("dp-import", "dp-aggregate")
    assert only_aggregate.dataplatform == ("dp-aggregate",) and no_pages == []
    assert not only_aggregate.nip_export and only_aggregate.report_runs == 0
    assert pages_only.dataplatform == ()


def test_it_reads_the_data_platform_lines_against_their_targets() -> None:
    aggregate = {
        "dwellings": 1000452,
        "postcodes": 450000,
        "aggregate_s": 2.9,
        "floor_s": 2.0,
        "ratio": 1.45,
        "joined_floor_s": 0.8,
        "suppression_s": 4.0,
        "publication_s": 60.0,
        "check_s": 41.0,
    }
    line = bench.describe_dp_aggregate(aggregate)
    assert "1,000,452 dwellings" in line and "1.45×" in line and "within" in line
    assert "recount of every household's row 41.0 s" in line
    assert "ABOVE" in bench.describe_dp_aggregate({**aggregate, "ratio": 1.9})
    imported = {"rows": 300000, "import_rows_per_s": 90000, "copy_rows_per_s": 180000}
    line = bench.describe_dp_import({**imported, "ratio": 0.5})
    assert "300,000 rows" in line and "0.50×" in line and "within" in line
    assert "BELOW" in bench.describe_dp_import({**imported, "ratio": 0.3})


# ---------------------------------------------------------------------------------------
# coach-load: coaches saving a dossier topic at once (bench/coach_load.py)


def test_it_runs_the_coach_load_when_asked_or_when_all_run() -> None:
    everything, _ = bench.parse_options([])
    only, no_pages = bench.parse_options(["coach-load", "--coaches", "3"])
    pages_only, _ = bench.parse_options(["dashboard"])

    assert everything.coaches == 50 and everything.coach_load_duration == 60
    assert only.coaches == 3 and no_pages == [] and only.report_runs == 0
    assert pages_only.coaches == 0


def coach_figures(saves: list[dict], found: list[dict]) -> dict:
    from bench import coach_load

    clients = [
        coach_load.Client(dossier=held["dossier"], cookie="", fields={}, version=0)
        for held in found
    ]
    run = {"requests": 10, "duration_us": 1_000_000, "p50_us": 1000, "p99_us": 2000}
    measured = {
        "floor": {**run, "status_errors": 0, "socket_errors": 0, "per_coach": saves},
        "saves": {**run, "status_errors": 0, "socket_errors": 0, "per_coach": saves},
    }
    return coach_load.compare(measured, found, clients)


def test_the_coach_load_divides_by_the_floor_before_and_after_the_saves_together() -> None:
    from bench import coach_load

    def floor(requests: int, failures: int) -> dict:
        return {
            "requests": requests,
            "duration_us": 10_000_000,
            "p50_us": 1000,
            "p99_us": 2000,
            "status_errors": 0,
            "socket_errors": 0,
            "per_coach": [{"saves": requests, "failures": failures}],
        }

    both = coach_load.both_floors(floor(1000, 0), floor(3000, 1))
    clients = [coach_load.Client(dossier=1, cookie="", fields={}, version=0)]
    saves = {**floor(100, 0), "per_coach": [{"saves": 100, "failures": 0, "last": 0, "sent": 0}]}
    found = [{"dossier": 1, "versions": 100, "audit": 100, "value": coach_load.FIRST_VALUE}]
    figures = coach_load.compare({"floor": both, "saves": saves}, found, clients)
    # 4000 requests in 20 s: 200 req/s, against 10 saves/s.
    assert figures["floor_requests_per_second"] == 200 and figures["ratio_to_floor"] == 0.05
    assert figures["floor_errors"] == 1 and figures["floor_rates"] == [100, 300]
    assert "200 req/s (100 before the saves, 300 after), 0.050× floor" in coach_load.describe(
        figures
    )


def test_the_coach_load_counts_a_save_cut_off_by_the_end_but_stored_and_flags_a_lost_one() -> None:
    from bench import coach_load

    first = coach_load.FIRST_VALUE
    answered = {"saves": 3, "failures": 0, "last": first + 3, "sent": first + 3}
    cut_off = {"saves": 3, "failures": 0, "last": first + 3, "sent": first + 4}
    whole = {"versions": 3, "audit": 3, "value": first + 3}
    with_last = {"versions": 4, "audit": 4, "value": first + 4}

    figures = coach_figures(
        [answered, cut_off], [{"dossier": 1, **whole}, {"dossier": 2, **with_last}]
    )
    assert coach_load.ok(figures)
    assert (figures["saves_made"], figures["saves_cut_off"], figures["saves_found"]) == (6, 1, 7)

    # An answered save the database does not hold, or one without its audit entry.
    lost = {"versions": 2, "audit": 2, "value": first + 2}
    unaudited = {"versions": 3, "audit": 2, "value": first + 3}
    for held in (lost, unaudited):
        figures = coach_figures([answered], [{"dossier": 1, **held}])
        assert not coach_load.ok(figures)
        assert "MISSING" in coach_load.describe(figures)


def test_it_runs_the_fault_variant_only_when_named() -> None:
    everything, _ = bench.parse_options([])
    faults, no_pages = bench.parse_options(["coach-load-faults", "--coaches", "4"])

    assert everything.fault_coaches == 0
    assert faults.fault_coaches == 4 and faults.coaches == 0 and no_pages == []


def fault_jobs(**changes) -> dict:
    report = {"report": 1, "dossier": 1, "status": "done", "attempts": 2, "pdf": True}
    reports = [{**report, "report": n, "mails": 1, "done": True} for n in (1, 2)]
    jobs = {
        "reports_asked": 2,
        "killed_at_s": 12.0,
        "running_at_kill": 1,
        "restarted_after_s": 2,
        "jobs_done_after_kill_s": 80.0,
        "job_lease_s": 15,
        "reports": reports,
        "pdf_files": 2,
    }
    for key, value in changes.items():
        if key in ("mails", "done", "pdf"):
            reports[0][key] = value
        else:
            jobs[key] = value
    return jobs


def test_the_fault_variant_wants_every_save_and_every_job_done_once() -> None:
    from bench import coach_load

    first = coach_load.FIRST_VALUE
    answered = {"saves": 3, "failures": 0, "last": first + 3, "sent": first + 3}
    whole = {"dossier": 1, "versions": 3, "audit": 3, "value": first + 3}
    figures = {**coach_figures([answered], [whole]), "jobs": fault_jobs()}
    assert coach_load.faults_ok(figures)
    line = coach_load.describe_faults(figures)
    assert line.startswith("coach-load-faults (")
    assert "every save found" in line and "every job done once" in line
    assert "2 made and mailed exactly once" in line

    # A report mailed twice, one never made, a PDF left behind, no worker killed at all.
    for jobs in (
        fault_jobs(mails=2),
        fault_jobs(mails=0, done=False),
        fault_jobs(pdf_files=3),
        fault_jobs(killed_at_s=None),
        fault_jobs(reports_asked=3),
    ):
        figures = {**coach_figures([answered], [whole]), "jobs": jobs}
        assert not coach_load.faults_ok(figures)
        assert "every job done once" not in coach_load.describe_faults(figures)

    # A lost save fails the variant even when every job was done once.
    lost = {**whole, "versions": 2, "audit": 2, "value": first + 2}
    figures = {**coach_figures([answered], [lost]), "jobs": fault_jobs()}
    assert not coach_load.faults_ok(figures)


def test_the_coach_load_finds_every_save_of_coaches_saving_at_once(
    transactional_db, tmp_path, settings
) -> None:
    """A few coaches for a few seconds, through gunicorn and wrk on the test database."""
    from django.conf import global_settings
    from django.db import connection

    from bench import coach_load

    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL (set DATABASE_URL): gunicorn cannot see an in-memory SQLite")
    if shutil.which("wrk") is None:
        skip_or_fail("wrk")
    # The server checks passwords with the real hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    made = coach_load.make_coaches(3)
    db = connection.settings_dict
    env = {
        **bench.bench_environment(tmp_path),
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "CACHE_URL": "locmemcache://",
    }
    with bench.gunicorn(env, tmp_path, 2) as server:
        clients = [coach_load.open_topic(server.port, coach) for coach in made]
        measured = coach_load.load(server.port, clients, tmp_path, 2)

    figures = coach_load.compare(measured, coach_load.saves_found(made), clients)
    assert coach_load.ok(figures), figures
    assert figures["saves_made"] >= 3 and figures["floor_requests_per_second"] > 0
    # Every coach saved, and only into their own dossier.
    assert all(made["saves"] > 0 for made in measured["saves"]["per_coach"])
