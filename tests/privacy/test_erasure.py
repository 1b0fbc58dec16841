"""Erasure on request: afterwards no table and no stored file holds the household's data."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from auditlog.models import LogEntry as AuditEntry
from django.contrib.admin.models import CHANGE
from django.contrib.admin.models import LogEntry as AdminEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext
from PIL import Image

from accounts.models import Membership, User
from crm import services as crm_services
from crm.models import Case, CaseEvent, Task, Visit
from dataplatform.models import ConsentRecord, SharedHousehold
from demo.nip_plan import programme_from_plan
from dossier import advice_reports, exchange
from dossier.models import (
    AdviceReport,
    Document,
    Dossier,
    DossierMeasure,
    DossierSection,
    Household,
    Message,
    Photo,
    ValueRecord,
)
from nip.models import Application
from privacy import erasure
from privacy.models import Removal
from tests import builders
from tests.dataplatform import builders as dp_builders
from tests.nip.builders import make_application

pytestmark = pytest.mark.django_db

# Distinctive values: each occurs nowhere but in this household's data.
FIRST = "Xanthippe"
LAST = "Zwaluwstaart"
HOUSEHOLD = "Familie Zwaluwstaart-Oehoe"
EMAIL = "xanthippe.zwaluwstaart@kwikstaart.example"
PHONE = "0612398765"
STREET = "Kwikstaartsingel"
POSTCODE = "3584QX"
CITY = "Grutterveen"
WISH = "Wens-Roerdomp-12"
NOTE = "Notitie-Grutto-77"
SOURCE_DETAIL = "Bron-Tureluur-15"
ADVICE = "Advies-Kemphaan-19"
QUOTE_COMPANY = "Isolatiebedrijf Steltkluut"
MESSAGE_RESIDENT = "Bericht-Kwartelkoning-41"
MESSAGE_COACH = "Bericht-Ijsvogel-42"
HELP = "Hulp-Wielewaal-53"
EVENT = "Gesprek-Patrijs-61"
TASK = "Taak-Korhoen-88"
DOCUMENT_TITLE = "Offerte-Goudplevier-25"
DOCUMENT_CONTENT = "Inhoud-Porseleinhoen-31"
CAPTION = "Foto-Boomklever-46"
REPORT_SUMMARY = "Rapport-Nachtzwaluw-93"
DECISION = "Besluit-Merel-07"

SECRETS = (
    FIRST,
    LAST,
    HOUSEHOLD,
    EMAIL,
    PHONE,
    STREET,
    POSTCODE,
    "3584 QX",
    CITY,
    WISH,
    NOTE,
    SOURCE_DETAIL,
    ADVICE,
    QUOTE_COMPANY,
    MESSAGE_RESIDENT,
    MESSAGE_COACH,
    HELP,
    EVENT,
    TASK,
    DOCUMENT_TITLE,
    DOCUMENT_CONTENT,
    CAPTION,
    REPORT_SUMMARY,
    DECISION,
)

PDF = (
    b"%PDF-1.4\n% " + DOCUMENT_CONTENT.encode() + b"\n1 0 obj<</Type/Catalog/Pages 2 0 R>>"
    b"endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (30, 90, 160)).save(out, format="JPEG")
    return out.getvalue()


@dataclass
class Filled:
    household: Household
    resident: User
    dossier: Dossier
    case: Case
    resident_client: Client


def fill_household(cast, capture) -> Filled:
    """A household with everything a household can have, each value distinctive."""
    now = timezone.now()
    resident = builders.make_user(EMAIL, first_name=FIRST, last_name=LAST, phone=PHONE)
    dwelling = builders.make_dwelling(street=STREET, postcode=POSTCODE, city=CITY, bag_id="")
    household = builders.make_household(
        cast.initiative_a,
        coach=cast.alice,
        residents=(resident,),
        dwelling=dwelling,
        name=HOUSEHOLD,
    )
    dossier = Dossier.objects.get(household=household)
    Dossier.objects.filter(pk=dossier.pk).update(
        wishes=WISH,
        gas_m3_per_year=1234,
        occupants=3,
        ownership="owner",
        dwelling_type="corner",
        build_year=1965,
        floor_area_m2=120,
        heating_system="hr_boiler",
        invited_at=now,
    )
    DossierSection.objects.filter(dossier=dossier).update(notes=NOTE)
    ValueRecord.objects.create(
        dossier=dossier,
        field="wishes",
        source="resident",
        value=WISH,
        recorded_at=now,
        recorded_by=resident,
        source_detail=SOURCE_DETAIL,
    )
    DossierMeasure.objects.filter(dossier=dossier).update(
        advice_note=ADVICE,
        advice_priority="high",
        quote_company=QUOTE_COMPANY,
        quote_amount_eur=Decimal("4321.00"),
        quote_date=dt.date(2026, 5, 4),
    )
    dossier.refresh_from_db()
    with capture(execute=True):
        exchange.message_send(
            dossier=dossier, author=resident, body=MESSAGE_RESIDENT, visibility="shared"
        )
        exchange.message_send(
            dossier=dossier, author=cast.alice, body=MESSAGE_COACH, visibility="staff"
        )
        exchange.document_add(
            dossier=dossier,
            uploaded_by=resident,
            upload=io.BytesIO(PDF),
            kind="quote",
            title=DOCUMENT_TITLE,
            visibility="shared",
        )
        exchange.photo_add(
            dossier=dossier, taken_by=cast.alice, upload=io.BytesIO(jpeg()), caption=CAPTION
        )
        advice_reports.report_request(
            dossier=dossier, actor=cast.alice, summary=REPORT_SUMMARY, delivery="email"
        )
    case = crm_services.case_open(
        household=household,
        wants_help_with=HELP,
        heard_via="neighbour",
        contact_email=EMAIL,
        contact_phone=PHONE,
        privacy_statement_version="1",
        privacy_accepted_at=now,
    )
    crm_services.case_note_add(case=case, actor=cast.coordinator, kind="call", text=EVENT)
    crm_services.task_add(
        case=case,
        assignee=cast.alice,
        title=TASK,
        due_date=timezone.localdate() + dt.timedelta(days=3),
        actor=cast.coordinator,
    )
    Visit.objects.create(
        case=case, coach=cast.alice, planned_start=now + dt.timedelta(days=2, hours=3)
    )
    dp_builders.give_consent(household, "aggregates", by=resident)
    dp_builders.give_consent(household, "processing", by=resident)
    SharedHousehold.objects.get_or_create(
        household=household,
        defaults={"initiative": household.initiative, "postcode": POSTCODE},
    )
    builders.give_totp(resident)
    # The resident logs in and looks around: a session, a user session, audit entries.
    resident_client = Client()
    resident_client.force_login(resident, backend="django.contrib.auth.backends.ModelBackend")
    assert resident_client.get(reverse("dossier:dashboard")).status_code == 200
    # allauth records a user session at its own login; force_login skips that.
    UserSession.objects.create(
        user=resident,
        session_key=resident_client.session.session_key,
        ip="192.0.2.8",
        user_agent="Testbrowser",
    )
    AdminEntry.objects.create(
        user=cast.admin,
        content_type=ContentType.objects.get_for_model(Household),
        object_id=str(household.pk),
        object_repr=HOUSEHOLD,
        action_flag=CHANGE,
        change_message=f"Naam gewijzigd in {HOUSEHOLD}",
    )
    # The administrator corrected the account in the admin: its log names the person.
    address = EmailAddress.objects.filter(user=resident).first() or EmailAddress.objects.create(
        user=resident, email=EMAIL, verified=True, primary=True
    )
    for model, pk, text in (
        (User, resident.pk, f"{FIRST} {LAST}"),
        (EmailAddress, address.pk, EMAIL),
    ):
        AdminEntry.objects.create(
            user=cast.admin,
            content_type=ContentType.objects.get_for_model(model),
            object_id=str(pk),
            object_repr=text,
            action_flag=CHANGE,
            change_message=f"{text} gewijzigd",
        )
    # Written as an entry from before masking existed: bulk_create skips the pre_save
    # masking (privacy.audit), so only the erasure's own scrub can clear it.
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                content_type=ContentType.objects.get_for_model(User),
                object_pk=str(resident.pk),
                object_id=resident.pk,
                object_repr=f"{FIRST} {LAST}",
                action=AuditEntry.Action.UPDATE,
                changes={"last_name": ["Oud", LAST]},
                actor=resident,
                actor_email=EMAIL,
                remote_addr="192.0.2.7",
            )
        ]
    )
    return Filled(household, resident, dossier, Case.objects.get(pk=case.pk), resident_client)


def found_in_database(secrets=SECRETS) -> set[tuple[str, str, str]]:
    """(table, column, secret) for every secret in any column of any table."""
    found = set()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            selected = ", ".join(f"CAST({quote(c)} AS TEXT)" for c in columns)
            cursor.execute(f"SELECT {selected} FROM {quote(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if not value:
                        continue
                    text = value.lower()
                    for secret in secrets:
                        if secret.lower() in text:
                            found.add((table, column, secret))
    return found


def found_in_files(root: Path, secrets=SECRETS) -> set[tuple[str, str]]:
    found = set()
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            for secret in secrets:
                if secret.lower().encode() in data:
                    found.add((str(path.relative_to(root)), secret))
    return found


def media_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def erase(filled: Filled, cast, capture) -> Removal:
    with capture(execute=True):
        return erasure.household_erase(household=filled.household, performed_by=cast.coordinator)


def test_the_filled_household_holds_every_secret_before_the_erasure(
    cast, media, django_capture_on_commit_callbacks
):
    fill_household(cast, django_capture_on_commit_callbacks)
    assert AdviceReport.objects.get().status == "done"
    found = {secret for _table, _column, secret in found_in_database()}
    # Every secret that is stored as text is found: the search itself works.
    assert found >= set(SECRETS) - {DOCUMENT_CONTENT, DECISION}
    assert {secret for _path, secret in found_in_files(media)} == {DOCUMENT_CONTENT}


def test_it_leaves_no_trace_of_the_household_in_any_table_or_file(
    cast, media, django_capture_on_commit_callbacks
):
    filled = fill_household(cast, django_capture_on_commit_callbacks)
    assert len(media_files(media)) == 4  # document, photo, thumbnail, report

    erase(filled, cast, django_capture_on_commit_callbacks)

    assert found_in_database() == set()
    assert found_in_files(media) == set()
    assert media_files(media) == set()


def test_it_removes_the_rows_and_anonymises_what_the_figures_count(
    cast, media, django_capture_on_commit_callbacks
):
    filled = fill_household(cast, django_capture_on_commit_callbacks)
    erase(filled, cast, django_capture_on_commit_callbacks)

    for model in (Message, Document, Photo, AdviceReport, ValueRecord):
        assert not model.objects.filter(dossier=filled.dossier).exists(), model
    assert not SharedHousehold.objects.filter(household=filled.household).exists()
    household = Household.objects.get(pk=filled.household.pk)
    assert household.name == erasure.ERASED
    assert not household.residents.exists()
    # House characteristics and the status of measures stay for the figures.
    dossier = Dossier.objects.get(pk=filled.dossier.pk)
    assert (dossier.dwelling_type, dossier.build_year, dossier.floor_area_m2) == (
        "corner",
        1965,
        120,
    )
    assert (dossier.gas_m3_per_year, dossier.occupants, dossier.wishes) == (None, None, "")
    assert DossierMeasure.objects.filter(dossier=dossier, advice_priority="high").exists()
    case = Case.objects.get(pk=filled.case.pk)
    assert (case.contact_email, case.contact_phone, case.wants_help_with) == ("", "", "")
    assert case.privacy_accepted_at is not None  # proof of acceptance, kept
    assert CaseEvent.objects.filter(case=case).exclude(text="").count() == 0
    assert Task.objects.get(case=case).title == erasure.ERASED
    visit = Visit.objects.get(case=case)
    assert timezone.localtime(visit.planned_start).day == 1
    # Consent records stay as proof, withdrawn.
    consents = ConsentRecord.objects.filter(household=household)
    assert consents.count() == 2
    assert not consents.filter(withdrawn_at__isnull=True).exists()
    # The account can never log in again.
    user = User.objects.get(pk=filled.resident.pk)
    assert not user.is_active
    assert not user.has_usable_password()
    assert (user.first_name, user.last_name, user.phone) == ("", "", "")
    assert not EmailAddress.objects.filter(user=user).exists()
    assert not Authenticator.objects.filter(user=user).exists()
    assert not UserSession.objects.filter(user=user).exists()
    assert not Session.objects.filter(
        session_key=filled.resident_client.session.session_key
    ).exists()
    assert filled.resident_client.get(reverse("dossier:dashboard")).status_code == 302
    # The dwelling's address is gone; its characteristics stay.
    dwelling = household.dwelling
    dwelling.refresh_from_db()
    assert (dwelling.postcode, dwelling.street, dwelling.city) == (erasure.ERASED_POSTCODE, "", "")
    assert dwelling.build_year == 1965


def test_it_writes_one_removal_with_counts_and_no_values(
    cast, media, django_capture_on_commit_callbacks
):
    filled = fill_household(cast, django_capture_on_commit_callbacks)
    removal = erase(filled, cast, django_capture_on_commit_callbacks)

    assert removal.reason == Removal.Reason.ERASURE
    assert removal.rule == "erasure"
    assert removal.household_id == filled.household.pk
    assert removal.organisation == cast.initiative_a
    assert removal.performed_by == cast.coordinator
    details = removal.details
    assert details["dossier.Message"] == {"deleted": 2}
    assert details["dossier.Photo"] == {"deleted": 1}
    assert details["dossier.Document"] == {"deleted": 1}
    assert details["dossier.AdviceReport"] == {"deleted": 1}
    assert details["accounts.User"] == {"anonymised": 1}
    assert details["crm.Case"] == {"anonymised": 1}
    assert details["dataplatform.ConsentRecord"] == {"withdrawn": 2}
    assert details["files"] == {"deleted": 4}
    text = str(details).lower()
    assert not [secret for secret in SECRETS if secret.lower() in text]


def test_erasing_twice_does_no_harm_and_writes_no_second_removal(
    cast, media, django_capture_on_commit_callbacks
):
    filled = fill_household(cast, django_capture_on_commit_callbacks)
    first = erase(filled, cast, django_capture_on_commit_callbacks)
    second = erase(filled, cast, django_capture_on_commit_callbacks)

    assert second.pk == first.pk
    assert Removal.objects.count() == 1
    assert found_in_database() == set()


def test_it_keeps_the_municipalitys_grant_record_and_the_address_it_is_for(
    cast, media, django_capture_on_commit_callbacks
):
    filled = fill_household(cast, django_capture_on_commit_callbacks)
    application = make_application(
        programme_from_plan(cast.municipality),
        dwelling=filled.household.dwelling,
        household=filled.household,
        decision_note=DECISION,
    )

    removal = erase(filled, cast, django_capture_on_commit_callbacks)

    # Exactly the documented legal subset: the application and its home's address.
    assert found_in_database() == {
        ("dossier_dwelling", "street", STREET),
        ("dossier_dwelling", "postcode", POSTCODE),
        ("dossier_dwelling", "city", CITY),
        ("nip_application", "decision_note", DECISION),
    }
    assert found_in_files(media) == set()
    assert Application.objects.get(pk=application.pk).household_id == filled.household.pk
    assert removal.details["nip.Application"] == {"kept": 1}
    assert removal.details["dossier.Dwelling"] == {"kept": 1}


# The pages -------------------------------------------------------------------------------


def erase_url(household) -> str:
    return reverse("privacy:household-erase", args=[household.pk])


def erased_url(household) -> str:
    return reverse("privacy:household-erased", args=[household.pk])


CONFIRMED = {"reason": "request", "channel": "email", "confirm": "on"}


def test_the_coordinator_confirms_and_sees_what_was_removed_and_kept(
    cast, login, media, django_capture_on_commit_callbacks
):
    filled = fill_household(cast, django_capture_on_commit_callbacks)
    client = login(cast.coordinator)
    detail = client.get(reverse("dossier:household-detail", args=[filled.household.pk]))
    assert erase_url(filled.household) in detail.content.decode()

    page = client.get(erase_url(filled.household))
    assert page.status_code == 200
    content = page.content.decode()
    for kept in erasure.KEPT:
        assert escape(str(kept.what)) in content
        assert escape(str(kept.why)) in content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(erase_url(filled.household), CONFIRMED)
    assert response.status_code == 302
    assert response["Location"] == erased_url(filled.household)
    removal = Removal.objects.get()
    assert removal.details["request"] == {"reason": "request"}
    assert ConsentRecord.objects.filter(withdrawal_channel="email").count() == 2
    assert found_in_database() == set()
    assert media_files(media) == set()

    result = client.get(erased_url(filled.household))
    assert result.status_code == 200
    content = result.content.decode()
    assert escape(str(erasure.KEPT[0].what)) in content
    assert escape(str(Message._meta.verbose_name_plural)) in content
    assert 'id="counts"' in content


def test_it_erases_nothing_without_the_confirmation(cast, login):
    client = login(cast.coordinator)
    response = client.post(erase_url(cast.household_a), {"reason": "request", "channel": "email"})
    assert response.status_code == 422
    assert gettext("Tick the box to confirm the erasure.") in response.content.decode()
    assert not Removal.objects.exists()
    assert Household.objects.get(pk=cast.household_a.pk).name == "Familie Alfa"


def test_a_double_submit_erases_once(cast, login, django_capture_on_commit_callbacks):
    client = login(cast.coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(erase_url(cast.household_a), CONFIRMED)
        second = client.post(erase_url(cast.household_a), CONFIRMED)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == erased_url(cast.household_a)
    assert Removal.objects.count() == 1
    # After the erasure the form is not offered again.
    assert client.get(erase_url(cast.household_a))["Location"] == erased_url(cast.household_a)


def test_only_the_coordinator_of_the_initiative_may_erase(cast, login):
    for user in (cast.alice, cast.bob, cast.coordinator_b, cast.charlie, cast.resident):
        client = login(user)
        for url in (erase_url(cast.household_a), erased_url(cast.household_a)):
            assert client.get(url).status_code == 404, (user, url)
        assert client.post(erase_url(cast.household_a), CONFIRMED).status_code == 404
        client.logout()
    assert not Removal.objects.exists()
    assert Household.objects.get(pk=cast.household_a.pk).name == "Familie Alfa"


def test_the_coach_sees_no_erase_link(cast, login):
    # Not even a coach who coordinates another initiative.
    Membership.objects.create(user=cast.alice, organisation=cast.initiative_b, role="coordinator")
    client = login(cast.alice)
    detail = client.get(reverse("dossier:household-detail", args=[cast.household_a.pk]))
    assert detail.status_code == 200
    assert erase_url(cast.household_a) not in detail.content.decode()


def test_the_result_page_is_404_before_an_erasure(cast, login):
    client = login(cast.coordinator)
    assert client.get(erased_url(cast.household_a)).status_code == 404


def test_the_result_page_shows_an_erasure_by_the_retention_period_too(cast, login):
    erasure.household_erase(
        household=cast.household_a, reason=Removal.Reason.RETENTION, rule="inactive_dossiers"
    )
    client = login(cast.coordinator)
    # The erase page sends the coordinator to the result, which must be there.
    response = client.get(erase_url(cast.household_a), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == erased_url(cast.household_a)


def test_it_sends_an_anonymous_visitor_to_the_login_on_erasure_pages(cast, client):
    for url in (erase_url(cast.household_a), erased_url(cast.household_a)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert client.post(erase_url(cast.household_a), CONFIRMED).status_code == 302
    assert not Removal.objects.exists()


def test_the_erasure_deals_with_every_table_below_the_household():
    from django.apps import apps

    reached: set[str] = set()
    queue = [apps.get_model("dossier", "Household")]
    while queue:
        model = queue.pop()
        for relation in model._meta.get_fields(include_hidden=True):
            if relation.concrete or not relation.auto_created or relation.many_to_many:
                continue
            related = relation.related_model
            if related._meta.auto_created or related._meta.label in reached:
                continue
            reached.add(related._meta.label)
            queue.append(related)
    assert reached - set(erasure.HANDLED_MODELS) == set()
    assert "dossier.Message" in reached


def test_a_resident_without_a_household_downloads_their_account(login):
    import json

    user = builders.make_user(EMAIL, first_name=FIRST, last_name=LAST)
    response = login(user).get(reverse("privacy:my-data-json"))
    assert response.status_code == 200
    data = json.loads(response.content)
    assert data["account"]["account"][0]["email"] == EMAIL
    assert data["households"] == []
