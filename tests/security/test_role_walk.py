"""Walk every URL as every role of two organisations and anonymously (DESIGN.md's table).

Every URL name is classified below in ACCESS: who may reach it. The walk logs in as each
role of organisation 1 and of organisation 2 (tests/security/world.py), asks for the
objects of organisation 1, and compares what came back with the table. It fails on a
role that gets through where the table says no, on a role the table allows that is
refused, and on a URL name the table does not know yet: classify a new page here.

An object-scoped URL (an id in it) admits only the holders of its grants for that very
object: Alice, the assigned coach of household A1, holds "coach"; Bob, coach of the same
initiative, only "any-coach"; nobody of organisation 2 holds anything. A URL without an
object admits each person by their role, whichever organisation they belong to.

The same walk checks that no page a logged-in person sees may be kept by the browser
(Cache-Control: no-store) and that no link on those pages carries personal data.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests import builders
from tests.security.world import Actor, World, build_world

# The marker makes pytest-django create the test database; the world itself is built once
# for the module (the `walked` fixture) and rolled back at its end.
pytestmark = pytest.mark.django_db

# The grants and roles a table entry is made of.
ANONYMOUS = "anonymous"
RESIDENT = "resident"
COACH = "coach"  # the coach assigned to the household (only while assigned)
ANY_COACH = "any-coach"  # any coach of the organisation
COORDINATOR = "coordinator"
STAFF = "staff"  # municipality staff
ANALYST = "analyst"  # province analyst
ADMIN = "admin"  # the platform's administrator (superuser)

LOGGED_IN = frozenset({RESIDENT, COACH, ANY_COACH, COORDINATOR, STAFF, ANALYST, ADMIN})
PUBLIC = LOGGED_IN | {ANONYMOUS}
NOBODY: frozenset[str] = frozenset()


def roles(*names: str) -> frozenset[str]:
    return frozenset(names)


HOME = roles(RESIDENT, COACH, COORDINATOR)  # the household's own people
HOME_STAFF = roles(COACH, COORDINATOR)  # the household's people at the initiative
CASE_WORK = roles(COACH, COORDINATOR)

# URL name -> who may reach it. DESIGN.md, "People and what each may see".
ACCESS: dict[str, frozenset[str]] = {
    # Public pages and the login flow.
    "home": PUBLIC,
    "health": PUBLIC,
    "ready": PUBLIC,
    "account_login": PUBLIC,
    "account_signup": PUBLIC,
    "account_inactive": PUBLIC,
    "account_reset_password": PUBLIC,
    "account_reset_password_done": PUBLIC,
    "account_reset_password_from_key": PUBLIC,
    "account_reset_password_from_key_done": PUBLIC,
    "account_email_verification_sent": PUBLIC,
    "account_confirm_email": PUBLIC,
    "account_request_login_code": PUBLIC,
    "signup:form": PUBLIC,
    "signup:thanks": PUBLIC,
    "signup:privacy": PUBLIC,
    "dossier:invitation-accept": PUBLIC,
    "dossier-api:advice-calculate": PUBLIC,
    # One's own account.
    # Without a login the logout pages send one home, which reveals nothing.
    "account_logout": PUBLIC,
    "admin:logout": PUBLIC,
    "account_reauthenticate": LOGGED_IN,
    # Steps of a login under way: without one they send the visitor to the login.
    "account_confirm_login_code": LOGGED_IN,
    "mfa_authenticate": LOGGED_IN,
    "account_email": LOGGED_IN,
    "account_change_password": LOGGED_IN,
    "account_set_password": LOGGED_IN,
    "mfa_index": LOGGED_IN,
    "mfa_reauthenticate": LOGGED_IN,
    "mfa_activate_totp": LOGGED_IN,
    "mfa_deactivate_totp": LOGGED_IN,
    "mfa_view_recovery_codes": LOGGED_IN,
    "mfa_generate_recovery_codes": LOGGED_IN,
    "mfa_download_recovery_codes": LOGGED_IN,
    "usersessions_list": LOGGED_IN,
    "dossier:dashboard": LOGGED_IN,
    "api-schema": LOGGED_IN,
    # Organisations and their API keys.
    "accounts:organisation-detail": roles(ANY_COACH, COORDINATOR),
    "accounts:api-token-list": roles(COORDINATOR),
    "accounts:api-token-create": roles(COORDINATOR),
    "accounts:api-token-revoke": roles(COORDINATOR),
    # The house dossier: the resident, the assigned coach, the coordinator.
    "dossier:household-list": HOME,
    "dossier:household-detail": HOME,
    "dossier:dossier-overview": HOME,
    "dossier:dossier-section": HOME,
    "dossier:dossier-visit": HOME_STAFF,
    "dossier:dossier-advice": HOME,
    "dossier:dossier-reports": HOME,
    "dossier:report-progress": HOME,
    "dossier:report-file": HOME,
    "dossier:report-retry": HOME_STAFF,
    "dossier:report-printed": HOME_STAFF,
    "dossier:value-check": HOME_STAFF,
    "dossier:dossier-invite": HOME_STAFF,
    "dossier:dossier-messages": HOME,
    "dossier:dossier-documents": HOME,
    "dossier:document-file": HOME,
    "dossier:document-delete": HOME_STAFF,
    "dossier:dossier-photos": HOME,
    "dossier:photo-image": HOME,
    "dossier:photo-thumbnail": HOME,
    "dossier:photo-delete": HOME_STAFF,
    # The CRM: the coordinator, and the assigned coach for their own households.
    "crm:import-upload": roles(COORDINATOR),
    "crm:import-mapping": roles(COORDINATOR),
    "crm:import-preview": roles(COORDINATOR),
    "crm:import-confirm": roles(COORDINATOR),
    "crm:import-result": roles(COORDINATOR),
    "crm:import-cancel": roles(COORDINATOR),
    "crm:dashboard": roles(COORDINATOR),
    "crm:initiative-dashboard": roles(COORDINATOR),
    "crm:case-export": roles(COORDINATOR),
    "crm:case-list": CASE_WORK,
    "crm:case-bulk-assign": roles(COORDINATOR),
    "crm:case-detail": CASE_WORK,
    "crm:case-assign": roles(COORDINATOR),
    "crm:case-known-address": roles(COORDINATOR),
    "crm:case-transition": CASE_WORK,
    "crm:case-invite": CASE_WORK,
    "crm:case-note-add": CASE_WORK,
    "crm:visit-plan": CASE_WORK,
    "crm:task-add": CASE_WORK,
    "crm:visit-list": CASE_WORK,
    "crm:visit-ics": CASE_WORK,
    "crm:visit-done": CASE_WORK,
    "crm:visit-cancel": CASE_WORK,
    "crm:task-done": CASE_WORK,
    # The follow-up question: the resident answers it from the mail, the coach by phone.
    "crm:follow-up": HOME,
    "crm:coach-list": roles(COORDINATOR),
    "crm:coach-profile": roles(COORDINATOR),
    # The NIP: the municipality's staff.
    "nip:programme-list": roles(STAFF),
    "nip:programme-new": roles(STAFF),
    "nip:programme-detail": roles(STAFF),
    "nip:programme-edit": roles(STAFF),
    "nip:business-case": roles(STAFF),
    "nip:business-case-edit": roles(STAFF),
    "nip:application-list": roles(STAFF),
    "nip:application-new": roles(STAFF),
    "nip:application-detail": roles(STAFF),
    "nip:application-edit": roles(STAFF),
    "nip:application-approve": roles(STAFF),
    "nip:application-reject": roles(STAFF),
    "nip:application-withdraw": roles(STAFF),
    "nip:application-payment": roles(STAFF),
    "nip:application-species": roles(STAFF),
    "nip:application-measure": roles(STAFF),
    "nip:application-complete": roles(STAFF),
    "nip:application-file": roles(STAFF),
    "nip:household-intake": HOME_STAFF,
    "nip:monitoring": roles(STAFF),
    "nip:monitoring-download": roles(STAFF),
    "nip:monitoring-export-create": roles(STAFF),
    "nip:monitoring-export": roles(STAFF),
    "nip:monitoring-export-download": roles(STAFF),
    # The data platform: consent by the household's people, agreements by both parties,
    # figures for government, address-level data only under an agreement.
    "dataplatform:consent-overview": roles(COORDINATOR),
    "dataplatform:consent": HOME,
    "dataplatform:agreement-list": roles(COORDINATOR, STAFF, ANALYST),
    "dataplatform:agreement-detail": roles(COORDINATOR, STAFF),
    "dataplatform:agreement-document": roles(COORDINATOR, STAFF),
    "dataplatform:dashboard": roles(STAFF, ANALYST),
    "dataplatform:address-export": roles(STAFF),
    "dataplatform:aggregates-csv": roles(STAFF, ANALYST),
    # Privacy: the register, the coordinator's retention settings and removal list.
    "privacy:my-data": roles(RESIDENT),
    "privacy:my-data-json": roles(RESIDENT),
    "privacy:my-data-pdf": roles(RESIDENT),
    "privacy:household-erase": roles(COORDINATOR),
    "privacy:household-erased": roles(COORDINATOR),
    "privacy:retention-settings": roles(COORDINATOR),
    "privacy:retention-removals-csv": roles(COORDINATOR),
    "privacy:register-csv": roles(COORDINATOR, STAFF, ADMIN),
    # The API.
    "dossier-api:dossier-list": HOME_STAFF,
    "dossier-api:dossier-detail": HOME_STAFF,
    "dossier-api:dossier-section-update": HOME_STAFF,
    "crm-api:case-list": CASE_WORK,
    "crm-api:case-open": roles(COORDINATOR),
    "crm-api:case-detail": CASE_WORK,
    "crm-api:case-transition": CASE_WORK,
    "crm-api:case-assign": roles(COORDINATOR),
    "crm-api:visit-plan": CASE_WORK,
    "crm-api:task-add": CASE_WORK,
    "crm-api:household-list": CASE_WORK,
    "crm-api:household-detail": CASE_WORK,
    "crm-api:visit-list": CASE_WORK,
    "crm-api:visit-detail": CASE_WORK,
    "crm-api:visit-done": CASE_WORK,
    "crm-api:visit-cancel": CASE_WORK,
    "crm-api:task-list": CASE_WORK,
    "crm-api:task-done": CASE_WORK,
    # A calculation on answers given in the request: no stored data.
    "nip-api:eligibility": roles(STAFF, COORDINATOR, ANY_COACH),
    "dataplatform-api:aggregates": roles(STAFF, ANALYST),
}

# Lists that answer every logged-in person and show each only their own rows: who is not in
# the table gets an empty list (test_no_page_shows_organisation_1s_household_to_outsiders).
EMPTY_FOR_OTHERS = {"dossier:household-list", "dossier-api:dossier-list"}

# Whole namespaces that belong to one role: Django's admin is the administrator's.
ACCESS_BY_NAMESPACE: dict[str, frozenset[str]] = {"admin": roles(ADMIN)}

# Where the table is a ceiling, not a promise: the admin keeps many models read-only (no
# add or delete), and the erased-household page answers 404 until a household is erased.
CEILING_ONLY = {"privacy:household-erased"}
CEILING_ONLY_NAMESPACES = {"admin"}

# URL arguments that choose a view of the page rather than an object.
NOT_OBJECTS = {"section", "level", "variant", "fmt", "period", "kind", "app_label"}


# URL name -> the kwargs that point at organisation 1's object (or a view of a page).
ARGS: dict[str, Callable[[World], dict[str, Any]]] = {
    "account_confirm_email": lambda w: {"key": "nope"},
    "account_reset_password_from_key": lambda w: {"uidb36": "1", "key": "set-password"},
    "signup:form": lambda w: {"slug": w.initiative_a.slug},
    "signup:thanks": lambda w: {"slug": w.initiative_a.slug},
    "signup:privacy": lambda w: {"slug": w.initiative_a.slug, "version": w.privacy_version},
    "dossier:invitation-accept": lambda w: {"uidb64": w.invitation[0], "token": w.invitation[1]},
    "accounts:organisation-detail": lambda w: {"slug": w.initiative_a.slug},
    "privacy:household-erase": lambda w: {"pk": w.household_a.pk},
    "privacy:household-erased": lambda w: {"pk": w.household_a.pk},
    "privacy:retention-settings": lambda w: {"slug": w.initiative_a.slug},
    "privacy:retention-removals-csv": lambda w: {"slug": w.initiative_a.slug},
    "accounts:api-token-list": lambda w: {"slug": w.initiative_a.slug},
    "accounts:api-token-create": lambda w: {"slug": w.initiative_a.slug},
    "accounts:api-token-revoke": lambda w: {"slug": w.initiative_a.slug, "pk": w.token.pk},
    "dossier:household-detail": lambda w: {"pk": w.household_a.pk},
    "dossier:dossier-section": lambda w: {"pk": w.household_a.dossier.pk, "section": "house"},
    "dossier:report-file": lambda w: {"pk": w.household_a.dossier.pk, "report_pk": w.report.pk},
    "dossier:report-retry": lambda w: {"pk": w.household_a.dossier.pk, "report_pk": w.report.pk},
    "dossier:report-printed": lambda w: {"pk": w.household_a.dossier.pk, "report_pk": w.report.pk},
    "dossier:document-file": lambda w: {"pk": w.household_a.dossier.pk, "doc_pk": w.document.pk},
    "dossier:document-delete": lambda w: {
        "pk": w.household_a.dossier.pk,
        "doc_pk": w.document.pk,
    },
    "dossier:photo-image": lambda w: {"pk": w.household_a.dossier.pk, "photo_pk": w.photo.pk},
    "dossier:photo-thumbnail": lambda w: {"pk": w.household_a.dossier.pk, "photo_pk": w.photo.pk},
    "dossier:photo-delete": lambda w: {"pk": w.household_a.dossier.pk, "photo_pk": w.photo.pk},
    "crm:initiative-dashboard": lambda w: {"pk": w.initiative_a.pk},
    "crm:case-export": lambda w: {"pk": w.initiative_a.pk, "variant": "met-adres", "fmt": "csv"},
    "crm:visit-ics": lambda w: {"pk": w.visit.pk},
    "crm:visit-done": lambda w: {"pk": w.visit.pk},
    "crm:visit-cancel": lambda w: {"pk": w.visit.pk},
    "crm:task-done": lambda w: {"pk": w.task.pk},
    "crm:follow-up": lambda w: {"pk": w.household_a.dossier.pk},
    "crm:coach-profile": lambda w: {
        "initiative": w.initiative_a.pk,
        "pk": w.actor("coach").user.pk,
    },
    "nip:application-list": lambda w: {"programme": w.programme.pk},
    "nip:application-new": lambda w: {"programme": w.programme.pk},
    "nip:application-file": lambda w: {"kind": "natuurcheck", "pk": w.application.pk},
    "nip:household-intake": lambda w: {"pk": w.household_a.pk},
    "nip:monitoring-download": lambda w: {"pk": w.programme.pk, "period": "2024-h1", "fmt": "csv"},
    "nip:monitoring-export": lambda w: {"export": w.export.pk},
    "nip:monitoring-export-download": lambda w: {"export": w.export.pk},
    "dataplatform:consent": lambda w: {"household_pk": w.household_a.pk},
    "dataplatform:agreement-detail": lambda w: {"pk": w.agreement.pk},
    "dataplatform:agreement-document": lambda w: {"pk": w.agreement.pk},
    "dataplatform:aggregates-csv": lambda w: {"level": "pc6"},
    "dossier-api:dossier-section-update": lambda w: {
        "pk": w.household_a.dossier.pk,
        "section": "house",
    },
    "crm-api:household-detail": lambda w: {"pk": w.household_a.pk},
    "crm-api:visit-detail": lambda w: {"pk": w.visit.pk},
    "crm-api:visit-done": lambda w: {"pk": w.visit.pk},
    "crm-api:visit-cancel": lambda w: {"pk": w.visit.pk},
    "crm-api:task-done": lambda w: {"pk": w.task.pk},
    "dataplatform-api:aggregates": lambda w: {"level": "pc6"},
}


def _pk_of(attr: str) -> Callable[[World], dict[str, Any]]:
    def args(w: World) -> dict[str, Any]:
        obj = w
        for part in attr.split("."):
            obj = getattr(obj, part)
        return {"pk": obj.pk}

    return args


# Names whose only argument is `pk` of one object.
for _names, _attr in [
    (
        [
            "dossier:dossier-overview",
            "dossier:dossier-visit",
            "dossier:dossier-advice",
            "dossier:dossier-reports",
            "dossier:report-progress",
            "dossier:value-check",
            "dossier:dossier-invite",
            "dossier:dossier-messages",
            "dossier:dossier-documents",
            "dossier:dossier-photos",
            "dossier-api:dossier-detail",
        ],
        "household_a.dossier",
    ),
    (
        [
            "crm:case-detail",
            "crm:case-assign",
            "crm:case-known-address",
            "crm:case-transition",
            "crm:case-invite",
            "crm:case-note-add",
            "crm:visit-plan",
            "crm:task-add",
            "crm-api:case-detail",
            "crm-api:case-transition",
            "crm-api:case-assign",
            "crm-api:visit-plan",
            "crm-api:task-add",
        ],
        "case",
    ),
    (
        [
            "nip:programme-detail",
            "nip:programme-edit",
            "nip:business-case",
            "nip:business-case-edit",
            "nip:monitoring",
            "nip:monitoring-export-create",
        ],
        "programme",
    ),
    (
        [
            "nip:application-detail",
            "nip:application-edit",
            "nip:application-approve",
            "nip:application-reject",
            "nip:application-withdraw",
            "nip:application-payment",
            "nip:application-species",
            "nip:application-measure",
            "nip:application-complete",
        ],
        "application",
    ),
]:
    for _name in _names:
        ARGS[_name] = _pk_of(_attr)

for _name in [
    "crm:import-mapping",
    "crm:import-preview",
    "crm:import-confirm",
    "crm:import-result",
    "crm:import-cancel",
]:
    ARGS[_name] = lambda w: {"upload": w.import_id}

# Django's admin lets in staff users only (is_staff), whatever their roles: walked as these.
ADMIN_WALKERS = {ANONYMOUS, "resident", "coordinator", "staff", "admin"}

# Never sent as a POST: it would end the walk's session (GET shows the confirmation page).
NO_POST = {"account_logout", "admin:logout"}
ALLAUTH_PREFIXES = ("account_", "mfa_", "usersessions_")


# The URL patterns ------------------------------------------------------------------------


def _patterns(patterns, namespace: str = "", kwargs: tuple[str, ...] = ()) -> Iterator:
    for entry in patterns:
        found = kwargs + tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry.url_patterns, ns, found)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", frozenset(found)


URL_NAMES: dict[str, frozenset[str]] = dict(_patterns(get_resolver().url_patterns))


def allowed_for(name: str) -> frozenset[str] | None:
    if name in ACCESS:
        return ACCESS[name]
    return ACCESS_BY_NAMESPACE.get(name.split(":", 1)[0]) if ":" in name else None


def is_object_scoped(name: str) -> bool:
    return bool(URL_NAMES[name] - NOT_OBJECTS)


def admin_args(name: str, kwargs: frozenset[str], world: World) -> dict[str, Any]:
    """Arguments of an admin page: a real row of the page's model."""
    if name == "admin:app_list":
        return {"app_label": "accounts"}
    if name == "admin:view_on_site":
        from django.contrib.contenttypes.models import ContentType

        return {
            "content_type_id": ContentType.objects.get_for_model(world.initiative_a).pk,
            "object_id": world.initiative_a.pk,
        }
    app_model = name.removeprefix("admin:").rsplit("_", 1)[0]
    for model in apps.get_models():
        if f"{model._meta.app_label}_{model._meta.model_name}" == app_model:
            row = model._default_manager.order_by("pk").first()
            return {"object_id": row.pk if row else 1} if "object_id" in kwargs else {}
    if "id" in kwargs:  # the user's password page
        return {"id": world.actor("resident").user.pk}
    return {}


def url_for(name: str, world: World) -> str:
    kwargs = URL_NAMES[name]
    if name.startswith("admin:") and kwargs:
        return reverse(name, kwargs=admin_args(name, kwargs, world))
    return reverse(name, kwargs=ARGS[name](world) if kwargs else None)


def expected(name: str, actor: Actor) -> bool:
    allowed = allowed_for(name) or NOBODY
    if actor.role == ANONYMOUS:
        return ANONYMOUS in allowed
    if allowed >= LOGGED_IN:
        return True
    if is_object_scoped(name):
        return bool(allowed & actor.grants)
    role_grants = {COACH, ANY_COACH} if actor.role == COACH else {actor.role}
    return bool(allowed & role_grants)


# The walk --------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    url: str
    actor: str
    method: str
    status: int
    location: str
    cache_control: str
    links: list[str]
    # What of household A1 (name, street, e-mail) the response showed.
    secrets: list[str]
    # The URL's first answer (its GET, or its write when it takes no GET). The table says
    # who may reach a URL: a write may ask more (a coach reads a page that only the
    # coordinator changes), so only the first answer must let everyone in the table in.
    primary: bool = True

    @property
    def kind(self) -> str:
        """allowed, denied, login or elsewhere."""
        if self.status == 401 or (
            300 <= self.status < 400 and self.location.startswith(LOGIN_PAGES)
        ):
            return "login"
        if self.status in (403, 404, 405):
            return "denied"
        if 300 <= self.status < 400 and self.method == "GET":
            # A page that sends the person elsewhere (their own home page) shows nothing;
            # a POST that redirects has done its work and counts as allowed.
            return "elsewhere"
        # 2xx, a POST that did its work, or a form refused for its empty data (400): the
        # request got past the access check.
        return "allowed"

    def __str__(self) -> str:
        return f"{self.actor:<16} {self.method:<5} {self.status} {self.url} ({self.name})"


# Where a visitor without the right login is sent: allauth's login, the admin's login.
LOGIN_PAGES = (resolve_url(settings.LOGIN_URL), reverse("admin:login"))

LINK = re.compile(r"""(?:href|src|action|hx-get|hx-post|data-url)\s*=\s*["']([^"']+)["']""")


def _links(response, body: bytes) -> list[str]:
    if "text/html" not in response.get("Content-Type", ""):
        return []
    return LINK.findall(body.decode(errors="replace"))


def _send(client: Client, method: str, url: str) -> tuple[Any, bytes]:
    # Each request in its own savepoint, rolled back: as each real request has its own
    # transaction, and so a POST with empty data changes nothing for the next one.
    with transaction.atomic():
        call = getattr(client, method.lower())
        if method == "GET":
            response = call(url)
        elif url.startswith("/api/"):
            response = call(url, {}, content_type="application/json")
        else:
            response = call(url, {})
        # A streamed file is read while its rows are still there.
        body = b"".join(response.streaming_content) if response.streaming else response.content
        transaction.set_rollback(True)
    return response, body


def _request(client: Client, name: str, url: str, media: Media) -> list[tuple[str, Any, bytes]]:
    """GET, then the first write method the URL takes: each is judged on its own.

    A view that checks access on GET but loads its object another way on POST would leak
    through the write; every view that takes a write is sent one, with empty data. The
    Django admin checks only is_staff, whatever the method, and allauth's own pages hold
    the caller's own account only (their writes ask for the password again first): both
    get the GET alone.
    """
    answers = []
    get_only = name in NO_POST or name.startswith(("admin:", *ALLAUTH_PREFIXES))
    methods = ["GET"] if get_only else ["GET", "POST", "PATCH", "PUT"]
    for method in methods:
        saved = SimpleCookie(client.cookies)
        response, body = _send(client, method, url)
        client.cookies = saved
        if method != "GET":
            # Files are not rolled back with the database: a delete or a cancelled import
            # would take them from the next person.
            media.restore()
        if response.status_code != 405 or (method == "GET" and len(methods) == 1):
            answers.append((method, response, body))
            if method != "GET":
                break
    if not answers:  # every method refused: the last answer stands for the URL
        answers.append((method, response, body))
    return answers


class Media:
    """The media folder of the world, put back as it was after each write."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.snapshot = self.root.with_name(self.root.name + "-snapshot")

    def keep(self) -> None:
        shutil.copytree(self.root, self.snapshot)

    def restore(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.copytree(self.snapshot, self.root)


def walk(world: World, media: Media) -> list[Outcome]:
    outcomes = []
    for actor in world.actors:
        client = Client()
        if actor.user is not None:
            builders.log_in_with_second_step(client, actor.user)
            RecoveryCodes.activate(actor.user)
        for name in sorted(URL_NAMES):
            if allowed_for(name) is None or (
                URL_NAMES[name] and not name.startswith("admin:") and name not in ARGS
            ):
                continue  # reported by the classification tests
            if name.startswith("admin:") and actor.name not in ADMIN_WALKERS:
                continue
            url = url_for(name, world)
            for number, (method, response, body) in enumerate(_request(client, name, url, media)):
                text = body.decode(errors="replace").lower()
                outcomes.append(
                    Outcome(
                        name=name,
                        url=url,
                        actor=actor.name,
                        method=method,
                        status=response.status_code,
                        location=response.get("Location", ""),
                        cache_control=response.get("Cache-Control", ""),
                        links=_links(response, body) if response.status_code == 200 else [],
                        secrets=[s for s in world.household_a_secrets if s.lower() in text],
                        primary=number == 0,
                    )
                )
    return outcomes


@dataclass
class Walked:
    world: World
    outcomes: list[Outcome]


@pytest.fixture(scope="module")
def walked(django_db_setup, django_db_blocker) -> Iterator[Walked]:
    """One world, walked once for the whole module, then rolled back."""
    with (
        django_db_blocker.unblock(),
        tempfile.TemporaryDirectory() as folder,
        override_settings(
            MEDIA_ROOT=str(Path(folder) / "media"),
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            ACCOUNT_RATE_LIMITS=False,
        ),
        transaction.atomic(),
    ):
        world = build_world()
        media = Media(settings.MEDIA_ROOT)
        media.keep()
        outcomes = walk(world, media)
        yield Walked(world, outcomes)
        transaction.set_rollback(True)


# The tests -------------------------------------------------------------------------------


def test_every_url_name_is_in_the_access_table():
    unknown = sorted(name for name in URL_NAMES if allowed_for(name) is None)
    assert not unknown, (
        "These URL names are not in tests/security/test_role_walk.py's ACCESS table. "
        "Say who may reach each one (DESIGN.md, 'People and what each may see'):\n"
        + "\n".join(unknown)
    )


def test_the_access_table_names_only_urls_that_exist():
    assert not set(ACCESS) - set(URL_NAMES), set(ACCESS) - set(URL_NAMES)
    assert not set(ARGS) - set(URL_NAMES), set(ARGS) - set(URL_NAMES)


def test_every_url_with_an_object_gets_a_real_object():
    missing = sorted(
        name
        for name, kwargs in URL_NAMES.items()
        if kwargs and not name.startswith("admin:") and name not in ARGS
    )
    assert not missing, (
        "Give these URL names their arguments in ARGS (tests/security/test_role_walk.py): "
        "a real object of organisation 1 from tests/security/world.py:\n" + "\n".join(missing)
    )


def test_it_walks_every_name_as_every_role(walked):
    names = {o.name for o in walked.outcomes}
    assert len(names) > 150
    assert len({o.actor for o in walked.outcomes}) == 13
    assert all(
        len({o.actor for o in walked.outcomes if o.name == name}) == 13
        for name in names
        if not name.startswith("admin:")
    )


def test_no_one_reaches_a_page_beyond_the_table(walked):
    leaks = [
        str(o)
        for o in walked.outcomes
        if o.kind == "allowed"
        and not expected(o.name, walked.world.actor(o.actor))
        and not (o.name in EMPTY_FOR_OTHERS and o.actor != ANONYMOUS and o.method == "GET")
    ]
    assert not leaks, "Access beyond DESIGN.md's table:\n" + "\n".join(leaks)


def test_everyone_the_table_allows_reaches_the_page(walked):
    refused = [
        str(o)
        for o in walked.outcomes
        if o.primary
        and o.kind in ("denied", "login")
        and expected(o.name, walked.world.actor(o.actor))
        and o.name not in CEILING_ONLY
        and o.name.split(":", 1)[0] not in CEILING_ONLY_NAMESPACES
    ]
    assert not refused, "Refused although the table allows it:\n" + "\n".join(refused)


def test_an_anonymous_visitor_is_sent_to_the_login_or_refused(walked):
    """A page sends them to the login; the API answers 401 (CONTRIBUTING.md)."""
    wrong = [
        str(o)
        for o in walked.outcomes
        if o.actor == ANONYMOUS
        and ANONYMOUS not in (allowed_for(o.name) or NOBODY)
        and not (o.url.startswith("/api/") and o.status in (401, 403))
        and o.kind != "login"
    ]
    assert not wrong, "\n".join(wrong)


def test_no_page_shown_to_a_logged_in_person_is_kept_by_the_browser(walked):
    shown = [o for o in walked.outcomes if o.actor != ANONYMOUS and o.status == 200]
    kept = [str(o) for o in shown if "no-store" not in o.cache_control]
    assert not kept, "Cache-Control without no-store:\n" + "\n".join(kept)
    # The walk reached real pages behind real ids, not only lists.
    assert len({o.name for o in shown if is_object_scoped(o.name)}) > 40


POSTCODE = re.compile(r"\d{4}\s?[A-Z]{2}")


def test_no_link_carries_personal_data(walked):
    words = [w.lower() for w in walked.world.personal]
    found = []
    links = 0
    for outcome in walked.outcomes:
        for link in outcome.links:
            # mailto: and tel: links are the point of a contact page and never reach a
            # server's log; data: URIs are inline images.
            if link.startswith(("data:", "mailto:", "tel:")):
                continue
            links += 1
            text = unquote(link)
            path = urlsplit(text)
            if POSTCODE.search(path.path + "?" + path.query) or any(
                w in text.lower() for w in words
            ):
                found.append(f"{outcome}: {link}")
    assert not found, "Personal data in a URL:\n" + "\n".join(sorted(set(found)))
    assert links > 500


# Who has nothing to do with household A1: they may not see its name, street or e-mail
# address anywhere, lists and exports included. The administrator is held to it outside
# Django's admin (DESIGN.md: no casual access to dossiers).
OUTSIDERS = {
    ANONYMOUS,
    "resident_b",
    "coach_unassigned",
    "coach_b",
    "coordinator_b",
    "staff_b",
    "analyst",
    "admin",
}


def test_no_page_shows_organisation_1s_household_to_outsiders(walked):
    shown = [
        f"{o}: {', '.join(o.secrets)}"
        for o in walked.outcomes
        if o.actor in OUTSIDERS and o.secrets and not o.name.startswith("admin:")
    ]
    assert not shown, "Household A1 shown to someone outside it:\n" + "\n".join(shown)
    # The check can see: the household's own people are shown its name.
    assert any(o.secrets for o in walked.outcomes if o.actor == "coordinator")
