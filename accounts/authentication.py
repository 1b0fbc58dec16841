"""Authentication by an initiative's API key: `Authorization: Bearer <key>`.

A valid key authenticates as no user: request.user stays anonymous and request.auth is
the ApiToken. Every view that asks for a person (the dossier API, the HTML pages) thus
refuses a key by itself, and only a view whose permission says `admits_api_tokens` lets
one in (the CRM API, the aggregates API) and scopes what it shows by the key's organisation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from accounts import api_tokens
from accounts.models import ApiToken

if TYPE_CHECKING:
    # Not at run time: DRF imports this module while rest_framework.views is loading.
    from rest_framework.request import Request
    from rest_framework.views import APIView

KEYWORDS = (b"bearer", b"token")
SCHEME_NAME = "apiKey"


class ApiTokenAuthentication(BaseAuthentication):
    """Read an API key from the Authorization header, as "Bearer <key>" or "Token <key>"."""

    invalid = _("This API key is not valid (any more).")

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            # No key: the next authentication (the session) may still apply.
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Send the API key as: Authorization: Bearer <key>."))
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(self.invalid) from None
        # One answer for unknown, revoked and expired keys, and for keys of a deactivated
        # organisation. The key is never logged, not even in part.
        token = api_tokens.token_for_key(key)
        if token is None:
            raise AuthenticationFailed(self.invalid)
        api_tokens.token_touch(token)
        return AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        # Listed first in DEFAULT_AUTHENTICATION_CLASSES, so a request without valid
        # credentials gets 401 with this challenge rather than the session's 403.
        return 'Bearer realm="api"'


def has_api_token(request: Request) -> bool:
    return isinstance(getattr(request, "auth", None), ApiToken)


def admits_api_tokens(view: APIView) -> bool:
    """True when one of the view's permissions lets an API key in."""
    return any(getattr(p, "admits_api_tokens", False) for p in view.get_permissions())


class IsLoggedInOrHasApiToken(BasePermission):
    """A person who is logged in, or an API key: who may read the API's schema.

    The schema describes the API and holds no one's data; a system that has a key needs it
    to know the calls it may make.
    """

    admits_api_tokens = True

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated) or has_api_token(request)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = SCHEME_NAME

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[Any]] | None:
        # Only where a key is let in: elsewhere the key is read but refused, and the
        # schema should not say it works.
        if not admits_api_tokens(auto_schema.view):
            return None
        return {SCHEME_NAME: []}

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key of one organisation, made on its page 'API keys'. An energy "
                "initiative's key (made by a coordinator) acts as a coordinator of that "
                "initiative on the CRM API only; a municipality's or a province's key (made "
                "by its staff or analysts) reads that body's published figures on "
                "/api/v1/aggregates/ only. `Authorization: Token <key>` works too."
            ),
        }
