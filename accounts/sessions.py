"""How long a login lasts, and the end of every login of an account that is switched off.

A session ends after `SESSION_IDLE_TIMEOUT` seconds without a request and, however busy,
`SESSION_ABSOLUTE_TIMEOUT` seconds after the login. The next request is then anonymous:
a page sends the person to the login with a message and comes back after it; an htmx
request gets an HX-Redirect to the login. What was typed into a dossier form is kept on
the device until it is saved (static/js/autosave.js), so signing in again loses nothing.

Deactivating an account (is_active set to False) ends all its sessions at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

STARTED = "wd_session_started"
SEEN = "wd_session_seen"
# Writing the last request's time at most this often keeps most requests from saving
# the session.
SEEN_PRECISION = 60


def session_started(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """user_logged_in: the clock of the new session starts."""
    now = int(time.time())
    request.session[STARTED] = now
    request.session[SEEN] = now


def _expired(request: HttpRequest, now: int) -> bool:
    started = request.session.get(STARTED)
    seen = request.session.get(SEEN)
    if started is None or seen is None:
        # A session from before these limits: its clock starts now.
        request.session[STARTED] = request.session[SEEN] = now
        return False
    if now - started > settings.SESSION_ABSOLUTE_TIMEOUT:
        return True
    return now - seen > settings.SESSION_IDLE_TIMEOUT


class SessionLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            if _expired(request, now):
                logout(request)
                messages.info(
                    request, _("You were signed out to protect your data. Sign in again to go on.")
                )
                login = redirect_to_login(
                    request.get_full_path() if request.method == "GET" else request.path
                )
                if request.headers.get("HX-Request") == "true":
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = login["Location"]
                    return response
                return login
            if now - request.session.get(SEEN, 0) >= SEEN_PRECISION:
                request.session[SEEN] = now
        return self.get_response(request)


def sessions_end(user: Any) -> int:
    """End every session of this account; returns how many were ended."""
    ended = 0
    for session in UserSession.objects.filter(user=user):
        session.end()
        ended += 1
    return ended


def on_user_saving(sender: Any, instance: Any, **kwargs: Any) -> None:
    """pre_save of the user: remember whether the stored account was active."""
    update_fields = kwargs.get("update_fields")
    if instance.pk is None or (update_fields is not None and "is_active" not in update_fields):
        # New, or a save that leaves is_active alone (a login's last_login, say).
        instance._was_active = False
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
    instance._was_active = bool(stored)


def on_user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """post_save of the user: switched off, so every login of it ends."""
    if getattr(instance, "_was_active", False) and not instance.is_active:
        sessions_end(instance)
