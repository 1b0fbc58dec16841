"""Two-step login (allauth's TOTP with recovery codes) for everyone who sees many homes.

Coordinators, municipality staff, province analysts and administrators must have an
authenticator app set up: until they do, every page sends them to the page that sets it
up (the pages of allauth.mfa, logging out and the health check excepted). Once set up,
allauth asks for the code at every login. Residents and energy coaches may log in with a
password or an e-mail code (ACCOUNT_LOGIN_BY_CODE_ENABLED) and may add a second step
themselves. Someone in such a role cannot switch the second step off again (MfaAdapter).

Having an authenticator is not enough: the login itself must have passed the second step
(allauth records it in the session), or have set the authenticator up just now. A login
that began before the set-up, in another browser say, is ended and must log in again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts import access
from accounts.roles import Role

MFA_ROLES = (Role.COORDINATOR, Role.MUNICIPALITY_STAFF, Role.PROVINCE_ANALYST)
# The session remembers for which account the set-up was found: no query per request.
CHECKED = "wd_mfa_checked"
# What every login may open, and what someone without a second step may open besides:
# the pages of allauth.mfa that set it up (with the password asked again first).
ALWAYS_OPEN = frozenset({"account_logout", "health"})
SETUP_OPEN = frozenset({"account_reauthenticate"})


def needs_mfa(user) -> bool:
    return bool(user.is_superuser or user.is_staff or access.has_role(user, *MFA_ROLES))


def has_mfa(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def passed_second_step(request: HttpRequest) -> bool:
    """Whether this login entered a code of the user's authenticator (or a recovery code)."""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


def set_up_now(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Setting the authenticator up takes a valid code: this login has shown it has it."""
    if request is not None and getattr(request, "session", None) is not None:
        request.session[CHECKED] = user.pk


class RequireMfaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated:
            return None
        if request.session.get(CHECKED) == user.pk or request.path.startswith("/static/"):
            return None
        name = (request.resolver_match.url_name if request.resolver_match else "") or ""
        if name in ALWAYS_OPEN or not needs_mfa(user):
            return None
        if passed_second_step(request):
            # It stays set up: MfaAdapter refuses to remove it from someone in such a role.
            request.session[CHECKED] = user.pk
            return None
        if has_mfa(user):
            # Not even allauth's own pages: they would show the recovery codes to a login
            # that never entered a code.
            return self._log_in_again(request)
        if name in SETUP_OPEN or name.startswith("mfa_"):
            return None
        target = reverse("mfa_activate_totp")
        if request.headers.get("HX-Request") == "true":
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        messages.warning(
            request,
            _(
                "Your role gives access to the data of many households, so your login needs "
                "a second step. Set up an authenticator app first."
            ),
        )
        return redirect(target)

    def _log_in_again(self, request: HttpRequest) -> HttpResponse:
        logout(request)
        messages.info(request, _("Please log in again, with the code of your authenticator app."))
        target = f"{reverse('account_login')}?{urlencode({'next': request.get_full_path()})}"
        if request.headers.get("HX-Request") == "true":
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)


class MfaAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """Someone whose role needs the second step cannot switch it off."""
        if authenticator.type == Authenticator.Type.TOTP and needs_mfa(authenticator.user):
            return False
        return super().can_delete_authenticator(authenticator)
