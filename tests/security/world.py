"""A world of two organisations of each kind, with a real object behind every object URL.

The role walk and the schema run both log in as every role of "organisation 1" and of
"organisation 2" and ask for the objects of organisation 1: initiative A's household A1
(its dossier, case, visit, task, report, document, photo, consent, import, API key and
sharing agreement) and municipality A's NIP programme, application and RVO export.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from PIL import Image

from accounts.api_tokens import api_token_create
from accounts.models import ApiToken, Organisation, User
from accounts.roles import Role
from crm import importing, services
from crm.models import Case, PrivacyStatement, Task, Visit
from dataplatform.models import Purpose, SharingAgreement
from demo.nip_plan import programme_from_plan
from dossier import exchange
from dossier.models import AdviceReport, Document, Household, Photo
from dossier.models.exchange import DocumentKind, Visibility
from dossier.models.report import Delivery, ReportStatus
from nip.models import Application, MonitoringExport, Programme
from tests import builders
from tests.dataplatform.builders import give_consent, make_agreement, make_publication
from tests.nip.builders import make_application

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass(frozen=True)
class Actor:
    """One person the walk logs in as (or nobody, for the anonymous visitor).

    role: what the person is, for pages that show each person their own organisation's
        data (lists, dashboards): a coordinator of initiative B may open the case list.
    grants: what the person is to organisation 1's objects (ids in the URL). Alice,
        the assigned coach of household A1, holds "coach" and "any-coach"; Bob, a coach
        of the same initiative without household A1, only "any-coach"; everyone of
        organisation 2 holds nothing.
    """

    name: str
    role: str
    grants: frozenset[str]
    user: User | None = None


@dataclass
class World:
    actors: list[Actor]
    initiative_a: Organisation
    initiative_b: Organisation
    municipality_a: Organisation
    municipality_b: Organisation
    province: Organisation
    household_a: Household
    household_b: Household
    case: Case
    visit: Visit
    task: Task
    report: AdviceReport
    document: Document
    photo: Photo
    programme: Programme
    application: Application
    export: MonitoringExport
    agreement: SharingAgreement
    token: ApiToken
    token_key: str
    import_id: str
    privacy_version: str
    invitation: tuple[str, str]
    # Words that must never appear in a URL: names, e-mail addresses, streets.
    personal: list[str] = field(default_factory=list)
    # What identifies household A1 on a page: its name, street and resident's e-mail.
    household_a_secrets: list[str] = field(default_factory=list)

    def actor(self, name: str) -> Actor:
        return next(a for a in self.actors if a.name == name)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def _person(organisation: Organisation | None, role: str | None, email: str, first: str, last: str):
    if organisation is None:
        return builders.make_user(email, first_name=first, last_name=last)
    return builders.make_member(organisation, role, email=email, first_name=first, last_name=last)


def build_world() -> World:
    """Build the world; the caller rolls it back."""
    initiative_a = builders.make_organisation(
        name="Energie Walk A", slug="walk-a", municipalities=("GM0310",)
    )
    initiative_b = builders.make_organisation(
        name="Energie Walk B", slug="walk-b", municipalities=("GM1904",)
    )
    municipality_a = builders.make_organisation(
        Organisation.Kind.MUNICIPALITY,
        name="Gemeente Walk A",
        slug="gemeente-walk-a",
        municipalities=("GM0310",),
    )
    municipality_b = builders.make_organisation(
        Organisation.Kind.MUNICIPALITY,
        name="Gemeente Walk B",
        slug="gemeente-walk-b",
        municipalities=("GM1904",),
    )
    province = builders.make_organisation(
        Organisation.Kind.PROVINCE,
        name="Provincie Walk",
        slug="provincie-walk",
        municipalities=("GM0310", "GM1904"),
    )
    coordinator = _person(initiative_a, Role.COORDINATOR, "coco@a.example", "Cornelia", "Coördijk")
    alice = _person(initiative_a, Role.COACH, "alice@a.example", "Alice", "Aalbersberg")
    bob = _person(initiative_a, Role.COACH, "bob@a.example", "Bob", "Bakkerdijk")
    # Coached household A1 until the coordinator handed it to Alice.
    dirk = _person(initiative_a, Role.COACH, "dirk@a.example", "Dirk", "Dijkgraaf")
    coordinator_b = _person(initiative_b, Role.COORDINATOR, "cob@b.example", "Bert", "Bosveld")
    charlie = _person(initiative_b, Role.COACH, "charlie@b.example", "Charlie", "Claesen")
    resident = _person(None, None, "rianne@home.example", "Rianne", "Rozendaal")
    resident_b = _person(None, None, "ruud@home.example", "Ruud", "Roosenboom")
    staff = _person(
        municipality_a, Role.MUNICIPALITY_STAFF, "sanne@gemeente-a.example", "Sanne", "Steenbergen"
    )
    staff_b = _person(
        municipality_b, Role.MUNICIPALITY_STAFF, "sem@gemeente-b.example", "Sem", "Spijker"
    )
    analyst = _person(province, Role.PROVINCE_ANALYST, "anna@provincie.example", "Anna", "Alders")
    admin = builders.make_user(
        "admin@platform.example",
        first_name="Adriaan",
        last_name="Beheerder",
        is_staff=True,
        is_superuser=True,
    )

    dwelling_a = builders.make_dwelling(street="Zonnebloemlaan", postcode="3731XK")
    household_a = builders.make_household(
        initiative_a,
        coach=alice,
        residents=(resident,),
        dwelling=dwelling_a,
        name="Familie Rozendaal",
    )
    builders.make_household(initiative_a, coach=bob, name="Familie Kwartelhof")
    household_b = builders.make_household(
        initiative_b,
        coach=charlie,
        residents=(resident_b,),
        dwelling=builders.make_dwelling(
            street="Kastanjedreef", postcode="3512AB", city="Utrecht", municipality_code="GM1904"
        ),
        name="Familie Roosenboom",
    )

    case = services.case_open(
        household=household_a, actor=coordinator, contact_email=resident.email
    )
    case = services.case_assign(case=case, coach=dirk, actor=coordinator)
    services.task_add(
        case=case,
        assignee=dirk,
        title="Eerste bezoek voorbereiden",
        due_date=timezone.localdate() + dt.timedelta(days=2),
        actor=coordinator,
    )
    case = services.case_assign(case=case, coach=alice, actor=coordinator)
    household_a.refresh_from_db()
    services.case_open(household=household_b, actor=coordinator_b)
    visit = services.visit_plan(
        case=case,
        coach=alice,
        start=timezone.now() + dt.timedelta(days=3),
        duration_minutes=90,
        actor=coordinator,
    )
    task = services.task_add(
        case=case,
        assignee=alice,
        title="Offerte nabellen",
        due_date=timezone.localdate() + dt.timedelta(days=7),
        actor=coordinator,
    )

    dossier = household_a.dossier
    report = AdviceReport.objects.create(
        dossier=dossier,
        number=1,
        parameter_set=_parameter_set(),
        figures={},
        status=ReportStatus.DONE,
        delivery=Delivery.PRINT,
        created_by=alice,
    )
    report.pdf.save("rapport.pdf", ContentFile(PDF), save=True)
    document = exchange.document_add(
        dossier=dossier,
        uploaded_by=alice,
        upload=SimpleUploadedFile("offerte.pdf", PDF, content_type="application/pdf"),
        kind=DocumentKind.QUOTE,
        title="Offerte isolatie",
        visibility=Visibility.SHARED,
    )
    photo = exchange.photo_add(
        dossier=dossier,
        taken_by=alice,
        upload=SimpleUploadedFile("foto.jpg", _jpeg(), content_type="image/jpeg"),
    )
    exchange.message_send(
        dossier=dossier, author=alice, body="Tot dinsdag!", visibility=Visibility.SHARED
    )
    give_consent(household_a, Purpose.values[0], by=resident)

    upload = importing.import_upload_start(
        upload=io.BytesIO(b"naam;postcode;huisnummer\nJansen;3731AB;1\n"),
        initiative=initiative_a,
        user=coordinator,
    )
    token, key = api_token_create(organisation=initiative_a, name="Website", actor=coordinator)
    statement = PrivacyStatement.objects.create(
        initiative=initiative_a,
        version="2026-1",
        text="Wij bewaren uw gegevens zorgvuldig.",
        valid_from=timezone.now() - dt.timedelta(days=1),
    )
    invited = builders.make_user("nieuw@home.example", first_name="Nina", last_name="Nieuwhuis")
    from django.contrib.auth.tokens import default_token_generator

    invitation = (
        urlsafe_base64_encode(force_bytes(invited.pk)),
        default_token_generator.make_token(invited),
    )

    programme = programme_from_plan(municipality_a)
    programme_from_plan(municipality_b, name="Isolatieaanpak Walk B")
    application = make_application(programme, dwelling=dwelling_a)
    application.species_document.save("natuurcheck.pdf", ContentFile(PDF), save=True)
    export = MonitoringExport.objects.create(
        programme=programme,
        period_start=dt.date(2024, 1, 1),
        period_end=dt.date(2024, 6, 30),
        format="csv",
        status="done",
        requested_by=staff,
        finished_at=timezone.now(),
        expires_at=timezone.now() + dt.timedelta(days=7),
    )
    export.file.save("monitoring.csv", ContentFile(b"a;b\n1;2\n"), save=True)
    agreement = make_agreement(initiative_a, municipality_a)
    make_agreement(initiative_b, municipality_b)
    make_agreement(initiative_a, province)
    # Published figures for each government reader, so the figure pages have something.
    for recipient, code in [
        (municipality_a, "GM0310"),
        (municipality_b, "GM1904"),
        (province, "GM0310"),
    ]:
        make_publication(recipient, [("pc6", "3731XK", code, "households", 12)])

    coach_grants = frozenset({"coach", "any-coach"})
    actors = [
        Actor("anonymous", "anonymous", frozenset({"anonymous"})),
        Actor("resident", "resident", frozenset({"resident"}), resident),
        Actor("resident_b", "resident", frozenset(), resident_b),
        Actor("coach", "coach", coach_grants, alice),
        Actor("coach_unassigned", "coach", frozenset({"any-coach"}), bob),
        # Only while assigned (DESIGN.md): the coach before Alice keeps nothing of A1.
        Actor("coach_former", "coach", frozenset({"any-coach"}), dirk),
        Actor("coach_b", "coach", frozenset(), charlie),
        Actor("coordinator", "coordinator", frozenset({"coordinator"}), coordinator),
        Actor("coordinator_b", "coordinator", frozenset(), coordinator_b),
        Actor("staff", "staff", frozenset({"staff"}), staff),
        Actor("staff_b", "staff", frozenset(), staff_b),
        Actor("analyst", "analyst", frozenset({"analyst"}), analyst),
        Actor("admin", "admin", frozenset({"admin"}), admin),
    ]
    personal = [
        "Zonnebloemlaan",
        "Kastanjedreef",
        "Rozendaal",
        "Roosenboom",
        "Kwartelhof",
        "Nieuwhuis",
    ]
    for actor in actors:
        if actor.user is not None:
            personal += [actor.user.email, actor.user.last_name]
    return World(
        actors=actors,
        initiative_a=initiative_a,
        initiative_b=initiative_b,
        municipality_a=municipality_a,
        municipality_b=municipality_b,
        province=province,
        household_a=household_a,
        household_b=household_b,
        case=case,
        visit=visit,
        task=task,
        report=report,
        document=document,
        photo=photo,
        programme=programme,
        application=application,
        export=export,
        agreement=agreement,
        token=token,
        token_key=key,
        import_id=upload.id,
        privacy_version=statement.version,
        invitation=invitation,
        personal=personal,
        household_a_secrets=["Rozendaal", "Zonnebloemlaan", resident.email],
    )


def _parameter_set():
    from dossier.models import ParameterSet

    return ParameterSet.objects.order_by("-pk").first()
