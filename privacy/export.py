"""The resident's own data (AVG art. 15 and 20): one JSON file and one readable PDF.

Everything stored about the resident and their household goes in, field by field as
privacy.register lists the models' stored fields, so a field added later is exported
without a change here (tests/privacy/test_export.py walks every related table). What is
left out on purpose is in WITHHELD, with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from privacy.register import REGISTER, stored_fields

if TYPE_CHECKING:
    from accounts.models import User
    from dossier.models import Household

# Stored but never handed out, and why (the test of the export reads this too).
WITHHELD: dict[str, dict[str, str | Promise]] = {
    "accounts.User": {
        "password": _("only a one-way hash of the password is stored"),
        "is_superuser": _("a technical setting"),
        "is_staff": _("a technical setting"),
        "groups": _("a technical setting"),
        "user_permissions": _("a technical setting"),
    },
    "mfa.Authenticator": {"data": _("the secret keys of the second step stay secret")},
    "usersessions.UserSession": {
        "session_key": _("the key of a session would let someone take it over"),
        "data": _("technical data of the session"),
    },
    "dataplatform.ConsentText": {"text_hash": _("a technical check of the text")},
    "crm.Task": {"dedupe_key": _("a technical key")},
}
# Whole tables that are not in the export, and why.
WITHHELD_MODELS: dict[str, str | Promise] = {
    "sessions.Session": _("sessions are technical and end when you log out"),
    "account.EmailConfirmation": _("a confirmation link is secret and expires"),
    "auditlog.LogEntry": _(
        "the security log; the staff views of your dossier are listed under Views"
    ),
    "admin.LogEntry": _("the administrator's log"),
    "privacy.Removal": _("proof of a removal, with counts only"),
}

# Where each model's rows go in the export, in this order.
ACCOUNT_PARTS: dict[str, str] = {
    "account": "accounts.User",
    "email_addresses": "account.EmailAddress",
    "authenticators": "mfa.Authenticator",
    "sessions": "usersessions.UserSession",
}
HOUSEHOLD_PARTS: dict[str, str] = {
    "household": "dossier.Household",
    "dwelling": "dossier.Dwelling",
    "dossier": "dossier.Dossier",
    "components": "dossier.BuildingComponent",
    "topics": "dossier.DossierSection",
    "value_sources": "dossier.ValueRecord",
    "measures": "dossier.DossierMeasure",
    "messages": "dossier.Message",
    "messages_read": "dossier.MessageRead",
    "documents": "dossier.Document",
    "photos": "dossier.Photo",
    "reports": "dossier.AdviceReport",
    "cases": "crm.Case",
    "contact_history": "crm.CaseEvent",
    "visits": "crm.Visit",
    "tasks": "crm.Task",
    "consents": "dataplatform.ConsentRecord",
    "shared_for_figures": "dataplatform.SharedHousehold",
    "nip_applications": "nip.Application",
    "nip_commitments": "nip.Commitment",
    "nip_measures": "nip.ExecutedMeasure",
}
PART_TITLES: dict[str, str | Promise] = {
    "account": _("Your account"),
    "email_addresses": _("E-mail addresses"),
    "authenticators": _("Second step of logging in"),
    "sessions": _("Logins"),
    "household": _("Household"),
    "dwelling": _("Home and address"),
    "dossier": _("House dossier"),
    "components": _("Parts of the home"),
    "topics": _("Topics of the dossier and the coach's notes"),
    "value_sources": _("Where the values in the dossier came from"),
    "measures": _("Measures"),
    "messages": _("Messages"),
    "messages_read": _("Messages read"),
    "documents": _("Documents"),
    "photos": _("Photos"),
    "reports": _("Advice reports"),
    "cases": _("Sign-up and guidance"),
    "contact_history": _("Contact history"),
    "visits": _("Visits"),
    "tasks": _("Tasks"),
    "consents": _("Consents"),
    "shared_for_figures": _("Included in neighbourhood figures"),
    "sharing": _("Shared with"),
    "nip_applications": _("Insulation grant applications (NIP)"),
    "nip_commitments": _("Amounts granted (NIP)"),
    "nip_measures": _("Measures carried out (NIP)"),
    "views": _("Views of your dossier by staff"),
}


@dataclass
class Item:
    name: str
    label: str
    value: Any  # as it goes into the JSON file
    text: str  # as a person reads it in the PDF


@dataclass
class Record:
    id: Any
    items: list[Item] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, **{item.name: item.value for item in self.items}}


@dataclass
class Part:
    key: str
    records: list[Record]

    @property
    def title(self) -> str:
        return str(PART_TITLES.get(self.key, self.key))


@dataclass
class HouseholdExport:
    household_id: int
    parts: list[Part]


@dataclass
class Export:
    made_at: dt.datetime
    account: list[Part]
    households: list[HouseholdExport]

    def as_json(self) -> dict[str, Any]:
        def parts(items: Iterable[Part]) -> dict[str, list[dict[str, Any]]]:
            return {part.key: [record.as_json() for record in part.records] for part in items}

        return {
            "made_at": self.made_at.isoformat(),
            "account": parts(self.account),
            "households": [{"id": h.household_id, **parts(h.parts)} for h in self.households],
        }


def _json_value(model_field: models.Field, value: Any) -> Any:
    if value is None:
        return None
    if model_field.many_to_many:
        return [str(obj) for obj in value.all()]
    if model_field.is_relation:
        return str(value)
    if isinstance(model_field, models.FileField):
        return PurePosixPath(value.name).name if value else ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _text(obj: models.Model, model_field: models.Field, value: Any) -> str:
    if value is None or value == "":
        return "–"
    if model_field.many_to_many:
        return ", ".join(str(o) for o in value.all()) or "–"
    if model_field.choices:
        return str(getattr(obj, f"get_{model_field.name}_display")())
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "j F Y H:i")
    if isinstance(value, dt.date):
        return formats.date_format(value, "j F Y")
    if isinstance(model_field, models.FileField):
        return PurePosixPath(value.name).name if value else "–"
    if isinstance(model_field, models.JSONField):
        return gettext("in the JSON file")
    return str(value)


def record_of(obj: models.Model, *, extra: Iterable[Item] = ()) -> Record:
    """Every stored field of the row the register knows, less what is withheld."""
    label = obj._meta.label
    withheld = WITHHELD.get(label, {})
    record = Record(id=obj.pk)
    for model_field in stored_fields(obj._meta.model):
        if model_field.name in withheld or model_field.name not in REGISTER[label].classes():
            continue
        if model_field.many_to_many or model_field.is_relation:
            value = getattr(obj, model_field.name)
        else:
            value = getattr(obj, model_field.attname)
        record.items.append(
            Item(
                name=model_field.name,
                label=str(getattr(model_field, "verbose_name", model_field.name)),
                value=_json_value(model_field, value),
                text=_text(obj, model_field, value),
            )
        )
    record.items.extend(extra)
    return record


def _part(key: str, rows: Iterable[models.Model], extra: Any = None) -> Part:
    return Part(key, [record_of(row, extra=extra(row) if extra else ()) for row in rows])


def _report_link(report: Any) -> list[Item]:
    if not report.pdf:
        return []
    url = settings.SITE_URL.rstrip("/") + reverse(
        "dossier:report-file", args=[report.dossier_id, report.pk]
    )
    return [Item("download", gettext("Download"), url, url)]


def _consent_text(record: Any) -> list[Item]:
    text = record.text
    return [
        Item("text_title", gettext("Title of the text"), text.title, text.title),
        Item("text_version", gettext("Version of the text"), text.version, text.version),
        Item("text_content", gettext("Text you agreed to"), text.text, text.text),
    ]


def _sharing(household: Household) -> Part:
    """The organisations the initiative shares with, under which agreement and level."""
    from dataplatform.models import Level, Publication, Purpose, SharingAgreement

    consents = list(household.consents.all())
    given = {c.purpose for c in consents}
    agreements = SharingAgreement.objects.filter(initiative_id=household.initiative_id)
    agreements = agreements.select_related("recipient").order_by("valid_from", "pk")
    records = []
    for agreement in agreements:
        purpose = Purpose.ADDRESS_LEVEL if agreement.level == Level.ADDRESS else Purpose.AGGREGATES
        starts = [c.given_at for c in consents if c.purpose == purpose]
        publications = (
            Publication.objects.filter(recipient=agreement.recipient, created_at__gte=min(starts))
            .order_by("created_at")
            .values_list("created_at", flat=True)
            if starts
            else []
        )
        dates = [p.isoformat() for p in publications]
        rows = [
            ("recipient", gettext("Shared with"), str(agreement.recipient)),
            ("agreement", gettext("Agreement"), agreement.reference),
            ("level", gettext("Level"), str(agreement.get_level_display())),
            ("valid_from", gettext("From"), agreement.valid_from.isoformat()),
            (
                "valid_until",
                gettext("Until"),
                agreement.valid_until.isoformat() if agreement.valid_until else "",
            ),
            ("your_consent", gettext("Your consent for this"), purpose in given),
        ]
        record = Record(id=agreement.pk)
        for name, label, value in rows:
            text = value
            if isinstance(value, bool):
                text = gettext("yes") if value else gettext("no")
            record.items.append(Item(name, label, value, text or "–"))
        record.items.append(
            Item(
                "publications",
                gettext("Figures sent since your consent"),
                dates,
                ", ".join(dates) or "–",
            )
        )
        records.append(record)
    return Part("sharing", records)


def _views(household: Household) -> Part:
    from dossier import access_log

    records = []
    for n, view in enumerate(access_log.viewed(household, limit=1000), start=1):
        when = timezone.localtime(view.when)
        shown = formats.date_format(when, "j F Y H:i")
        records.append(
            Record(
                id=n,
                items=[
                    Item("when", gettext("When"), when.isoformat(), shown),
                    Item("who", gettext("Who"), view.who, view.who),
                    Item("roles", gettext("Role"), view.roles, view.roles),
                    Item("page", gettext("Page"), view.page, view.page),
                ],
            )
        )
    return Part("views", records)


def _household_parts(household: Household) -> list[Part]:
    from crm.models import Case, CaseEvent, Task, Visit
    from dataplatform.models import SharedHousehold
    from dossier.models import (
        AdviceReport,
        BuildingComponent,
        Document,
        Dossier,
        DossierMeasure,
        DossierSection,
        Message,
        MessageRead,
        Photo,
        ValueRecord,
    )
    from nip.models import Application, Commitment, ExecutedMeasure

    in_dossier = {"dossier__household": household}
    in_case = {"case__household": household}
    # Only the applications that name the household: one the municipality took in for
    # the address without a household may be a previous occupant's or the owner's.
    applications = Application.objects.filter(household=household)
    return [
        _part("household", [household]),
        _part("dwelling", [household.dwelling]),
        _part("dossier", Dossier.objects.filter(household=household)),
        _part("components", BuildingComponent.objects.filter(**in_dossier)),
        _part("topics", DossierSection.objects.filter(**in_dossier)),
        _part("value_sources", ValueRecord.objects.filter(**in_dossier)),
        _part("measures", DossierMeasure.objects.filter(**in_dossier)),
        _part("messages", Message.objects.filter(**in_dossier).select_related("author")),
        _part("messages_read", MessageRead.objects.filter(message__dossier__household=household)),
        _part("documents", Document.objects.filter(**in_dossier)),
        _part("photos", Photo.objects.filter(**in_dossier)),
        _part("reports", AdviceReport.objects.filter(**in_dossier), extra=_report_link),
        _part("cases", Case.objects.filter(household=household)),
        _part("contact_history", CaseEvent.objects.filter(**in_case)),
        _part("visits", Visit.objects.filter(**in_case)),
        _part("tasks", Task.objects.filter(**in_case)),
        _part(
            "consents",
            household.consents.select_related("text").order_by("given_at", "pk"),
            extra=_consent_text,
        ),
        _part("shared_for_figures", SharedHousehold.objects.filter(household=household)),
        _sharing(household),
        _part("nip_applications", applications.select_related("programme")),
        _part("nip_commitments", Commitment.objects.filter(application__in=applications)),
        _part("nip_measures", ExecutedMeasure.objects.filter(application__in=applications)),
        _views(household),
    ]


def resident_export(*, user: User, now: dt.datetime | None = None) -> Export:
    """Everything stored about this user and the households they live in."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.usersessions.models import UserSession

    account = [
        _part("account", [user]),
        _part("email_addresses", EmailAddress.objects.filter(user=user)),
        _part("authenticators", Authenticator.objects.filter(user=user)),
        _part("sessions", UserSession.objects.filter(user=user)),
    ]
    households = [
        HouseholdExport(household.pk, _household_parts(household))
        for household in user.households.select_related("dwelling", "initiative").order_by("pk")
    ]
    return Export(made_at=now or timezone.now(), account=account, households=households)


def export_json(export: Export) -> bytes:
    return json.dumps(export.as_json(), ensure_ascii=False, indent=2).encode()


def export_pdf(export: Export) -> bytes:
    """The same data as the JSON file, for people to read (Dutch, formal)."""
    from dossier import reports

    with translation.override(settings.LANGUAGE_CODE):
        html = render_to_string(
            "privacy/rights/export_pdf.html",
            {"export": export, "withheld_models": WITHHELD_MODELS, "withheld": WITHHELD},
        )
    pdf, _pages = reports.render_pdf_pages(html, stylesheet=reports.stylesheet("css/report.css"))
    return pdf


def export_filename(export: Export, extension: str) -> str:
    # No name or address in a file name: it ends up in download folders and mail.
    return f"mijn-gegevens-{timezone.localtime(export.made_at):%Y-%m-%d}.{extension}"
