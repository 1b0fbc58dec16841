"""Liveness, readiness, and what people get while the database is down.

/health/ answers without a database; /ready/ names the part that does not answer, on a
fresh connection with real timeouts; pages answer a Dutch 503 and the API a JSON 503.
A gunicorn started while PostgreSQL is unreachable starts and says so.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connections
from django.test import Client

from config import health
from tests.conftest import port_open, skip_or_fail

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
REDIS = "redis://127.0.0.1:6379/11"
CLOSED = "127.0.0.1", 1  # nothing listens on port 1
# Generous bounds that only keep a broken check from hanging the suite; not timings.
BOUND = 30


def _postgres(host: str, port: int, name: str = "postgres") -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": host,
        "PORT": port,
        "OPTIONS": {},
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TEST": {},
    }


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A port that accepts connections and never says a word: a hung database or broker."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()
    finally:
        server.close()


def _outcome(check, *args) -> BaseException | None:
    """Run one check in a thread; its exception, or None. Fails if it hangs past BOUND."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            check(*args)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND)
    assert outcome, f"{check.__name__} hung: its timeouts do not work"
    return outcome[0]


@pytest.fixture
def database_down(monkeypatch):
    """Call it to have every query, on any connection, fail as with PostgreSQL unreachable."""

    def unreachable(self, *args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    def take_down() -> None:
        monkeypatch.setattr(type(connections["default"]), "_cursor", unreachable)

    return take_down


# /ready/ -----------------------------------------------------------------------------------


def test_ready_answers_ok_for_the_database_and_no_broker_in_the_embedded_default(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/ready/")
    assert response.status_code == 200
    assert response.json() == {"database": "ok"}
    assert "no-store" in response["Cache-Control"]
    assert not response.cookies


def test_ready_answers_ok_for_the_database_and_the_broker_where_one_is_configured(client, settings):
    if not port_open("127.0.0.1", 6379):
        skip_or_fail("Redis on 127.0.0.1:6379")
    settings.CELERY_BROKER_URL = REDIS
    response = client.get("/ready/")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


def test_ready_answers_503_naming_the_broker_that_does_not_answer(client, settings):
    settings.CELERY_BROKER_URL = "redis://{}:{}/11".format(*CLOSED)
    response = client.get("/ready/")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "unavailable"}
    assert response["Retry-After"]


def test_ready_answers_503_naming_the_database_that_does_not_answer(
    client, settings, database_down
):
    settings.CELERY_BROKER_URL = ""
    database_down()
    response = client.get("/ready/")
    assert response.status_code == 503
    assert response.json() == {"database": "unavailable"}


def test_ready_reports_a_part_that_hangs_past_the_deadline_as_unavailable():
    release = threading.Event()

    def hangs() -> None:
        release.wait(BOUND)

    try:
        results = health.run_checks({"database": lambda: None, "broker": hangs})
    finally:
        release.set()
    assert results == {"database": "ok", "broker": "unavailable"}


def test_the_database_check_gives_up_on_a_postgres_that_never_answers(silent_server):
    error = _outcome(health.database_check, _postgres(*silent_server))
    assert isinstance(error, OperationalError)


def test_the_database_check_reaches_a_real_postgres():
    if not port_open("127.0.0.1", 5432):
        skip_or_fail("PostgreSQL on 127.0.0.1:5432")
    assert _outcome(health.database_check, _postgres("127.0.0.1", 5432)) is None


def test_the_database_check_fails_fast_on_a_closed_port():
    error = _outcome(health.database_check, _postgres(*CLOSED))
    assert isinstance(error, OperationalError)


def test_the_broker_check_gives_up_on_a_redis_that_never_answers(silent_server):
    error = _outcome(health.broker_check, "redis://{}:{}/11".format(*silent_server))
    assert error is not None


def test_the_broker_check_reaches_a_real_redis():
    if not port_open("127.0.0.1", 6379):
        skip_or_fail("Redis on 127.0.0.1:6379")
    assert _outcome(health.broker_check, REDIS) is None


# /health/ and pages with the database down --------------------------------------------------


def test_health_answers_without_the_database_even_for_a_logged_in_browser(
    cast, login, database_down
):
    client = login(cast.coordinator)
    database_down()
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.content == b"ok"
    # Answered before the session middleware: no cookie, nothing about the session.
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")


def test_a_page_answers_a_dutch_503_not_a_500_while_the_database_is_down(
    cast, login, database_down
):
    client = login(cast.coordinator)
    client.raise_request_exception = False
    database_down()
    response = client.get("/huishoudens/")
    assert response.status_code == 503
    page = response.content.decode()
    assert "Tijdelijk niet beschikbaar" in page
    assert "Probeer het over een paar minuten opnieuw" in page
    assert "niet opgeslagen" not in page  # nothing was sent
    assert int(response["Retry-After"]) > 0
    assert "no-store" in response["Cache-Control"]


def test_a_form_sent_while_the_database_is_down_says_it_was_not_saved(cast, login, database_down):
    client = login(cast.coordinator)
    client.raise_request_exception = False
    database_down()
    response = client.post("/huishoudens/", {"anything": "x"})
    assert response.status_code == 503
    page = response.content.decode()
    assert "Tijdelijk niet beschikbaar" in page
    assert "Wat u net verstuurde, is niet opgeslagen." in page


def test_the_api_answers_a_json_503_while_the_database_is_down(database_down):
    client = Client(raise_request_exception=False)
    database_down()
    response = client.post(
        "/api/v1/advice/calculate/", {"anything": 1}, content_type="application/json"
    )
    assert response.status_code == 503
    assert "tijdelijk niet beschikbaar" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0


def test_other_server_errors_stay_500():
    from django.test import RequestFactory

    from config import errors

    request = RequestFactory().get("/huishoudens/")
    try:
        raise ValueError("a bug")
    except ValueError:
        assert errors.server_error(request).status_code == 500
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        assert errors.server_error(request).status_code == 503


# gunicorn with PostgreSQL unreachable from the start ---------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - http only
    try:
        with urllib.request.urlopen(request, timeout=BOUND) as response:  # noqa: S310
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def test_gunicorn_starts_and_answers_503_while_postgres_is_unreachable_from_the_start(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV": "development",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": "postgres://postgres@{}:{}/x".format(*CLOSED),
        "CELERY_BROKER_URL": "redis://{}:{}/11".format(*CLOSED),
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    env.pop("CACHE_URL", None)
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            "--workers=1",
            "--timeout=60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _attempt in range(BOUND * 4):
            if server.poll() is not None or port_open("127.0.0.1", port):
                break
            time.sleep(0.25)
        assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()

        status, body, _headers = _get(f"{base}/ready/")
        assert status == 503
        assert body == '{"database": "unavailable", "broker": "unavailable"}'

        # Liveness needs nothing, even with a session cookie that cannot be looked up.
        status, body, _headers = _get(f"{base}/health/", {"Cookie": "sessionid=abc"})
        assert (status, body) == (200, "ok")

        # A page that needs the database (a browser with a session): the Dutch 503 page.
        status, body, headers = _get(f"{base}/huishoudens/", {"Cookie": "sessionid=abc"})
        assert status == 503
        assert "Tijdelijk niet beschikbaar" in body
        assert int(headers["Retry-After"]) > 0

        status, body, _headers = _get(f"{base}/api/v1/dossiers/", {"Cookie": "sessionid=abc"})
        assert status == 503
        assert "tijdelijk niet beschikbaar" in body
    finally:
        server.terminate()
        try:
            server.wait(BOUND)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(BOUND)
        log.close()
