"""One rate of API calls per caller: per key for a system, per person for someone logged in;
and one for all keys of an organisation together, so that making more keys buys no more.

A key that leaks, or an integration caught in a loop, would otherwise take the server's
time from everyone else. Counted in the cache (Redis in production), under the key's or
the person's id, never under anything personal. A caller with neither reaches only the
401/403 answers, which cost nothing to give, and the public calculation, which has its
own rate per address (dossier.advice_api).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


# Set on a request its caller's own rate refused: DRF asks every throttle even after one
# said no, and a call that is refused anyway must not use up the organisation's rate.
REFUSED = "_api_caller_refused"


class ApiCallerThrottle(SimpleRateThrottle):
    scope = "api"

    def allow_request(self, request: Request, view: APIView) -> bool:
        allowed = super().allow_request(request, view)
        if not allowed:
            setattr(request, REFUSED, True)
        return allowed

    def get_rate(self) -> str:
        # Read when asked, not when the class is made: a changed setting then applies.
        # Like DRF, a missing rate is a configuration error, never a silent "no limit".
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        token = getattr(request, "auth", None)
        if isinstance(token, ApiToken):
            caller = f"key-{token.pk}"
        elif request.user and request.user.is_authenticated:
            caller = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": caller}


class ApiOrganisationThrottle(ApiCallerThrottle):
    """Listed after ApiCallerThrottle: it counts only the calls a key's own rate let through."""

    scope = "api-organisation"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if getattr(request, REFUSED, False):
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        token = getattr(request, "auth", None)
        if not isinstance(token, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"org-{token.organisation_id}"}


def schema_too_many_requests(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular hook: every operation may answer 429 once its caller is past the rate."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault(
                    "429", {"description": "Too many calls; try again after Retry-After seconds."}
                )
    return result
