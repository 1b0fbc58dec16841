"""Celery messages and log lines carry ids, never personal data.

The flows that enqueue tasks or log run here with a cast whose names, addresses, e-mail
addresses and phone numbers are easy to recognise. Every task message the product sends
(its task name, args, kwargs and options) and every log record at DEBUG is captured;
none may hold an e-mail address, a Dutch postcode, a phone number or a name or street of
the cast, and task arguments must be ids or short codes. A self-test of the matcher and
minimum counts make sure the test would notice a leak at all.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest
from celery.app.task import Task
from celery.signals import before_task_publish
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import reminders
from crm import services as crm
from crm.models import Case, PrivacyStatement
from dossier import advice_reports, exchange
from dossier.models import Delivery, Dossier
from dossier.models.exchange import Visibility
from privacy import erasure, retention
from privacy import tasks as privacy_tasks
from tests import builders
from tests.dataplatform.builders import make_publication
from tests.dataplatform.test_delivery import CELLS, make_delivery
from tests.dataplatform.test_delivery import platform as platform  # the fixture
from tests.dossier.test_advice_reports import prepare
from tests.nip.conftest import nip, nip_parameters  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

# The cast: every value distinctive, so a leak cannot hide behind a common word.
PEOPLE = {
    "resident": ("Merel", "Vlinderbloem", "merel.vlinderbloem@voorbeeld.nl", "06-12398745"),
    "signup": ("Roerdomp", "Kwartelkoning", "roerdomp.kwartel@voorbeeld.nl", "0302198765"),
    "imported": ("Grutto", "Tureluur", "grutto.tureluur@voorbeeld.nl", "0612987345"),
}
HOUSEHOLD = "Familie Vlinderbloem"
STREETS = ("Kwikstaartlaan", "Ijsvogelhof", "Lepelaarsingel")
POSTCODES = ("3731 XZ", "3732QW", "3733 KV")
NAMES = (
    HOUSEHOLD,
    *[name for person in PEOPLE.values() for name in person[:2]],
    *STREETS,
)

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
POSTCODE = re.compile(r"\b\d{4}\s?[A-Z]{2}\b")
# Dutch numbers: 06-12345678, 030 219 8765, +31 6 1234 5678.
PHONE = re.compile(r"(?<![\w-])(?:\+31|0)(?:[\s-]?\d){9}(?!\d)")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# What a task argument may be when it is a string: a UUID or a short code.
SHORT_CODE = re.compile(r"[a-z0-9_:.-]{1,40}")


def personal_data_in(text: str) -> list[str]:
    """The pieces of text that look like personal data (UUIDs, which are ids, left out)."""
    text = UUID.sub("<uuid>", text)
    found = [m.group(0) for pattern in (EMAIL, POSTCODE, PHONE) for m in pattern.finditer(text)]
    lowered = text.lower()
    found += [name for name in NAMES if name.lower() in lowered]
    return found


def test_the_matcher_catches_what_a_leaking_line_would_hold():
    for leak in (
        "mail sent to merel.vlinderbloem@voorbeeld.nl",
        "address 3731 XZ 12",
        "address 3732QW",
        "call 06-12398745",
        "call 030 219 8765",
        "call +31 6 1239 8745",
        "household Familie Vlinderbloem has no coach",
        "visit at kwikstaartlaan 3",
    ):
        assert personal_data_in(leak), leak
    for clean in (
        "advice report 12 failed: RuntimeError",
        f"Task dossier.tasks.advice_report_render[{uuid.uuid4()}] succeeded in 0.33s: None",
        "Publication delivery 3 (publication 7): delivered, HTTP 200, attempt 1.",
        "GET /dossiers/12/rapporten/ 200 in 2026-03-02 09:00:00",
    ):
        assert not personal_data_in(clean), clean


@dataclass
class Captured:
    messages: list[dict[str, Any]] = field(default_factory=list)

    def names(self) -> set[str]:
        return {message["task"] for message in self.messages}


@pytest.fixture
def captured() -> Captured:
    """Every task message: through apply_async (tests run tasks in-process) and, should
    anything reach a broker, as published."""
    captured = Captured()
    original = Task.apply_async

    def apply_async(self, args=None, kwargs=None, *rest, **options):
        captured.messages.append(
            {"task": self.name, "args": list(args or ()), "kwargs": dict(kwargs or {}), **options}
        )
        return original(self, args, kwargs, *rest, **options)

    def published(sender=None, headers=None, body=None, **kwargs):
        captured.messages.append({"task": sender, "headers": headers, "body": body})

    before_task_publish.connect(published, weak=False)
    with mock.patch.object(Task, "apply_async", apply_async):
        yield captured
    before_task_publish.disconnect(published)


@pytest.fixture
def people(cast):
    """The cast's household A with the distinctive resident, address and contact details."""
    first, last, email, phone = PEOPLE["resident"]
    resident = cast.resident
    resident.first_name, resident.last_name, resident.phone = first, last, phone
    resident.email = email
    resident.save()
    resident.emailaddress_set.update(email=email)
    household = cast.household_a
    household.name = HOUSEHOLD
    household.save()
    dwelling = household.dwelling
    dwelling.street, dwelling.postcode, dwelling.city = STREETS[0], "3731XZ", "Zuilen"
    dwelling.save()
    for user, person in ((cast.alice, "Bergeend Nachtegaal"),):
        user.first_name, user.last_name = person.split()
        user.save()
    return household


def run_flows(cast, nip, platform, people, settings, tmp_path, capture) -> None:  # noqa: F811
    """Everything that enqueues a task or logs, as the people of the cast would do it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SITE_URL = "https://woningdossier.example.nl"
    household = people
    anonymous = Client()

    # Sign-up by a new household on the public form: its confirmation mail.
    PrivacyStatement.objects.create(
        initiative=cast.initiative_a,
        version="2026-1",
        text="Wij gebruiken uw gegevens alleen om u te helpen.",
        valid_from=timezone.now() - dt.timedelta(days=1),
    )
    first, last, email, phone = PEOPLE["signup"]
    with capture(execute=True):
        response = anonymous.post(
            reverse("signup:form", args=[cast.initiative_a.slug]),
            {
                "name": f"{first} {last}",
                "postcode": POSTCODES[1],
                "house_number": "7",
                "street": STREETS[1],
                "city": "Zuilen",
                "contact_email": email,
                "contact_phone": phone,
                "wants_help_with": f"Bel {phone} of mail {email}",
                "heard_via": "neighbour",
                "accept_privacy": "on",
                "website": "",
            },
        )
    assert response.status_code == 302, response.content[:2000]

    # The household's case: coach assigned (mail to the coach), resident invited.
    case = crm.case_open(
        household=household,
        contact_email=PEOPLE["resident"][2],
        contact_phone=PEOPLE["resident"][3],
    )
    with capture(execute=True):
        crm.case_assign(case=case, coach=cast.alice, actor=cast.coordinator)
    with capture(execute=True):
        crm.case_invite_resident(case=case, actor=cast.coordinator)

    # A week later the dossier reminder.
    with capture(execute=True):
        reminders.dossier_reminders(now=timezone.now() + dt.timedelta(days=8))

    # Messages both ways.
    dossier = Dossier.objects.get(household=household)
    with capture(execute=True):
        exchange.message_send(
            dossier=dossier,
            author=cast.resident,
            body=f"Groet van {HOUSEHOLD}, {STREETS[0]}",
            visibility=Visibility.SHARED,
        )
        exchange.message_send(
            dossier=dossier, author=cast.alice, body="Tot dinsdag!", visibility=Visibility.SHARED
        )

    # The advice report, made and mailed; then a report that fails to render.
    prepare(household)
    with capture(execute=True):
        report = advice_reports.report_request(
            dossier=dossier,
            actor=cast.alice,
            summary=f"Beste {HOUSEHOLD}, aan de {STREETS[0]}",
            delivery=Delivery.EMAIL,
        )
    report.refresh_from_db()
    assert report.sent_at is not None
    from dossier import reports

    with (
        mock.patch.object(reports, "render_pdf_pages", side_effect=RuntimeError(STREETS[0])),
        capture(execute=True),
    ):
        advice_reports.report_request(dossier=dossier, actor=cast.alice, summary=HOUSEHOLD)

    # Residents imported from a spreadsheet by the coordinator.
    coordinator = builders.log_in_with_second_step(Client(), cast.coordinator)
    first, last, email, phone = PEOPLE["imported"]
    csv = (
        "Voornaam;Achternaam;Straat;Huisnummer;Postcode;Woonplaats;E-mailadres;Telefoon\n"
        f"{first};{last};{STREETS[2]};3;{POSTCODES[2]};Zuilen;{email};{phone}\n"
        f"{first};{last};{STREETS[2]};x;{POSTCODES[2]};Zuilen;{email.replace('@', '')};abc\n"
    )
    response = coordinator.post(
        reverse("crm:import-upload"),
        {"file": SimpleUploadedFile("lijst.csv", csv.encode(), content_type="text/csv")},
    )
    assert response.status_code == 302
    upload_id = response["Location"].rstrip("/").split("/")[-2]
    mapping = reverse("crm:import-mapping", args=[upload_id])
    form = coordinator.get(mapping).context["form"]
    coordinator.post(mapping, {name: form[name].initial for name in form.fields})
    coordinator.get(reverse("crm:import-preview", args=[upload_id]))
    with capture(execute=True):
        response = coordinator.post(reverse("crm:import-confirm", args=[upload_id]))
    assert response.status_code == 302
    assert Case.objects.filter(contact_email=email).exists()

    # The NIP monitoring file, made in the background.
    staff = builders.log_in_with_second_step(Client(), cast.municipality_staff)
    with capture(execute=True):
        response = staff.post(
            reverse("nip:monitoring-export-create", args=[nip.programme.pk]),
            {"export-period": "2024-h1", "export-format": "csv"},
        )
    assert response.status_code == 302

    # Figures published and delivered to the provincial platform; one refused.
    from dataplatform import tasks as dataplatform_tasks

    make_delivery(make_publication(cast.province, CELLS))
    platform.script = ["ok"]
    with capture(execute=True):
        dataplatform_tasks.publications_make.delay()
        dataplatform_tasks.deliveries_send.delay()
    # The administrator asks for a recipient's figures now.
    from dataplatform.models import Level, SharingAgreement
    from tests.dataplatform.builders import make_agreement

    make_agreement(cast.initiative_a, cast.province, Level.PC6)
    administrator = builders.log_in_with_second_step(Client(), cast.admin)
    with capture(execute=True):
        response = administrator.post(
            "/beheer/dataplatform/sharingagreement/",
            {
                "action": "publish_now",
                "_selected_action": list(SharingAgreement.objects.values_list("pk", flat=True)),
            },
        )
    assert response.status_code == 302
    make_delivery(make_publication(cast.province, CELLS))
    platform.script = ["400"]
    with capture(execute=True):
        dataplatform_tasks.deliveries_send.delay()

    # Failed logins, up to the lockout, for a known and an unknown address.
    for login_email in (PEOPLE["resident"][2], "onbekend.persoon@voorbeeld.nl"):
        for _ in range(6):
            Client().post(
                reverse("account_login"), {"login": login_email, "password": "fout-wachtwoord-1"}
            )

    # The privacy jobs: erasure of a household and the retention run.
    with capture(execute=True):
        erasure.household_erase(household=household, performed_by=cast.coordinator)
    with capture(execute=True):
        retention.purge(now=timezone.now() + dt.timedelta(days=3650))
    privacy_tasks.retention_purge.delay()


# Tasks that must have been sent by the flows above: a flow that stops enqueueing one is
# noticed, as is a capture that stopped capturing.
EXPECTED_TASKS = {
    "crm.tasks.signup_confirmation_mail",
    "crm.tasks.coach_assignment_mail",
    "crm.tasks.dossier_reminder_mail",
    "dossier.tasks.resident_invitation_send",
    "dossier.tasks.message_notification_send",
    "dossier.tasks.advice_report_render",
    "dossier.tasks.advice_report_send",
    "nip.tasks.monitoring_export_make",
    "dataplatform.tasks.publications_make",
    "dataplatform.tasks.publication_make_now",
    "dataplatform.tasks.deliveries_send",
}


@pytest.fixture
def flows(
    cast,
    nip,  # noqa: F811
    platform,
    people,
    settings,
    tmp_path,
    captured,
    caplog,
    django_capture_on_commit_callbacks,
):
    # DEBUG for every logger that takes its level from the root, as LOG_LEVEL=DEBUG would.
    caplog.set_level(logging.DEBUG)
    run_flows(cast, nip, platform, people, settings, tmp_path, django_capture_on_commit_callbacks)
    return captured, caplog.records


def test_the_flows_send_tasks_and_log_so_the_checks_below_see_something(flows):
    captured, records = flows
    assert captured.names() >= EXPECTED_TASKS, EXPECTED_TASKS - captured.names()
    assert len(captured.messages) >= 12
    assert len(records) >= 15
    # The failed render and the refused delivery are among them.
    assert any("failed" in r.getMessage() and r.levelno >= logging.ERROR for r in records)
    assert any("400" in r.getMessage() for r in records)


def message_leaks(messages: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [
        (message["task"], found)
        for message in messages
        if (found := personal_data_in(json.dumps(message, default=str)))
    ]


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int):
        return True
    if isinstance(value, str):
        return bool(UUID.fullmatch(value) or SHORT_CODE.fullmatch(value))
    return False


def odd_arguments(messages: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """Task arguments that are not an int, a UUID or a short code."""
    return [
        (message["task"], value)
        for message in messages
        if "args" in message
        for value in [*message["args"], *message["kwargs"].values()]
        if not _plain(value)
    ]


def record_leaks(records: list[logging.LogRecord]) -> list[tuple[str, str, list[str]]]:
    leaks = []
    for record in records:
        text = f"{record.name} {record.getMessage()} {record.exc_text or ''}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]!r}"
        if found := personal_data_in(text):
            leaks.append((record.name, record.getMessage()[:200], found))
    return leaks


def test_no_task_message_carries_personal_data(flows):
    captured, _records = flows
    assert not message_leaks(captured.messages)


def test_task_arguments_are_ids_or_short_codes(flows):
    captured, _records = flows
    assert not odd_arguments(captured.messages)


def test_no_log_record_carries_personal_data(flows):
    _captured, records = flows
    assert not record_leaks(records)


def test_the_capture_would_catch_a_task_or_log_line_with_personal_data(captured, caplog):
    """The self-test: a leaking task and log line, through the same capture and checks."""
    from config.celery import app

    @app.task(name="tests.security.leaky_task")
    def leaky_task(address: str, *, name: str = "") -> None:
        logging.getLogger("dossier.services").debug("sent to %s (%s)", address, name)

    caplog.set_level(logging.DEBUG)
    leaky_task.delay(PEOPLE["resident"][2], name=HOUSEHOLD)
    try:
        assert [task for task, _found in message_leaks(captured.messages)] == [leaky_task.name]
        assert [value for _task, value in odd_arguments(captured.messages)] == [
            PEOPLE["resident"][2],
            HOUSEHOLD,
        ]
        assert [name for name, _message, _found in record_leaks(caplog.records)] == [
            "dossier.services"
        ]
    finally:
        app.tasks.unregister(leaky_task.name)
