"""What a request gets when the trouble is not in the code: a service down, a body too large.

Django converts any exception, raised by a view or by a middleware (a session loaded while
PostgreSQL is down), into the answer of handler400 or handler500 (config/urls.py). Those
two hand these cases to the answers here:

- PostgreSQL (or the Redis cache) unreachable: 503 with Retry-After, a Dutch page
  "Tijdelijk niet beschikbaar" for people and JSON for the API, not a 500. The request's
  transaction was rolled back, so the page says that what was sent was not saved.
- A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE: 413 with a message (JSON for the API).

The page renders without a request context: no context processors, no user, no database.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views import defaults

# Seconds a client (or a proxy) is asked to wait before trying again.
RETRY_AFTER = 120
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OperationalError, InterfaceError]
    try:
        from redis import exceptions as redis_exceptions
    except ImportError:  # pragma: no cover - redis is a pinned dependency
        pass
    else:
        errors += [redis_exceptions.ConnectionError, redis_exceptions.TimeoutError]
    return tuple(errors)


UNAVAILABLE_ERRORS = _unavailable_errors()


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_service_unavailable(exc: BaseException | None) -> bool:
    """Whether the exception (or one it was raised from) says a backing service is down."""
    return any(isinstance(error, UNAVAILABLE_ERRORS) for error in _chain(exc))


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """503: the Dutch page for people, JSON for the API; never cached, with Retry-After."""
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse(
            {
                "detail": _(
                    "The service is temporarily unavailable. Please try again in a few minutes."
                )
            },
            status=503,
        )
    else:
        html = render_to_string(
            "503.html",
            {"sent_something": request.method not in SAFE_METHODS, "home": "/"},
        )
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    add_never_cache_headers(response)
    return response


def too_large(request: HttpRequest) -> HttpResponse:
    megabytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
    message = _("The request is too large (at most %(size)s MB).") % {"size": f"{megabytes:g}"}
    if wants_json(request):
        return JsonResponse({"detail": message}, status=413)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400."""
    if isinstance(exception, RequestDataTooBig):
        return too_large(request)
    if isinstance(exception, BadRequest) and wants_json(request):
        # Raised for the sender (config.json_input.request_json): its message says why.
        # Not SuspiciousOperation, whose message can repeat what was sent.
        return JsonResponse({"detail": str(exception)}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: called while the exception is being handled, so sys.exc_info() has it."""
    if is_service_unavailable(sys.exc_info()[1]):
        return service_unavailable(request)
    return defaults.server_error(request)
