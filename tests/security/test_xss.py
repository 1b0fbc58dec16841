"""Typed markup comes back as text: every free-text field, in pages, htmx partials, the API
and the advice report PDF.

The world of these tests is the cast with a payload in every free-text field a person
can fill (FREE_TEXT), each ending in a marker of its own. The pages that show those
fields are fetched as the people who may see them; each marker must turn up where the
table says (so the page really showed the value) and no response may carry the payload
as markup. A free-text field that appears in a model later makes
test_every_free_text_field_is_covered_or_exempt fail until it is added to one of the two
tables.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import socket
import string
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.text import capfirst
from PIL import Image
from pypdf import PdfReader

from accounts.api_tokens import api_token_create
from accounts.mfa import needs_mfa
from accounts.models import Municipality
from crm import services as crm
from crm.models import Case, CoachProfile, PrivacyStatement, SignupSettings
from dataplatform.models import ConsentText, Purpose, SharingAgreement
from dossier import advice_reports, exchange, reports
from dossier.models import (
    AdviceReport,
    Delivery,
    Dossier,
    DossierMeasure,
    DossierSection,
    MeasureType,
    ParameterSet,
    ParameterValue,
    Section,
    ValueRecord,
)
from dossier.models.exchange import DocumentKind, Visibility
from dossier.services import MEASURE_FIELDS, SECTION_FIELDS, as_text
from nip.models import Application, BudgetLine, BusinessCase, BusinessCaseLine
from nip.models import ParameterSet as NipParameterSet
from nip.models import ParameterValue as NipParameterValue
from privacy import export
from privacy.register import REGISTER
from tests import builders
from tests.conftest import Cast
from tests.dataplatform import builders as dp_builders
from tests.nip import builders as nip_builders
from tests.nip.conftest import NipCast, nip, nip_parameters  # noqa: F401  (fixtures)
from tests.security.xss_payloads import SCRIPT, marker, payload, raw_markup_in

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("accounts", "dossier", "crm", "nip", "dataplatform", "privacy", "demo")

# Where each free-text field a person fills is shown: "page" (a full HTML page), "htmx"
# (a partial fetched with HX-Request), "api" (JSON of /api/v1/), "pdf" (the advice
# report's text) and "admin" (the Django admin). Each marker must be found in every
# surface listed, so a field whose page stops showing it is noticed too.
FREE_TEXT: dict[str, set[str]] = {
    "accounts.User.first_name": {"admin", "api", "htmx", "page"},
    "accounts.User.last_name": {"admin", "api", "htmx", "page"},
    "accounts.User.phone": {"admin"},
    "accounts.User.email": {"page", "admin"},
    "accounts.Municipality.name": {"admin", "page"},
    "accounts.Organisation.name": {"admin", "api", "page", "pdf"},
    "accounts.ApiToken.name": {"page", "admin"},
    "dossier.Dwelling.street": {"page", "pdf", "api"},
    "dossier.Dwelling.city": {"api", "page", "pdf"},
    "dossier.Household.name": {"page", "api"},
    "dossier.ParameterSet.description": {"admin"},
    "dossier.ParameterValue.unit": {"admin", "page"},
    "dossier.ParameterValue.source": {"admin", "page"},
    "dossier.Dossier.wishes": {"page", "htmx", "api"},
    "dossier.DossierSection.notes": {"api", "htmx", "page"},
    "dossier.ValueRecord.value": {"api", "htmx", "page"},
    "dossier.MeasureType.name": {"admin", "api", "htmx", "page", "pdf"},
    "dossier.MeasureType.description": {"page", "htmx", "admin"},
    "dossier.DossierMeasure.advice_note": {"api", "htmx", "page", "pdf"},
    "dossier.DossierMeasure.quote_company": {"api", "htmx", "page"},
    "dossier.Message.body": {"page"},
    "dossier.Document.title": {"page"},
    "dossier.Photo.caption": {"page"},
    "dossier.AdviceReport.summary": {"pdf"},
    "crm.Case.wants_help_with": {"page", "api"},
    "crm.Case.contact_email": {"api", "page"},
    "crm.Case.contact_phone": {"api", "page"},
    "crm.CaseEvent.text": {"page"},
    "crm.Task.title": {"page", "api"},
    "crm.SignupSettings.intro": {"page", "admin"},
    "crm.PrivacyStatement.text": {"page", "admin"},
    "nip.ParameterSet.description": {"admin"},
    "nip.ParameterValue.unit": {"admin"},
    "nip.ParameterValue.source": {"admin"},
    "nip.Programme.name": {"page"},
    "nip.BudgetLine.description": {"page"},
    "nip.BusinessCase.title": {"page"},
    "nip.BusinessCase.note": {"page"},
    "nip.BusinessCaseLine.label": {"page"},
    "nip.BusinessCaseLine.option_group": {"page"},
    "nip.BusinessCaseLine.option_label": {"page"},
    "nip.Application.decision_note": {"page"},
    "dataplatform.ConsentText.title": {"page", "admin"},
    "dataplatform.ConsentText.text": {"page", "admin"},
    "dataplatform.SharingAgreement.reference": {"page", "admin"},
}

# Text fields no person types, or whose shape a validator or constraint pins down.
EXEMPT: dict[str, str] = {
    "accounts.User.password": "a hash made by code",
    "accounts.Municipality.code": "a CBS code (GM + 4 digits), validated",
    "accounts.Organisation.colour": "a database constraint allows only #rrggbb",
    "accounts.ApiToken.prefix": "made by code from a random key",
    "accounts.ApiToken.key_hash": "made by code",
    "dossier.Dwelling.municipality_code": "set by code from the address registers",
    "dossier.Dwelling.bag_id": "set by code from the BAG",
    "dossier.Dwelling.neighbourhood_code": "set by code from the CBS areas",
    "dossier.Dwelling.district_code": "set by code from the CBS areas",
    "dossier.Dwelling.open_data": "set by code from the public registers",
    "dossier.ParameterValue.key": "a key the calculations read; seeded by a migration",
    "dossier.ValueRecord.field": "a field name set by code",
    "dossier.ValueRecord.source_detail": "set by code: which open-data register it came from",
    "dossier.Document.content_type": "sniffed from the file by code",
    "dossier.Document.extension": "chosen by code from the sniffed type",
    "dossier.AdviceReport.figures": "a snapshot made by code of fields covered above; "
    "test_the_advice_report_pdf_shows_typed_markup_as_text renders it",
    "dossier.AdviceReport.error": "an error code set by code",
    "crm.Case.privacy_statement_version": "copied by code from the statement's slug",
    "crm.CaseEvent.action": "an action name set by code",
    "crm.CoachProfile.areas": "the validator accepts only postcode areas",
    "crm.Task.dedupe_key": "set by code",
    "crm.SignupSettings.embedding_sites": "the validator accepts only https origins",
    "nip.ParameterValue.key": "a key the rules read; seeded by a migration",
    "nip.Application.eligibility": "the rules' outcome, stored by code",
    "dataplatform.ConsentText.version": "shown only in the admin, which escapes; short",
    "dataplatform.ConsentText.text_hash": "made by code",
    "dataplatform.OpenDataImport.file_name": "set by the import command",
    "dataplatform.OpenDataImport.problems": "set by the import command",
    "dataplatform.Publication.sources": "initiative ids per level, set by the publication job",
    "dataplatform.RegisteredLabel.postcode": "public register data, loaded by a command",
    "dataplatform.RegisteredLabel.suffix": "public register data, loaded by a command",
    "dataplatform.RegisteredLabel.bag_id": "public register data, loaded by a command",
    "dataplatform.RegisteredLabel.building_type": "public register data, loaded by a command",
    "dataplatform.RegisteredLabel.building_subtype": "public register data, loaded by a command",
    "dataplatform.BagAddress.bag_id": "public register data, loaded by a command",
    "dataplatform.BagAddress.postcode": "public register data, loaded by a command",
    "dataplatform.BagAddress.house_letter": "public register data, loaded by a command",
    "dataplatform.BagAddress.addition": "public register data, loaded by a command",
    "dataplatform.BagAddress.street": "public register data, loaded by a command",
    "dataplatform.BagAddress.city": "public register data, loaded by a command",
    "dataplatform.BagAddress.uses": "public register data, loaded by a command",
    "dataplatform.BagAddress.status": "public register data, loaded by a command",
    "dataplatform.BagAddress.building_id": "public register data, loaded by a command",
    "dataplatform.AddressArea.postcode": "public register data, loaded by a command",
    "dataplatform.AddressArea.neighbourhood_code": "public register data, loaded by a command",
    "dataplatform.AddressArea.district_code": "public register data, loaded by a command",
    "dataplatform.AddressArea.municipality_code": "public register data, loaded by a command",
    "dataplatform.SharedHousehold.municipality_code": "copied by code from the dwelling",
    "dataplatform.SharedHousehold.postcode": "copied by code from the validated postcode",
    "dataplatform.SharedHousehold.neighbourhood_code": "copied by code",
    "dataplatform.SharedHousehold.district_code": "copied by code",
    "dataplatform.SharedHousehold.dwelling_type": "copied by code from a choice",
    "dataplatform.Publication.rules_version": "set by code",
    "dataplatform.PublicationCell.area_code": "set by code",
    "dataplatform.PublicationCell.municipality_code": "set by code",
    "dataplatform.PublicationCell.measure": "a measure code set by code",
    "dataplatform.PublicationDelivery.last_error": "set by the delivery task",
    "privacy.Removal.rule": "a rule name set by code",
    "privacy.Removal.details": "set by code: ids and counts",
}

# Field classes whose values a validator holds to a fixed shape (slug, postcode, letter).
SHAPED = ("SlugField", "PostcodeField", "HouseLetterField", "AdditionField")


def free_text_fields() -> set[str]:
    """Every stored text or JSON field without choices of the product's own models."""
    found = set()
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        for f in model._meta.get_fields():
            if not getattr(f, "concrete", False) or f.auto_created or f.choices:
                continue
            if not isinstance(f, models.CharField | models.TextField | models.JSONField):
                continue
            if type(f).__name__ in SHAPED:
                continue
            found.add(f"{model._meta.label}.{f.name}")
    return found


def test_every_free_text_field_is_covered_or_exempt():
    fields = free_text_fields()
    unlisted = fields - FREE_TEXT.keys() - EXEMPT.keys()
    assert not unlisted, (
        "free-text fields without an XSS check: add them to FREE_TEXT (with a page that "
        f"shows them) or to EXEMPT (with the reason): {sorted(unlisted)}"
    )
    assert not FREE_TEXT.keys() & EXEMPT.keys()
    gone = (FREE_TEXT.keys() | EXEMPT.keys()) - fields
    assert not gone, f"listed fields that no longer exist: {sorted(gone)}"
    # The processing register knows every one of them (it is the list of what is stored).
    for name in fields:
        label, field_name = name.rsplit(".", 1)
        assert field_name in REGISTER[label].classes(), name


# The poisoned world ------------------------------------------------------------------------


def marker_of(label: str) -> str:
    """A short marker per field ("ZqadZq"): short fields such as a phone number hold it too."""
    index = list(FREE_TEXT).index(label)
    return marker(string.ascii_lowercase[index // 26] + string.ascii_lowercase[index % 26])


def label_of(found_marker: str) -> str:
    return next(label for label in FREE_TEXT if marker_of(label) == found_marker)


def poison(label: str) -> str:
    """The payload for one field of FREE_TEXT, fitted to its max_length."""
    app_model, field_name = label.rsplit(".", 1)
    max_length = apps.get_model(app_model)._meta.get_field(field_name).max_length
    return payload(marker_of(label), max_length)


# A quoted local part may hold markup and still be a valid address (RFC 5321).
CASE_EMAIL = f'"{SCRIPT}{marker_of("crm.Case.contact_email")}"@example.org'
USER_EMAIL = f'"<b>{marker_of("accounts.User.email")}</b>"@example.org'


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass
class World:
    cast: Cast
    nip: NipCast
    dossier: Dossier
    case: Case
    application: Application
    agreement: SharingAgreement
    report: AdviceReport


@pytest.fixture
def world(cast, nip, settings, tmp_path, django_capture_on_commit_callbacks) -> World:  # noqa: F811
    settings.MEDIA_ROOT = tmp_path / "media"
    p = poison
    # People and organisations.
    for user in (cast.alice, cast.coordinator, cast.resident, cast.municipality_staff):
        user.first_name = p("accounts.User.first_name")
        user.last_name = p("accounts.User.last_name")
        user.phone = p("accounts.User.phone")
        user.save()
    get_user_model().objects.filter(pk=cast.bob.pk).update(email=USER_EMAIL)
    Municipality.objects.filter(code="GM0310").update(name=p("accounts.Municipality.name"))
    for organisation in (cast.initiative_a, cast.municipality):
        organisation.name = p("accounts.Organisation.name")
        organisation.save()
    api_token_create(
        organisation=cast.initiative_a, name=p("accounts.ApiToken.name"), actor=cast.coordinator
    )

    # The home and its dossier.
    household = cast.household_a
    household.name = p("dossier.Household.name")
    household.save()
    dwelling = household.dwelling
    dwelling.street = p("dossier.Dwelling.street")
    dwelling.city = p("dossier.Dwelling.city")
    dwelling.save()
    ParameterSet.objects.update(description=p("dossier.ParameterSet.description"))
    ParameterValue.objects.filter(pk=ParameterValue.objects.order_by("pk").first().pk).update(
        unit=p("dossier.ParameterValue.unit"), source=p("dossier.ParameterValue.source")
    )
    MeasureType.objects.filter(code="floor_insulation").update(
        name=p("dossier.MeasureType.name"), description=p("dossier.MeasureType.description")
    )
    dossier = Dossier.objects.get(pk=household.dossier.pk)
    dossier.dwelling_type = "corner"
    dossier.build_year = 1965
    dossier.floor_area_m2 = 120
    dossier.gas_m3_per_year = 1900
    dossier.heating_system = "hr_boiler"
    dossier.ownership = "owner"
    dossier.wishes = p("dossier.Dossier.wishes")
    dossier.save()
    DossierSection.objects.filter(dossier=dossier).update(notes=p("dossier.DossierSection.notes"))
    ValueRecord.objects.create(
        dossier=dossier,
        field="wishes",
        source="resident",
        value=p("dossier.ValueRecord.value"),
        recorded_by=cast.resident,
        recorded_at=timezone.now(),
    )
    DossierMeasure.objects.filter(dossier=dossier, measure_type__code="floor_insulation").update(
        advice_priority="high",
        advice_note=p("dossier.DossierMeasure.advice_note"),
        quote_company=p("dossier.DossierMeasure.quote_company"),
    )
    exchange.message_send(
        dossier=dossier,
        author=cast.alice,
        body=p("dossier.Message.body"),
        visibility=Visibility.SHARED,
    )
    exchange.document_add(
        dossier=dossier,
        uploaded_by=cast.alice,
        upload=SimpleUploadedFile("offerte.pdf", PDF, content_type="application/pdf"),
        kind=DocumentKind.QUOTE,
        title=p("dossier.Document.title"),
        visibility=Visibility.SHARED,
    )
    exchange.photo_add(
        dossier=dossier,
        taken_by=cast.alice,
        upload=SimpleUploadedFile("foto.jpg", jpeg(), content_type="image/jpeg"),
        caption=p("dossier.Photo.caption"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        report = advice_reports.report_request(
            dossier=dossier,
            actor=cast.alice,
            summary=p("dossier.AdviceReport.summary"),
            delivery=Delivery.PRINT,
        )

    # Follow-up.
    case = crm.case_open(
        household=household,
        wants_help_with=p("crm.Case.wants_help_with"),
        contact_email=CASE_EMAIL,
        contact_phone=p("crm.Case.contact_phone"),
    )
    crm.case_note_add(case=case, actor=cast.alice, kind="note", text=p("crm.CaseEvent.text"))
    crm.task_add(
        case=case,
        assignee=cast.alice,
        title=p("crm.Task.title"),
        due_date=timezone.localdate() + dt.timedelta(days=3),
        actor=cast.coordinator,
    )
    CoachProfile.objects.get_or_create(user=cast.alice, organisation=cast.initiative_a)
    SignupSettings.objects.create(initiative=cast.initiative_a, intro=p("crm.SignupSettings.intro"))
    PrivacyStatement.objects.create(
        initiative=cast.initiative_a,
        version="2026-1",
        text=p("crm.PrivacyStatement.text"),
        valid_from=timezone.now() - dt.timedelta(days=1),
    )

    # The NIP.
    programme = nip.programme
    programme.name = p("nip.Programme.name")
    programme.save()
    BudgetLine.objects.filter(programme=programme).update(
        description=p("nip.BudgetLine.description")
    )
    BusinessCase.objects.filter(programme=programme).update(
        title=p("nip.BusinessCase.title"), note=p("nip.BusinessCase.note")
    )
    BusinessCaseLine.objects.filter(business_case__programme=programme).update(
        label=p("nip.BusinessCaseLine.label"),
        option_group=p("nip.BusinessCaseLine.option_group"),
        option_label=p("nip.BusinessCaseLine.option_label"),
    )
    NipParameterSet.objects.update(description=p("nip.ParameterSet.description"))
    NipParameterValue.objects.filter(pk=NipParameterValue.objects.order_by("pk").first().pk).update(
        unit=p("nip.ParameterValue.unit"), source=p("nip.ParameterValue.source")
    )
    application = nip_builders.make_application(
        programme,
        dwelling=dwelling,
        household=household,
        status="rejected",
        decided_at=timezone.now(),
        decided_by=cast.municipality_staff,
        decision_note=p("nip.Application.decision_note"),
    )

    # The data platform.
    for purpose in Purpose.values:
        dp_builders.make_consent_text(purpose)
    ConsentText.objects.update(
        title=p("dataplatform.ConsentText.title"), text=p("dataplatform.ConsentText.text")
    )
    dp_builders.give_consent(household, Purpose.values[0], by=cast.alice)
    agreement = dp_builders.make_agreement(
        cast.initiative_a, cast.municipality, reference=p("dataplatform.SharingAgreement.reference")
    )
    return World(
        cast=cast,
        nip=nip,
        dossier=dossier,
        case=case,
        application=application,
        agreement=agreement,
        report=AdviceReport.objects.get(pk=report.pk),
    )


# Fetching what shows them -----------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    if needs_mfa(user):
        return builders.log_in_with_second_step(client, user)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@dataclass
class Fetched:
    surface: str
    who: str
    url: str
    status: int
    content_type: str
    text: str


def poisoned_pks(model: type[models.Model]) -> list[int]:
    """The rows of a model that hold a payload in one of their free-text fields (at most 3)."""
    label = model._meta.label
    query = models.Q()
    for name in FREE_TEXT:
        if name.rsplit(".", 1)[0] == label:
            query |= models.Q(**{f"{name.rsplit('.', 1)[1]}__contains": "Zq"})
    return list(model.objects.filter(query).order_by("pk").values_list("pk", flat=True)[:3])


def fetch_all(world: World) -> list[Fetched]:
    cast = world.cast
    dossier_pk = world.dossier.pk
    household_pk = cast.household_a.pk
    case_pk = world.case.pk
    programme_pk = world.nip.programme.pk
    sections = [reverse("dossier:dossier-section", args=[dossier_pk, s]) for s in Section.values]
    dossier_pages = [
        reverse("dossier:dossier-overview", args=[dossier_pk]),
        reverse("dossier:dossier-visit", args=[dossier_pk]),
        reverse("dossier:dossier-advice", args=[dossier_pk]),
        reverse("dossier:dossier-reports", args=[dossier_pk]),
        reverse("dossier:dossier-messages", args=[dossier_pk]),
        reverse("dossier:dossier-documents", args=[dossier_pk]),
        reverse("dossier:dossier-photos", args=[dossier_pk]),
        *sections,
    ]
    htmx = [*sections, reverse("dossier:report-progress", args=[dossier_pk])]
    pages: dict[str, list[str]] = {
        "alice": [
            reverse("dossier:dashboard"),
            reverse("dossier:household-list"),
            reverse("dossier:household-detail", args=[household_pk]),
            *dossier_pages,
            reverse("crm:follow-up", args=[dossier_pk]),
            reverse("crm:case-detail", args=[case_pk]),
            reverse("crm:visit-list"),
            reverse("dataplatform:consent", args=[household_pk]),
        ],
        "resident": [url for url in dossier_pages if "/bezoek/" not in url],
        "coordinator": [
            reverse("crm:initiative-dashboard", args=[cast.initiative_a.pk]),
            reverse("crm:case-list"),
            reverse("crm:case-detail", args=[case_pk]),
            reverse("crm:coach-list"),
            reverse("crm:coach-profile", args=[cast.initiative_a.pk, cast.alice.pk]),
            reverse("accounts:organisation-detail", args=[cast.initiative_a.slug]),
            reverse("accounts:api-token-list", args=[cast.initiative_a.slug]),
            reverse("dataplatform:agreement-list"),
            reverse("dataplatform:agreement-detail", args=[world.agreement.pk]),
            reverse("dataplatform:consent-overview"),
            reverse("dossier:household-detail", args=[household_pk]),
        ],
        "staff": [
            reverse("nip:programme-list"),
            reverse("nip:programme-detail", args=[programme_pk]),
            reverse("nip:business-case", args=[programme_pk]),
            reverse("nip:business-case-edit", args=[programme_pk]),
            reverse("nip:programme-edit", args=[programme_pk]),
            reverse("nip:application-list", args=[programme_pk]),
            reverse("nip:application-detail", args=[world.application.pk]),
            reverse("nip:monitoring", args=[programme_pk]),
            reverse("dataplatform:agreement-list"),
        ],
        "anonymous": [
            reverse("signup:form", args=[cast.initiative_a.slug]),
            reverse("signup:privacy", args=[cast.initiative_a.slug, "2026-1"]),
        ],
    }
    api = {
        "alice": [
            reverse("dossier-api:dossier-detail", args=[dossier_pk]),
            reverse("crm-api:case-detail", args=[case_pk]),
            reverse("crm-api:household-detail", args=[household_pk]),
            reverse("crm-api:task-list"),
        ],
    }
    admin_models = [
        "accounts_user",
        "accounts_organisation",
        "accounts_municipality",
        "accounts_apitoken",
        "dossier_measuretype",
        "dossier_parameterset",
        "dossier_parametervalue",
        "crm_signupsettings",
        "crm_privacystatement",
        "nip_parameterset",
        "nip_parametervalue",
        "dataplatform_consenttext",
        "dataplatform_sharingagreement",
    ]
    admin_pages = []
    for name in admin_models:
        model = apps.get_model(*name.split("_", 1))
        admin_pages.append(reverse(f"admin:{name}_changelist"))
        for pk in poisoned_pks(model):
            admin_pages.append(reverse(f"admin:{name}_change", args=[pk]))
    clients = {
        "alice": client_for(cast.alice),
        "resident": client_for(cast.resident),
        "coordinator": client_for(cast.coordinator),
        "staff": client_for(cast.municipality_staff),
        "admin": client_for(cast.admin),
        "anonymous": Client(),
    }
    fetched = []

    def get(surface: str, who: str, url: str, **headers) -> None:
        response = clients[who].get(url, headers=headers)
        body = b"".join(response) if response.streaming else response.content
        fetched.append(
            Fetched(
                surface,
                who,
                url,
                response.status_code,
                response.get("Content-Type", ""),
                body.decode(errors="replace"),
            )
        )

    for who, urls in pages.items():
        for url in urls:
            get("page", who, url)
    for who in ("alice", "resident"):
        for url in htmx:
            get("htmx", who, url, HX_Request="true")
    for who, urls in api.items():
        for url in urls:
            get("api", who, url, Accept="application/json")
    for url in admin_pages:
        get("admin", "admin", url)
    return fetched


@pytest.fixture
def fetched(world) -> list[Fetched]:
    return fetch_all(world)


def test_it_shows_every_poisoned_field_where_the_table_says(fetched):
    failed = [(f.who, f.url, f.status) for f in fetched if f.status != 200]
    assert not failed
    missing = []
    for label, surfaces in FREE_TEXT.items():
        for surface in surfaces - {"pdf"}:
            if not any(marker_of(label) in f.text for f in fetched if f.surface == surface):
                missing.append((label, surface))
    assert not missing, [(label, marker_of(label), surface) for label, surface in missing]


HTML_SURFACES = ("page", "htmx", "admin")


def test_no_page_partial_or_admin_page_carries_typed_markup(fetched):
    leaks = {
        (f.surface, f.who, f.url): [
            (sorted({label_of(m) for m in re.findall(r"Zq[a-z]{2}Zq", piece)}), piece)
            for piece in raw_markup_in(f.text)
        ]
        for f in fetched
        if f.surface in HTML_SURFACES and raw_markup_in(f.text)
    }
    assert not leaks
    # The payloads were there, as text.
    html = "".join(f.text for f in fetched if f.surface in HTML_SURFACES)
    assert escape(SCRIPT) in html
    assert escape('"><img src=x onerror=alert(1)>') in html
    assert "{{7*7}}Zq" in html


def test_the_api_returns_typed_text_as_json_data_never_as_html(fetched, world):
    responses = [f for f in fetched if f.surface == "api"]
    assert responses
    for f in responses:
        assert f.status == 200 and f.content_type.startswith("application/json"), f.url
        json.loads(f.text)
    # JSON keeps the text exactly as typed: escaping is the job of whoever renders it.
    wishes = json.dumps(world.dossier.wishes)[1:-1]
    assert any(wishes in f.text for f in responses)


# Answers to htmx POSTs ---------------------------------------------------------------------
# An autosave, a value check or a report action answers with a partial that replaces part of
# the page. Those answers show the payloads too, and a stale autosave even shows the answer
# someone else saved since (the conflict), so they are posted here as the household's coach
# and resident do.


@dataclass
class Answer:
    fetched: Fetched
    status: int
    # FREE_TEXT fields whose payload the answer must show, escaped.
    shows: tuple[str, ...]
    # Fields whose stored payload the conflict list must show as the answer saved now.
    saved_now: tuple[str, ...] = ()


def topic_data(dossier: Dossier, section: str, **changed: str) -> dict[str, str]:
    """What a topic's form posts: the version and every answer as stored now, with `changed`
    (by input name). The notes are read from staff forms only."""
    dossier = Dossier.objects.get(pk=dossier.pk)
    row = dossier.sections.get(section=section)
    prefix = f"s-{section}"
    data = {f"{prefix}-version": str(row.version), f"{prefix}-notes": row.notes}
    for name in SECTION_FIELDS[section]:
        data[f"{prefix}-{name}"] = as_text(getattr(dossier, name))
    if section == Section.MEASURES:
        for measure in dossier.measures.all():
            for name in MEASURE_FIELDS:
                data[f"m-{measure.pk}-{name}"] = as_text(getattr(measure, name))
    return {**data, **changed}


def post_all(world: World) -> list[Answer]:
    cast = world.cast
    dossier = world.dossier
    clients = {"alice": client_for(cast.alice), "resident": client_for(cast.resident)}
    comfort = reverse("dossier:dossier-section", args=[dossier.pk, Section.COMFORT])
    measures = reverse("dossier:dossier-section", args=[dossier.pk, Section.MEASURES])
    floor = DossierMeasure.objects.get(dossier=dossier, measure_type__code="floor_insulation")
    answers = []

    def post(who: str, url: str, data: dict[str, str], status: int, *shows: str, **kw) -> None:
        response = clients[who].post(url, data, headers={"HX-Request": "true"})
        fetched = Fetched(
            "htmx",
            who,
            url,
            response.status_code,
            response.get("Content-Type", ""),
            response.content.decode(errors="replace"),
        )
        answers.append(Answer(fetched, status, shows, **kw))

    # The coach's forms as loaded before the resident typed the wishes and the quote's
    # company (the payloads); the coach changes the advice note.
    coach_comfort = topic_data(dossier, Section.COMFORT, **{"s-comfort-wishes": ""})
    coach_measures = topic_data(
        dossier,
        Section.MEASURES,
        **{f"m-{floor.pk}-quote_company": "", f"m-{floor.pk}-advice_note": "Eerst de vloer."},
    )
    # The resident's autosaves, answered with the topic as stored now.
    resident_comfort = topic_data(dossier, Section.COMFORT, **{"s-comfort-complaint_damp": "yes"})
    post("resident", comfort, resident_comfort, 200, "dossier.Dossier.wishes")
    resident_measures = topic_data(dossier, Section.MEASURES, **{f"m-{floor.pk}-status": "later"})
    post(
        "resident",
        measures,
        resident_measures,
        200,
        "dossier.MeasureType.name",
        "dossier.MeasureType.description",
        "dossier.DossierMeasure.advice_note",
        "dossier.DossierMeasure.quote_company",
    )
    # The coach's stale autosaves: the conflict shows what the resident saved in between.
    post(
        "alice",
        comfort,
        coach_comfort,
        409,
        "dossier.DossierSection.notes",
        "dossier.ValueRecord.value",
        "accounts.User.first_name",
        "accounts.User.last_name",
        saved_now=("dossier.Dossier.wishes",),
    )
    post(
        "alice",
        measures,
        coach_measures,
        409,
        "dossier.MeasureType.name",
        "dossier.MeasureType.description",
        "dossier.DossierSection.notes",
        saved_now=("dossier.DossierMeasure.advice_note", "dossier.DossierMeasure.quote_company"),
    )
    # The coach checks the wishes in the home: the row of sources, with the resident's answer.
    post(
        "alice",
        reverse("dossier:value-check", args=[dossier.pk]),
        {"key": "wishes"},
        200,
        "dossier.ValueRecord.value",
        "accounts.User.first_name",
        "accounts.User.last_name",
    )
    # The coach marks the report as printed: the list of reports, with who asked for it.
    post(
        "alice",
        reverse("dossier:report-printed", args=[dossier.pk, world.report.pk]),
        {},
        200,
        "accounts.User.first_name",
        "accounts.User.last_name",
    )
    return answers


def shown(label: str, html: str) -> bool:
    """The field's payload is in the HTML, escaped (a title may start with a capital)."""
    return any(escape(text) in html for text in (poison(label), capfirst(poison(label))))


# The first answer of a conflict list is the one saved now.
SAVED_NOW = re.compile(r'<dl class="wd-conflict">\s*<div><dt>[^<]*</dt><dd>(.*?)</dd>', re.S)


def test_the_answers_to_htmx_posts_show_typed_markup_as_text(world):
    answers = post_all(world)
    assert len(answers) == 6
    # Every answer is checked before the test fails, so a report names each one that broke.
    problems = []
    for answer in answers:
        f = answer.fetched
        where = (f.who, f.url)
        if f.status != answer.status or not f.content_type.startswith("text/html"):
            problems.append((where, f.status, f.content_type))
        if leaks := raw_markup_in(f.text):
            problems.append((where, "raw markup", leaks))
        if missing := [label for label in answer.shows if not shown(label, f.text)]:
            problems.append((where, "not shown", missing))
        saved_now = "".join(SAVED_NOW.findall(f.text))
        if missing := [label for label in answer.saved_now if not shown(label, saved_now)]:
            problems.append((where, "not shown as saved now", missing))
    assert not problems
    # The payloads really were in the answers, as text.
    html = "".join(answer.fetched.text for answer in answers)
    assert escape(SCRIPT) in html
    assert escape('"><img src=x onerror=alert(1)>') in html
    assert "{{7*7}}Zq" in html


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_advice_report_pdf_shows_typed_markup_as_text(world, client):
    report = world.report
    assert report.status == "done", report.error
    client.force_login(world.cast.alice, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("dossier:report-file", args=[world.dossier.pk, report.pk]))
    assert response.status_code == 200
    data = b"".join(response) if response.streaming else response.content
    text = pdf_text(data)
    # Text extraction breaks lines where the PDF does: compare without whitespace.
    flat = "".join(text.split())
    missing = [
        label
        for label, surfaces in FREE_TEXT.items()
        if "pdf" in surfaces and marker_of(label) not in flat
    ]
    assert not missing
    # Markup typed into the summary is printed as the characters typed, not interpreted.
    assert "".join(poison("dossier.AdviceReport.summary").split()) in flat
    assert "49Zq" not in flat


class ListeningSocket:
    """A socket on loopback that records every connection made to it."""

    def __init__(self) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> int:
        self._stop.set()
        self._thread.join(timeout=2)
        self.server.close()
        return self.connections


@pytest.fixture
def listening():
    listener = ListeningSocket()
    yield listener
    listener.close()


def fetching_markup(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    return (
        f'<img src="{base}/img.png"><link rel="stylesheet" href="{base}/style.css">'
        f'<style>@import url("{base}/import.css");</style>'
    )


def test_the_report_renderer_fetches_nothing_that_user_text_names(
    world, listening, caplog, django_capture_on_commit_callbacks
):
    markup = fetching_markup(listening.port)
    DossierMeasure.objects.filter(dossier=world.dossier, advice_priority="high").update(
        advice_note=markup
    )
    world.cast.household_a.dwelling.__class__.objects.filter(
        pk=world.cast.household_a.dwelling_id
    ).update(street=markup[:120])
    with django_capture_on_commit_callbacks(execute=True):
        report = advice_reports.report_request(
            dossier=world.dossier, actor=world.cast.alice, summary=markup, delivery=Delivery.PRINT
        )
    report.refresh_from_db()
    assert report.status == "done", report.error
    # Escaped, the markup never even became a resource to ask the fetcher for.
    assert "report resource refused" not in caplog.text
    # Raw markup too (should escaping ever fail) reaches nothing outside STATIC_ROOT.
    reports.render_pdf(f'<html lang="nl"><p>x</p>{markup}</html>')
    assert listening.close() == 0
    assert caplog.text.count("report resource refused") == 3


def test_the_loopback_check_would_see_a_fetch(listening):
    """The control: WeasyPrint's own fetcher does connect to the socket."""
    from weasyprint import HTML

    HTML(string=f'<img src="http://127.0.0.1:{listening.port}/img.png">').write_pdf()
    assert listening.close() >= 1


def test_every_spreadsheet_is_written_by_the_formula_safe_writer():
    """Formula injection is tested on accounts.exports (tests/accounts/test_exports.py) and
    per export (crm, nip, dataplatform); this keeps every other module from writing a
    spreadsheet its own way, around that writer."""
    root = Path(__file__).resolve().parents[2]
    writers = ("csv.writer", "csv.DictWriter", "xlsxwriter", "openpyxl.Workbook(", "Workbook()")
    offenders = []
    for app in PROJECT_APPS:
        for path in (root / app).rglob("*.py"):
            if path.relative_to(root).as_posix() == "accounts/exports.py":
                continue
            text = path.read_text(encoding="utf-8")
            offenders += [f"{path.relative_to(root)}: {w}" for w in writers if w in text]
    assert not offenders


def test_the_residents_export_pdf_shows_typed_markup_as_text(world):
    data = export.export_pdf(export.resident_export(user=world.cast.resident))
    flat = "".join(pdf_text(data).split())
    for label in ("dossier.Household.name", "accounts.User.first_name", "dossier.Dwelling.street"):
        assert "".join(poison(label).split()) in flat, label
    assert "49Zq" not in flat


# Where escaping may be off, and why. A new place needs a reason here (and a payload test
# above if user text can reach it).
ESCAPING_OFF = {
    "templates/django/forms/field.html": "help_text is markup written in code; a form that "
    "fills it from data escapes it (crm.forms.FollowUpForm)",
    "templates/reports/advice.html": "the @page footer: translated text and CSS counters only",
    "templates/privacy/rights/export_pdf.html": "the @page footer: translated text and CSS "
    "counters only",
}
ESCAPING_OFF_PATTERN = re.compile(r"\|\s*safe\b|autoescape off|\|\s*safeseq\b")
MARK_SAFE_PATTERN = re.compile(r"\bmark_safe\(|\bSafeString\(|\bSafeData\(")


def test_escaping_is_off_only_where_a_reason_is_written_down():
    root = Path(__file__).resolve().parents[2]
    found = set()
    for path in (root / "templates").rglob("*"):
        relative = path.relative_to(root).as_posix()
        # Plain-text mail is not HTML: it has nothing to escape.
        if not path.is_file() or (
            relative.startswith("templates/emails/") and path.suffix == ".txt"
        ):
            continue
        if ESCAPING_OFF_PATTERN.search(path.read_text(encoding="utf-8")):
            found.add(relative)
    assert found <= ESCAPING_OFF.keys(), found - ESCAPING_OFF.keys()
    marked = [
        path.relative_to(root).as_posix()
        for app in PROJECT_APPS
        for path in (root / app).rglob("*.py")
        if MARK_SAFE_PATTERN.search(path.read_text(encoding="utf-8"))
    ]
    assert not marked
