"""Who looked at a household's data: an access entry for every staff view of its pages.

`access_logged` wraps a view of one household or dossier (by its `pk`). When the view
answers 200 to a GET by a member of staff (anyone with a role, or the administrator),
one ACCESS entry goes into the audit log: who, with which roles, which page, when. A
resident looking at their own home is not logged. The entry names the page by a code
and the record by its id only: its representation is "dossier 12", never the
household's name, so the log holds no personal data of the resident.

Downloads of exports are logged by accounts.exports.export_log; changes by auditlog's
registrations (dossier/models/__init__.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import TYPE_CHECKING, Any

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from accounts import access
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
}
SUBJECTS: dict[str, type[Household] | type[Dossier]] = {
    "household": Household,
    "dossier": Dossier,
}


def is_staff(user: User) -> bool:
    return bool(user.is_superuser or access.roles_by_organisation(user))


def access_log(*, actor: User, subject: Household | Dossier, page: str) -> LogEntry:
    """Record that `actor` saw `page` of this household or dossier."""
    roles = sorted(
        {role for roles in access.roles_by_organisation(actor).values() for role in roles}
    )
    if actor.is_superuser:
        roles.append("administrator")
    return LogEntry.objects.log_create(
        subject,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        actor=actor,
        actor_email=actor.email,
        object_repr=f"{subject._meta.model_name} {subject.pk}",
        additional_data={"page": page, "roles": roles},
    )


def access_logged(page: str, subject: str = "dossier") -> Callable:
    """Log each staff view of this page (a view taking the record's `pk`)."""
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}")
    model = SUBJECTS[subject]

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def logged(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            if (
                request.method == "GET"
                and response.status_code == 200
                and request.headers.get("HX-Request") != "true"
                and is_staff(request.user)
            ):
                access_log(actor=request.user, subject=model(pk=kwargs["pk"]), page=page)
            return response

        return logged

    return decorator


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
    """The newest staff views of a household's pages, as the coordinator reads them."""
    labels = dict(Role.choices) | {"administrator": _("administrator")}
    rows = []
    for entry in views_of(household)[:limit]:
        data = entry.additional_data or {}
        who = str(entry.actor) if entry.actor is not None else entry.actor_email
        roles = ", ".join(str(labels.get(role, role)) for role in data.get("roles", []))
        page = PAGES.get(data.get("page", ""), data.get("page", ""))
        rows.append(Viewed(when=entry.timestamp, who=who, roles=roles, page=str(page)))
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
