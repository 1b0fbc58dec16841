"""Request-wide transactions for the embedded SQLite default (see DATABASES in settings.py),
no caching of what a logged-in person sees, and health probes that need no database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, resolve, reverse
from django.utils.cache import add_never_cache_headers

# Requests that by HTTP's rules change nothing; they run without a request transaction.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class WriteRequestTransactionMiddleware:
    """Run the view of each request that may write (POST, PUT, PATCH, DELETE) in one transaction.

    ATOMIC_REQUESTS for unsafe methods only. SQLite has one writer at a time, and with
    transaction_mode IMMEDIATE a transaction takes the write lock when it begins: a
    transaction around every page view would make readers wait for each other.

    Like ATOMIC_REQUESTS it wraps the view alone: an exception rolls the transaction back
    before Django renders the error page, which therefore can still query. A view marked
    @transaction.non_atomic_requests runs without it. Listed last in MIDDLEWARE, so that
    answering from process_view skips no other middleware's process_view.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if request.method in SAFE_METHODS:
            return None
        if DEFAULT_DB_ALIAS in getattr(view_func, "_non_atomic_requests", set()):
            return None
        with transaction.atomic():
            response = view_func(request, *view_args, **view_kwargs)
        if response is None:
            # Returning None here would make Django call the view a second time.
            raise ValueError(f"The view {view_func.__qualname__} didn't return a response.")
        return response


class PrivateByDefaultMiddleware:
    """Whatever a logged-in person is shown is not kept by the browser or a proxy.

    A response to a logged-in request that says nothing about caching gets Django's
    never-cache headers (no-store, private). Views that already set Cache-Control keep it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response


# The URL names of the probes (config/health.py) that ProbeMiddleware answers itself.
PROBES = ("health", "ready")


class ProbeMiddleware:
    """Answer /health/ and /ready/ before the session, login and account middleware run.

    Those read the session and the user from the database as soon as a request carries a
    session cookie; a liveness probe must answer while the database is down, and the
    readiness probe must report the database, not fail on it. Listed right after
    SecurityMiddleware and WhiteNoise, so that nothing after it runs for a probe.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._paths: dict[str, Callable[..., HttpResponse]] | None = None

    def _probes(self) -> dict[str, Callable[..., HttpResponse]]:
        if self._paths is None:
            # Looked up at the first request: the URLconf is not loaded yet at startup.
            paths = {}
            for name in PROBES:
                try:
                    path = reverse(name)
                except NoReverseMatch:  # a URLconf without it (a test's)
                    continue
                paths[path] = resolve(path).func
            self._paths = paths
        return self._paths

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self._probes().get(request.path_info)
        if view is None:
            return self.get_response(request)
        return view(request)
