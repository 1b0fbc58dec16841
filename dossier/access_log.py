"""Who looked at a household's data: an access entry for every read by someone else.

Every response that carries a household's data to someone other than its residents
writes one ACCESS entry into the audit log: who (the person, or the API key by its id
and name, never its secret), with which roles, which page or API operation, which topic
of the dossier, and when. Pages are marked with the `access_logged` decorator and API
operations with `access_logged_api`; tests/dossier/test_access_log_walk.py
walks every URL of the site and fails on one that names a household's record and is
neither marked nor on its justified list of exemptions.

What counts as carrying data: an answer 2xx (not 204), or the page shown again with
what was typed (409, 422). A redirect, a refusal and a 404 carry nothing. htmx partials
count too; so that the partials of one page view, a polling list or a row of autosaves
do not flood the log, one actor reading the same page (and topic) of the same record
within the same minute writes one entry (the cache remembers the minute).

The entry names the page by a code and the record by its id only: its representation is
"dossier 12", never the household's name, so the log holds no personal data of the
resident. A record that belongs to a household (a case, a visit, a NIP application) is
logged on that household, so the coordinator's "who looked" list shows it; a NIP
application taken at the municipality's desk, of no household, is logged on itself.

A list, search, dashboard or export that shows several households (with
`access_logged_list`) calls `listed` with the rows it shows: one entry per household, in
a fixed number of queries however long the list; tests/dossier/test_access_log_lists.py
holds every staff page without an id to it. A resident reading their own home is not
logged. Downloads of exports are also logged on the organisation by
accounts.exports.export_log; changes by auditlog's registrations
(dossier/models/__init__.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import wraps
from typing import TYPE_CHECKING, Any

from auditlog.cid import get_cid
from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import models
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import access
from accounts.api_tokens import KEY_KINDS
from accounts.models import ApiToken
from accounts.roles import Role
from dossier.models import Dossier, Household

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from accounts.models import User

# The pages whose views are logged, by the code the entry keeps.
PAGES = {
    "household": _("household page"),
    "dossier": _("dossier overview"),
    "section": _("dossier topic"),
    "visit": _("visit page"),
    "value_check": _("values to check"),
    "advice": _("advice"),
    "reports": _("advice reports"),
    "report_pdf": _("advice report (PDF)"),
    "messages": _("messages"),
    "documents": _("documents"),
    "document_file": _("document (file)"),
    "photos": _("photos"),
    "photo_file": _("photo (file)"),
    "follow_up": _("follow-up"),
    "case": _("case page"),
    "visit_calendar": _("visit appointment (calendar file)"),
    "nip_intake": _("NIP intake from the household"),
    "application": _("NIP application"),
    "application_file": _("file of a NIP application"),
    "consent": _("consent page"),
    "erase": _("erasure page"),
    # Lists, searches and exports that show several households (`access_logged_list`).
    "dashboard": _("start page (list of households)"),
    "household_list": _("household list"),
    "case_list": _("case queue"),
    "visit_list": _("visit list"),
    "application_list": _("NIP application list"),
    "consent_overview": _("consent overview"),
    "case_export": _("case export (download)"),
    "address_export": _("address export (download)"),
    "monitoring_export": _("NIP monitoring export (download)"),
}
# API operations are named by their operation id (the schema's), after this prefix.
API_PREFIX = "api:"
API_LABEL = _("API call %(operation)s")

# One entry per actor, record, page and topic per minute: the cache key lives a little
# longer than the minute it names.
DEDUPE_SECONDS = 120
CACHE_PREFIX = "access-log"


@dataclass(frozen=True)
class Subject:
    """How the record a URL names leads to the household whose data the answer carries.

    model: the record's model ("crm.Case"), by label: dossier may not import crm or nip.
    arg: the URL argument holding its id.
    household: the lookup from the record to its household's id; empty when the record
    is a household or a dossier itself (logged as it is).
    """

    model: str
    arg: str = "pk"
    household: str = ""

    def resolve(self, pks: Iterable[Any]) -> list[models.Model]:
        """The records to log for these ids: their households, or the records themselves."""
        model = apps.get_model(self.model)
        ids = [int(pk) for pk in pks if pk is not None]
        if not self.household:
            return [model(pk=pk) for pk in ids]
        found = dict(model._base_manager.filter(pk__in=ids).values_list("pk", self.household))
        return [
            Household(pk=found[pk]) if found.get(pk) is not None else model(pk=pk)
            for pk in ids
            if pk in found
        ]


SUBJECTS: dict[str, Subject] = {
    "household": Subject("dossier.Household"),
    "dossier": Subject("dossier.Dossier"),
    "case": Subject("crm.Case", household="household"),
    "visit": Subject("crm.Visit", household="case__household"),
    "task": Subject("crm.Task", household="case__household"),
    "application": Subject("nip.Application", household="household"),
    "executed_measure": Subject("nip.ExecutedMeasure", household="application__household"),
}
# A URL whose `kind` says which record its id is of (nip:application-file).
SUBJECTS_BY_KIND: dict[str, dict[str, str]] = {
    "application_file": {"natuurcheck": "application", "factuur": "executed_measure"},
}


def carries_data(response: HttpResponse, *, forms: bool = True) -> bool:
    """An answer with a record's data: 2xx with a body, or (forms) a page shown again with
    what was typed (409, 422). An API's 4xx carries messages only."""
    status = response.status_code
    return (200 <= status < 300 and status != 204) or (forms and status in (409, 422))


def is_staff(user: User) -> bool:
    return bool(user.is_superuser or access.roles_by_organisation(user))


def _roles(actor: User) -> list[str]:
    roles = sorted(
        {role for roles in access.roles_by_organisation(actor).values() for role in roles}
    )
    if actor.is_superuser:
        roles.append("administrator")
    return roles


def _token_roles(token: ApiToken) -> list[str]:
    """A key acts as the one role of its organisation's kind (accounts.api_tokens)."""
    kind = KEY_KINDS.get(token.organisation.kind)
    return [kind.role] if kind else []


def _entry(
    subject: models.Model,
    *,
    actor: User | None,
    token: ApiToken | None,
    page: str,
    topic: str,
    roles: list[str],
) -> LogEntry:
    data: dict[str, Any] = {"page": page, "roles": roles}
    if topic:
        data["topic"] = topic
    if token is not None:
        data["api_key"] = {"id": token.pk, "name": token.name}
    return LogEntry(
        content_type=ContentType.objects.get_for_model(subject),
        object_pk=str(subject.pk),
        object_id=subject.pk,
        object_repr=f"{subject._meta.model_name} {subject.pk}",
        action=LogEntry.Action.ACCESS,
        actor=actor,
        actor_email=actor.email if actor is not None else "",
        additional_data=data,
        cid=get_cid(),
    )


def access_log(
    *,
    actor: User | None = None,
    subject: models.Model,
    page: str,
    topic: str = "",
    token: ApiToken | None = None,
) -> LogEntry:
    """Record that `actor` (or the API key `token`) saw `page` of this record, always."""
    if token is not None:
        roles = _token_roles(token)
        actor = None
    else:
        assert actor is not None
        roles = _roles(actor)
    entry = _entry(subject, actor=actor, token=token, page=page, topic=topic, roles=roles)
    entry.save()
    return entry


def _minute_key(who: str, subject: models.Model, page: str, topic: str) -> str:
    minute = timezone.now().strftime("%Y%m%d%H%M")
    label = subject._meta.label_lower
    return f"{CACHE_PREFIX}:{who}:{label}:{subject.pk}:{page}:{topic}:{minute}"


def _homes_among(user: User, subjects: list[models.Model]) -> set[tuple[str, Any]]:
    """Which of these households and dossiers are the user's own home (at most 2 queries)."""
    homes: set[tuple[str, Any]] = set()
    for model, lookup in ((Household, "residents"), (Dossier, "household__residents")):
        ids = [s.pk for s in subjects if isinstance(s, model)]
        if ids:
            own = model.objects.filter(pk__in=ids, **{lookup: user}).values_list("pk", flat=True)
            homes |= {(model._meta.label, pk) for pk in own}
    return homes


def _logged_this_minute(
    actor: User | None,
    token: ApiToken | None,
    subjects: list[models.Model],
    page: str,
    topic: str,
) -> set[tuple[str, Any]]:
    """The records this actor's entries of this page already name in the current minute."""
    types = ContentType.objects.get_for_models(*{type(s) for s in subjects})
    labels = {types[model].pk: model._meta.label for model in types}
    entries = LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS,
        timestamp__gte=timezone.now().replace(second=0, microsecond=0),
        content_type__in=list(types.values()),
        object_id__in={s.pk for s in subjects},
    )
    entries = entries.filter(actor=actor) if actor is not None else entries.filter(actor=None)
    found = set()
    for type_id, object_id, data in entries.values_list(
        "content_type_id", "object_id", "additional_data"
    ):
        data = data or {}
        key = data.get("api_key") or {}
        if token is not None and key.get("id") != token.pk:
            continue
        if data.get("page") == page and data.get("topic", "") == topic:
            found.add((labels[type_id], object_id))
    return found


def access_record(
    request: HttpRequest,
    *,
    subjects: Iterable[models.Model],
    page: str,
    topic: str = "",
    listing: bool = False,
) -> list[LogEntry]:
    """Log this request's read of these records, once per actor, page and minute each.

    listing: the records are the rows of a list (of any length, one included).

    Nothing for anonymous requests (they reach no household) and nothing for a resident
    reading their own home.
    """
    token = getattr(request, "auth", None)
    token = token if isinstance(token, ApiToken) else None
    user = getattr(request, "user", None)
    subjects = list(subjects)
    if not subjects:
        return []
    if token is not None:
        actor, who = None, f"key{token.pk}"
    elif user is not None and user.is_authenticated and is_staff(user):
        actor, who = user, f"user{user.pk}"
    else:
        # Anonymous reaches no household; a person without a role only their own home.
        return []
    if not listing:
        # One record (a page, a partial, an autosave): the cache remembers the minute.
        # Most reads are repeats within it, settled by one cache read; add() is atomic
        # where the cache is shared (Redis), so of two partials loading at once one writes.
        [subject] = subjects
        key = _minute_key(who, subject, page, topic)
        if cache.get(key) is not None:
            return []
        if actor is not None and _homes_among(actor, subjects):
            # Someone who works for an initiative and lives here reads it as a resident.
            return []
        fresh = subjects if cache.add(key, 1, DEDUPE_SECONDS) else []
    else:
        # A list: a fixed number of queries however long the page is.
        logged = _logged_this_minute(actor, token, subjects, page, topic)
        fresh = [s for s in subjects if (s._meta.label, s.pk) not in logged]
        if actor is not None and fresh:
            homes = _homes_among(actor, fresh)
            fresh = [s for s in fresh if (s._meta.label, s.pk) not in homes]
    roles = _token_roles(token) if token is not None else _roles(actor)  # type: ignore[arg-type]
    entries = [
        _entry(s, actor=actor, token=token, page=page, topic=topic, roles=roles) for s in fresh
    ]
    if len(entries) == 1:
        entries[0].save()
    elif entries:
        # No signal needed: an access entry holds no changes to mask.
        LogEntry.objects.bulk_create(entries)
    return entries


def _subject_for(code: str, kwargs: Mapping[str, Any]) -> Subject:
    if code in SUBJECTS_BY_KIND:
        return SUBJECTS[SUBJECTS_BY_KIND[code][kwargs["kind"]]]
    return SUBJECTS[code]


def access_logged(page: str, subject: str = "dossier", *, arg: str = "") -> Callable:
    """Log each read of this page by someone other than the home's residents.

    subject: how the URL names its record (SUBJECTS: "dossier" for a view taking the
    dossier's `pk`, "case" for a case's, ...); arg: the URL argument with its id, when it
    is not `pk`. The view is marked (`access_logged`) so the walk test finds it.
    """
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}")
    if subject not in SUBJECTS and subject not in SUBJECTS_BY_KIND:
        raise ValueError(f"unknown subject {subject!r}")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def logged(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            if carries_data(response):
                how = _subject_for(subject, kwargs)
                if arg:
                    how = replace(how, arg=arg)
                access_record(
                    request,
                    subjects=how.resolve([kwargs.get(how.arg)]),
                    page=page,
                    topic=kwargs.get("section", ""),
                )
            return response

        logged.access_logged = page  # type: ignore[attr-defined]
        return logged

    return decorator


def access_logged_api(
    operation: str, subject: str = "dossier", *, rows: tuple[str, str] | None = None
) -> Callable[[type], type]:
    """Log each answer of this API operation (a DRF APIView) that carries households' data,
    for a session or an API key alike.

    operation: the operation id, as the schema names it.
    subject: how the URL names its record (SUBJECTS), for an operation on one record.
    rows: for a list, (subject, key): each row of the page's "results" names its record
    by `key`; one entry per record on the page.
    """
    if rows is not None and rows[0] not in SUBJECTS:
        raise ValueError(f"unknown subject {rows[0]!r}")
    if rows is None and subject not in SUBJECTS:
        raise ValueError(f"unknown subject {subject!r}")

    def decorate(cls: type) -> type:
        finalize = cls.finalize_response  # type: ignore[attr-defined]

        def finalize_response(self: Any, request: Any, response: Any, *args: Any, **kwargs: Any):
            response = finalize(self, request, response, *args, **kwargs)
            if carries_data(response, forms=False):
                if rows is not None:
                    data = response.data if isinstance(response.data, dict) else {}
                    found = [
                        r.get(rows[1]) for r in data.get("results") or [] if isinstance(r, dict)
                    ]
                    subjects = SUBJECTS[rows[0]].resolve(dict.fromkeys(found))
                else:
                    how = SUBJECTS[subject]
                    subjects = how.resolve([kwargs.get(how.arg)])
                access_record(
                    request,
                    subjects=_unique(subjects),
                    page=API_PREFIX + operation,
                    topic=kwargs.get("section", ""),
                    listing=rows is not None,
                )
            return response

        cls.finalize_response = finalize_response  # type: ignore[attr-defined]
        cls.access_logged = API_PREFIX + operation  # type: ignore[attr-defined]
        return cls

    return decorate


def _unique(subjects: list[models.Model]) -> list[models.Model]:
    seen: set[tuple[str, Any]] = set()
    result = []
    for subject in subjects:
        key = (subject._meta.label, subject.pk)
        if key not in seen:
            seen.add(key)
            result.append(subject)
    return result


def page_label(code: str) -> str:
    if code.startswith(API_PREFIX):
        return str(API_LABEL % {"operation": code.removeprefix(API_PREFIX)})
    return str(PAGES.get(code, code))


@dataclass(frozen=True)
class Viewed:
    when: datetime
    who: str
    roles: str
    page: str


def may_see_views(user: User, household: Household) -> bool:
    """The initiative's coordinators (and the administrator) see who looked."""
    if user.is_superuser:
        return True
    coordinating = access.organisations_with_role(user, [Role.COORDINATOR])
    return household.initiative_id in coordinating


def viewed(household: Household, *, limit: int = 25) -> list[Viewed]:
    """The newest reads of a household's data, as the coordinator reads them."""
    labels = dict(Role.choices) | {"administrator": _("administrator")}
    rows = []
    for entry in views_of(household)[:limit]:
        data = entry.additional_data or {}
        key = data.get("api_key")
        if isinstance(key, dict):
            who = str(_("API key %(name)s") % {"name": key.get("name", key.get("id", ""))})
        else:
            who = str(entry.actor) if entry.actor is not None else entry.actor_email
        roles = ", ".join(str(labels.get(role, role)) for role in data.get("roles", []))
        rows.append(
            Viewed(
                when=entry.timestamp, who=who, roles=roles, page=page_label(data.get("page", ""))
            )
        )
    return rows


def views_of(household: Household) -> QuerySet[LogEntry]:
    """The access entries of a household and its dossier, newest first."""
    types = ContentType.objects.get_for_models(Household, Dossier)
    dossier_id = Dossier.objects.filter(household=household).values_list("pk", flat=True).first()
    subjects = Q(content_type=types[Household], object_id=household.pk)
    if dossier_id is not None:
        subjects |= Q(content_type=types[Dossier], object_id=dossier_id)
    return (
        LogEntry.objects.filter(subjects, action=LogEntry.Action.ACCESS)
        .select_related("actor")
        .order_by("-timestamp")
    )


# Lists, searches and exports ----------------------------------------------------------


def _listed_subject(record: models.Model | int) -> models.Model:
    """A row of a list as what its entry is on: a household by itself or its id, a record
    of a household (a case, an application) as that household, one of none as itself."""
    if isinstance(record, int):
        return Household(pk=record)
    if isinstance(record, (Household, Dossier)):
        return record
    household_id = getattr(record, "household_id", None)
    if household_id is not None:
        return Household(pk=household_id)
    if not hasattr(record, "household_id"):
        raise TypeError(f"{type(record).__name__} is no record of a household")
    return record


def listed(
    request: HttpRequest, records: Iterable[models.Model | int], *, page: str
) -> list[LogEntry]:
    """Log a list, search or export that shows these households to staff: one entry per
    household shown (a case, a visit's case or an application counts as its household; a
    plain int is a household's id), once per actor, page and minute, in a fixed number of
    queries however long the list is (at most three: one to find this minute's entries,
    one for the viewer's own home, one bulk insert). Call it with the rows the page
    renders, after paging; the view is marked with `access_logged_list(page)`.
    """
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}")
    subjects = _unique([_listed_subject(r) for r in records if r is not None])
    return access_record(request, subjects=subjects, page=page, listing=True)


def access_logged_list(page: str) -> Callable:
    """Mark a view that shows a list of households and calls `listed` with its rows, so
    tests/dossier/test_access_log_lists.py finds it and holds it to one entry per row."""
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        view.access_listed = page  # type: ignore[attr-defined]
        return view

    return decorator
