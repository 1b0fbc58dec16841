from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    prefetch_related_objects,
)

from accounts import access
from accounts.access import roles_by_organisation
from accounts.models import Membership, Organisation
from accounts.roles import Role
from dossier.models import (
    BuildingComponent,
    Document,
    Dossier,
    DossierMeasure,
    DossierSection,
    Household,
    Message,
    MessageRead,
    Photo,
    Section,
    ValueRecord,
)
from dossier.models.exchange import Visibility

if TYPE_CHECKING:
    from accounts.models import User


def household_list(*, viewer: User) -> QuerySet[Household]:
    return (
        Household.objects.visible_to(viewer)
        .select_related("dwelling", "initiative", "assigned_coach")
        .order_by("-created_at", "-pk")
    )


@dataclass(frozen=True)
class CoachLoad:
    membership: Membership
    open_households: int


@dataclass(frozen=True)
class InitiativeSummary:
    organisation: Organisation
    households: int
    without_coach: int
    coaches: list[CoachLoad]


def initiative_summaries(*, viewer: User) -> list[InitiativeSummary]:
    """Per initiative the viewer coordinates: household counts and each coach's load."""
    org_ids = [
        org for org, roles in roles_by_organisation(viewer).items() if Role.COORDINATOR in roles
    ]
    if not org_ids:
        return []
    organisations = Organisation.objects.filter(pk__in=org_ids).annotate(
        n_households=Count("households", distinct=True),
        n_without_coach=Count(
            "households", filter=Q(households__assigned_coach__isnull=True), distinct=True
        ),
    )
    coaches = (
        Membership.objects.filter(organisation__in=org_ids, role=Role.COACH, is_active=True)
        .select_related("user")
        .order_by("user__first_name", "user__last_name")
    )
    loads = {
        (row["initiative_id"], row["assigned_coach_id"]): row["n"]
        for row in Household.objects.filter(initiative__in=org_ids, assigned_coach__isnull=False)
        .values("initiative_id", "assigned_coach_id")
        .annotate(n=Count("pk"))
        .order_by()
    }
    by_org: dict[int, list[CoachLoad]] = {}
    for membership in coaches:
        by_org.setdefault(membership.organisation_id, []).append(
            CoachLoad(membership, loads.get((membership.organisation_id, membership.user_id), 0))
        )
    return [
        InitiativeSummary(org, org.n_households, org.n_without_coach, by_org.get(org.pk, []))
        for org in organisations
    ]


@dataclass(frozen=True)
class DossierFilters:
    """What the dossier list can be narrowed by; every field is optional."""

    initiative: int | None = None
    # The start of a postcode ("3731" or "3731AB"); spaces and case do not matter.
    postcode: str = ""
    assigned_to_me: bool = False


def dossier_base() -> QuerySet[Dossier]:
    """Dossiers with the household, address, initiative and coach every dossier page shows."""
    return Dossier.objects.select_related(
        "household__dwelling", "household__initiative", "household__assigned_coach"
    )


def dossier_list(*, viewer: User, filters: DossierFilters | None = None) -> QuerySet[Dossier]:
    """The dossiers the viewer may see, newest household first, with what a list row shows."""
    filters = filters or DossierFilters()
    dossiers = dossier_base().visible_to(viewer)
    if filters.initiative is not None:
        dossiers = dossiers.filter(household__initiative_id=filters.initiative)
    postcode = filters.postcode.replace(" ", "").upper()
    if postcode:
        dossiers = dossiers.filter(household__dwelling__postcode__startswith=postcode)
    if filters.assigned_to_me:
        dossiers = dossiers.filter(household__assigned_coach=viewer)
    return dossiers.order_by("-household__created_at", "-pk")


@dataclass(frozen=True)
class DossierPage:
    """Everything the dossier page (HTML and API) shows, loaded in a fixed number of queries.

    sections: per topic key its row; records: per field key ("gas_m3_per_year",
    "roof.insulation") the latest record of each source. Messages, documents and photos
    are already narrowed to what the viewer may see.
    """

    dossier: Dossier
    household: Household
    residents: list[User]
    sections: dict[str, DossierSection]
    components: list[BuildingComponent]
    measures: list[DossierMeasure]
    records: dict[str, dict[str, ValueRecord]]
    messages: list[Message]
    documents: list[Document]
    photos: list[Photo]
    unread_count: int


def dossier_page(*, viewer: User, pk: int) -> DossierPage:
    """One dossier the viewer may see (Http404 otherwise) with all its rows for the page."""
    # Load (and check) the dossier with its residents first: they decide whether the
    # viewer sees it as staff. Staff-only messages, documents and photos are then never
    # loaded for a resident, so no template or serializer can show them by mistake.
    dossier = access.get_for(viewer, dossier_base().prefetch_related("household__residents"), pk=pk)
    staff = access.is_staff_viewer(viewer, residents=dossier.household.residents.all())
    shared = Q() if staff else Q(visibility=Visibility.SHARED)
    messages = (
        Message.objects.filter(shared)
        .select_related("author")
        .annotate(
            is_read=Exists(MessageRead.objects.filter(message=OuterRef("pk"), user=viewer.pk))
        )
        .order_by("created_at", "pk")
    )
    prefetch_related_objects(
        [dossier],
        Prefetch("sections", queryset=DossierSection.objects.select_related("updated_by")),
        "components",
        Prefetch("measures", queryset=DossierMeasure.objects.select_related("measure_type")),
        Prefetch("value_records", queryset=ValueRecord.objects.select_related("recorded_by")),
        Prefetch("messages", queryset=messages),
        Prefetch(
            "documents",
            queryset=Document.objects.filter(shared).select_related("uploaded_by"),
        ),
        Prefetch(
            "photos",
            queryset=Photo.objects.filter(shared).select_related(
                "component", "measure__measure_type", "taken_by"
            ),
        ),
    )
    records: dict[str, dict[str, ValueRecord]] = {}
    for record in dossier.value_records.all():
        records.setdefault(record.field, {})[record.source] = record
    message_list = list(dossier.messages.all())
    # Topics in the order of the Section choices, whatever order the rows were made in.
    order = {key: i for i, key in enumerate(Section.values)}
    sections = {row.section: row for row in dossier.sections.all()}
    return DossierPage(
        dossier=dossier,
        household=dossier.household,
        residents=list(dossier.household.residents.all()),
        sections=dict(sorted(sections.items(), key=lambda item: order.get(item[0], len(order)))),
        components=list(dossier.components.all()),
        measures=list(dossier.measures.all()),
        records=records,
        messages=message_list,
        documents=list(dossier.documents.all()),
        photos=list(dossier.photos.all()),
        unread_count=sum(1 for m in message_list if not m.is_read and m.author_id != viewer.pk),
    )
