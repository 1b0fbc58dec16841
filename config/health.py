"""Liveness and readiness, for a load balancer or docker compose.

- /health/ (accounts.views.health): the process answers. It touches no database.
- /ready/: the process can do its work. It asks each part it depends on, each on a fresh
  connection with its own timeouts, and answers 200 {"database": "ok", "broker": "ok"},
  or 503 naming the part that did not answer within TIMEOUT seconds. The broker is only
  asked where one is configured; the embedded default runs tasks in-process.

Both are answered by config.middleware.ProbeMiddleware before the session, login and
account middleware, so neither reads a session or a user (or the database for them).
They are anonymous, say nothing about anyone, are never cached and are not rate-limited.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

# Seconds each part has to answer.
TIMEOUT = 2

OK = "ok"
UNAVAILABLE = "unavailable"


def database_check(settings_dict: dict[str, Any] | None = None) -> None:
    """SELECT 1 on a new connection with a connect and a statement timeout.

    A new connection, not the request's: it proves that a connection can be made now,
    and a check that hangs or fails leaves the request's connection alone.
    """
    settings_dict = dict(settings_dict or connections[DEFAULT_DB_ALIAS].settings_dict)
    options = dict(settings_dict.get("OPTIONS") or {})
    # One plain connection: a pool of its own would outlive the check.
    options.pop("pool", None)
    if settings_dict["ENGINE"] == "django.db.backends.postgresql":
        options["connect_timeout"] = TIMEOUT
        statement_timeout = f"-c statement_timeout={TIMEOUT * 1000}"
        options["options"] = f"{options.get('options', '')} {statement_timeout}".strip()
    elif settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        options["timeout"] = TIMEOUT
    settings_dict["OPTIONS"] = options
    # Never pooled or kept: it is closed below.
    settings_dict["CONN_MAX_AGE"] = 0
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "readiness")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        wrapper.close()


def broker_check(url: str | None = None) -> None:
    """Connect to the Celery broker with connect and socket timeouts, without retrying."""
    from kombu import Connection

    transport_options = {
        "socket_timeout": TIMEOUT,
        "socket_connect_timeout": TIMEOUT,
        "max_retries": 0,
    }
    with Connection(
        url or settings.CELERY_BROKER_URL,
        connect_timeout=TIMEOUT,
        transport_options=transport_options,
    ) as connection:
        connection.ensure_connection(max_retries=0)
        # Redis: opening a channel sends a PING (kombu's redis transport).
        connection.default_channel  # noqa: B018


def checks() -> dict[str, Callable[[], None]]:
    parts: dict[str, Callable[[], None]] = {"database": database_check}
    if getattr(settings, "CELERY_BROKER_URL", ""):
        parts["broker"] = broker_check
    return parts


def run_checks(parts: dict[str, Callable[[], None]], timeout: float = TIMEOUT) -> dict[str, str]:
    """Run the checks side by side; a part that has not answered by the deadline failed.

    Each check has its own timeouts as well; the deadline makes sure that even a check
    stuck where those do not reach (a DNS lookup, say) cannot hold the answer up.
    """
    results: dict[str, str] = {}
    lock = threading.Lock()

    def run(name: str, check: Callable[[], None]) -> None:
        try:
            check()
            outcome = OK
        except Exception:  # whatever the failure, the part is not ready
            outcome = UNAVAILABLE
        with lock:
            results[name] = outcome

    threads = [
        threading.Thread(target=run, args=(name, check), name=f"ready-{name}", daemon=True)
        for name, check in parts.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return {name: results.get(name, UNAVAILABLE) for name in parts}


@login_not_required
@require_GET
@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    results = run_checks(checks())
    status = 200 if all(value == OK for value in results.values()) else 503
    response = JsonResponse(results, status=status)
    if status == 503:
        response["Retry-After"] = "10"
    return response
