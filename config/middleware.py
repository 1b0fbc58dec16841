"""Request-wide transactions for the embedded SQLite default (see DATABASES in settings.py)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

# Requests that by HTTP's rules change nothing; they run without a request transaction.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _non_atomic(request: HttpRequest) -> bool:
    """The view opted out with @transaction.non_atomic_requests, as ATOMIC_REQUESTS allows."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return DEFAULT_DB_ALIAS in getattr(match.func, "_non_atomic_requests", set())


class WriteRequestTransactionMiddleware:
    """Run each request that may write (POST, PUT, PATCH, DELETE) in one transaction.

    ATOMIC_REQUESTS for unsafe methods only. SQLite has one writer at a time, and with
    transaction_mode IMMEDIATE a transaction takes the write lock when it begins: a
    transaction around every page view would make readers wait for each other. Listed
    last in MIDDLEWARE, so that it wraps the view and little else, as ATOMIC_REQUESTS does.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in SAFE_METHODS or _non_atomic(request):
            return self.get_response(request)
        with transaction.atomic():
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        # Django turns the view's exception into a response before __call__ sees it, so
        # without this the atomic block would commit what the failed view wrote.
        if request.method not in SAFE_METHODS and transaction.get_connection().in_atomic_block:
            transaction.set_rollback(True)
