"""The downloads: published figures as CSV, and the address-level export for a municipality."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

import openpyxl
import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Membership, Organisation
from accounts.roles import Role
from dataplatform import address_export, published
from dataplatform.models import ConsentRecord, Level, Purpose
from dossier.models import (
    BuildingComponent,
    DossierMeasure,
    DwellingType,
    Household,
    MeasureStatus,
)
from tests import builders
from tests.clock import AROUND_MIDNIGHT, day_around_midnight
from tests.dataplatform.builders import give_consent, make_agreement, make_publication
from tests.dataplatform.test_api import DE_BILT_CELLS, UTRECHT_CELLS

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://x","klik")'


@pytest.fixture(params=AROUND_MIDNIGHT)
def day(request) -> Iterator[dt.date]:
    """Near midnight, the clock stands still; the day in Amsterdam. Ask for it before the
    fixtures that make rows, so that they are made at that moment too."""
    yield from day_around_midnight(request)


def csv_url(level: str = "pc6") -> str:
    return reverse("dataplatform:aggregates-csv", args=[level])


EXPORT = "/wijkcijfers/adressen/"


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:]), delimiter=";"))


def xlsx_rows(response) -> list[list[object]]:
    body = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


# The published figures as CSV ---------------------------------------------------------------


@pytest.fixture
def figures(cast, dp):
    make_agreement(cast.initiative_a, cast.municipality, Level.PC6)
    make_agreement(cast.initiative_b, dp.municipality_b, Level.PC6)
    make_agreement(cast.initiative_a, cast.province, Level.PC6)
    make_publication(cast.municipality, DE_BILT_CELLS)
    make_publication(dp.municipality_b, UTRECHT_CELLS)
    make_publication(cast.province, DE_BILT_CELLS + UTRECHT_CELLS)


def test_municipality_staff_download_a_row_per_area_with_a_column_per_measure(
    day, cast, login, figures
):
    response = login(cast.municipality_staff).get(csv_url())
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    # The day the figures were made, in the Netherlands.
    assert response["Content-Disposition"] == (
        f'attachment; filename="wijkcijfers-gemeente-a-pc6-{day:%Y%m%d}.csv"'
    )
    header, *rows = csv_rows(response)
    with translation.override("nl"):
        labels = [
            published.measure_label(measure, measure_names={})
            for measure in ("households", "label:C", "label:D")
        ]
        assert header == [translation.gettext("Area"), translation.gettext("Municipality"), *labels]
    # A suppressed figure is an en dash; an empty cell is a figure the publication lacks.
    assert rows == [
        ["3731AB", "GM0310", "14", "–", "10"],
        ["3731AC", "GM0310", "11", "", "–"],
    ]


def test_columns_go_from_households_through_labels_to_types_bands_and_measures():
    order = {"cavity_wall_insulation": 0, "floor_insulation": 1}
    measures = [
        "measure_wanted:cavity_wall_insulation",
        "build_year:unknown",
        "build_year:2006+",
        "build_year:<1945",
        "build_year:1945-1974",
        "label:unknown",
        "label:G",
        "label:A++++",
        "dwelling_type:apartment",
        "dwelling_type:detached",
        "measure_done:floor_insulation",
        "measure_done:cavity_wall_insulation",
        "households",
    ]
    ordered = sorted(measures, key=lambda m: published.measure_sort_key(m, measure_order=order))
    assert ordered == [
        "households",
        "label:A++++",
        "label:G",
        "label:unknown",
        "dwelling_type:detached",
        "dwelling_type:apartment",
        "build_year:<1945",
        "build_year:1945-1974",
        "build_year:2006+",
        "build_year:unknown",
        "measure_done:cavity_wall_insulation",
        "measure_done:floor_insulation",
        "measure_wanted:cavity_wall_insulation",
    ]


def test_a_figure_that_reads_as_a_formula_is_written_as_text(cast, login):
    make_agreement(cast.initiative_a, cast.municipality, Level.PC6)
    make_publication(cast.municipality, [("pc6", "=1+2", "GM0310", "households", 12)])
    _header, row = csv_rows(login(cast.municipality_staff).get(csv_url()))
    assert row[0] == "'=1+2"


def test_a_province_downloads_one_municipalitys_areas(cast, login, figures):
    response = login(cast.province_analyst).get(csv_url(), {"municipality": "GM1904"})
    assert response.status_code == 200
    assert "provincie-pc6-gm1904-" in response["Content-Disposition"]
    _header, *rows = csv_rows(response)
    assert [row[:3] for row in rows] == [["3511AA", "GM1904", "30"]]


def test_another_municipality_downloads_only_its_own_figures(cast, dp, login, figures):
    _header, *rows = csv_rows(login(dp.staff_b).get(csv_url()))
    assert {row[0] for row in rows} == {"3511AA"}
    response = login(dp.staff_b).get(csv_url(), {"organisation": cast.municipality.slug})
    assert response.status_code == 404


@pytest.mark.parametrize("code", ["GM1904", "nonsense"])
def test_a_municipality_not_of_the_organisation_gets_a_clear_message(cast, login, figures, code):
    response = login(cast.municipality_staff).get(csv_url(), {"municipality": code})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "GM0310" in response.content.decode()


def test_no_publication_or_no_agreement_is_a_clear_404(cast, login):
    client = login(cast.municipality_staff)
    make_agreement(cast.initiative_a, cast.municipality, Level.DISTRICT)
    response = client.get(csv_url())
    assert response.status_code == 404
    assert "Er zijn nog geen cijfers gepubliceerd" in response.content.decode()
    make_publication(cast.municipality, DE_BILT_CELLS)
    response = client.get(csv_url("pc6"))
    assert response.status_code == 404
    assert "Er is geen geldende afspraak" in response.content.decode()
    assert client.get(csv_url("municipality")).status_code == 200


def test_an_unknown_level_is_not_found(cast, login, figures):
    assert login(cast.municipality_staff).get("/wijkcijfers/address.csv").status_code == 404


@pytest.mark.parametrize("who", ["coordinator", "alice", "resident"])
def test_people_of_initiatives_and_residents_get_no_figures(cast, login, figures, who):
    assert login(getattr(cast, who)).get(csv_url()).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_for_figures(client, figures):
    response = client.get(csv_url())
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# The address-level export -------------------------------------------------------------------


@dataclass
class Homes:
    shared: Household
    no_consent: Household
    withdrawn: Household
    aggregates_only: Household
    elsewhere: Household
    no_agreement: Household
    pc6_only: Household
    expired: Household
    ended: Household


def home(
    initiative: Organisation,
    number: int,
    *,
    purpose: str | None = Purpose.ADDRESS_LEVEL,
    municipality: str = "GM0310",
    **dwelling,
) -> Household:
    """A household at <number> with a filled-in dossier, and consent for `purpose`."""
    dwelling.setdefault("postcode", "3731AB" if municipality == "GM0310" else "3511AA")
    household = builders.make_household(
        initiative,
        dwelling=builders.make_dwelling(
            house_number=number, municipality_code=municipality, **dwelling
        ),
        name=f"Familie {number}",
    )
    dossier = household.dossier
    dossier.dwelling_type = DwellingType.CORNER
    dossier.build_year = 1968
    dossier.floor_area_m2 = 118
    dossier.energy_label_kind = "registered"
    dossier.energy_label = "D"
    dossier.gas_m3_per_year = 1987
    dossier.wishes = "Geheime wens over de buren"
    dossier.save()
    BuildingComponent.objects.filter(dossier=dossier, kind="roof").update(insulation="none")
    BuildingComponent.objects.filter(dossier=dossier, kind="cavity_wall").update(insulation="good")
    measures = DossierMeasure.objects.filter(dossier=dossier)
    measures.filter(measure_type__code="cavity_wall_insulation").update(
        status=MeasureStatus.DONE, done_year=2019, advice_note="Notitie van de coach"
    )
    measures.filter(measure_type__code="floor_insulation").update(status=MeasureStatus.WANTED_NOW)
    measures.filter(measure_type__code="solar_panels").update(status=MeasureStatus.LATER)
    if purpose:
        give_consent(household, purpose)
    return household


@pytest.fixture
def homes(cast, dp) -> Homes:
    """Nine homes of which only `shared` has both an address-level agreement in force with
    De Bilt and its household's consent."""
    today = timezone.localdate()
    make_agreement(cast.initiative_a, cast.municipality, Level.ADDRESS)
    pc6_initiative = builders.make_organisation(name="Energie P", municipalities=("GM0310",))
    make_agreement(pc6_initiative, cast.municipality, Level.PC6)
    expired_initiative = builders.make_organisation(name="Energie X", municipalities=("GM0310",))
    make_agreement(
        expired_initiative,
        cast.municipality,
        Level.ADDRESS,
        valid_from=today - dt.timedelta(days=400),
        valid_until=today - dt.timedelta(days=1),
    )
    ended_initiative = builders.make_organisation(name="Energie E", municipalities=("GM0310",))
    make_agreement(
        ended_initiative,
        cast.municipality,
        Level.ADDRESS,
        ended_at=timezone.now() - dt.timedelta(days=2),
    )
    withdrawn = home(cast.initiative_a, 3)
    ConsentRecord.objects.filter(household=withdrawn).update(
        withdrawn_at=timezone.now(), withdrawal_channel="online"
    )
    return Homes(
        shared=home(cast.initiative_a, 1, street=FORMULA),
        no_consent=home(cast.initiative_a, 2, purpose=None),
        withdrawn=withdrawn,
        aggregates_only=home(cast.initiative_a, 4, purpose=Purpose.AGGREGATES),
        elsewhere=home(cast.initiative_a, 5, municipality="GM1904"),
        no_agreement=home(cast.initiative_b, 6),
        pc6_only=home(pc6_initiative, 7),
        expired=home(expired_initiative, 8),
        ended=home(ended_initiative, 9),
    )


def test_the_page_explains_the_export_and_counts_the_homes(cast, login, homes):
    response = login(cast.municipality_staff).get(EXPORT)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="homes">1<' in html
    assert "Energie A" in html
    assert "no-store" in response["Cache-Control"]
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_only_a_home_with_both_agreement_and_consent_is_exported(cast, login, homes):
    response = login(cast.municipality_staff).get(EXPORT, {"format": "csv"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    header, *rows = csv_rows(response)
    with translation.override("nl"):
        assert header == address_export.header()
    assert [row[1] for row in rows] == ["1"]
    assert list(
        address_export.address_households(recipient=cast.municipality, on=timezone.localdate())
    ) == [homes.shared]


def test_the_export_holds_the_address_and_the_house_and_nothing_personal(cast, login, homes):
    response = login(cast.municipality_staff).get(EXPORT, {"format": "csv"})
    body = b"".join(response.streaming_content).decode("utf-8")
    _header, row = list(csv.reader(io.StringIO(body[1:]), delimiter=";"))
    dwelling = homes.shared.dwelling
    with translation.override("nl"):
        expected = [
            "3731AB",
            "1",
            "",
            "",
            "'" + FORMULA,
            dwelling.city,
            "",
            str(DwellingType.CORNER.label),
            "1968",
            "118",
            "D",
        ]
        assert row[: len(expected)] == expected
    assert "Spouwmuurisolatie" in row[-2]
    assert row[-1] == "Vloerisolatie"
    for secret in ("Familie 1", "1987", "Geheime wens", "Notitie van de coach", "Zonnepanelen"):
        assert secret not in body
    for person in (cast.resident, cast.alice):
        assert person.email not in body


def test_the_export_as_xlsx(day, cast, login, homes):
    response = login(cast.municipality_staff).post(EXPORT, {"format": "xlsx"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].endswith(f'adressen-gemeente-a-{day:%Y%m%d}.xlsx"')
    _header, row = xlsx_rows(response)
    assert row[:2] == ["3731AB", 1]
    assert row[4] == "'" + FORMULA


def test_every_download_is_recorded_without_personal_data(cast, login, homes):
    login(cast.municipality_staff).get(EXPORT, {"format": "csv"})
    entries = list(LogEntry.objects.filter(action=LogEntry.Action.ACCESS))
    [entry] = [e for e in entries if "export" in e.additional_data]
    # And an access entry on each home in the file, by its id (dossier.access_log.listed).
    homes_logged = [e for e in entries if e.additional_data.get("page") == "address_export"]
    assert [(e.object_id, e.actor) for e in homes_logged] == [
        (homes.shared.pk, cast.municipality_staff)
    ]
    assert entry.actor == cast.municipality_staff
    assert entry.additional_data == {
        "export": "dataplatform.address_level",
        "format": "csv",
        "rows": 1,
    }


def test_a_bad_file_type_gets_a_message_and_no_file(cast, login, homes):
    response = login(cast.municipality_staff).post(EXPORT, {"format": "pdf"})
    assert response.status_code == 400
    assert 'id="export-error"' in response.content.decode()
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_consent_given_again_after_withdrawing_counts(cast, homes):
    give_consent(homes.withdrawn, Purpose.ADDRESS_LEVEL)
    found = address_export.address_households(recipient=cast.municipality, on=timezone.localdate())
    assert set(found) == {homes.shared, homes.withdrawn}


def test_another_municipality_exports_only_its_own_homes(cast, dp, login, homes):
    make_agreement(cast.initiative_a, dp.municipality_b, Level.ADDRESS)
    _header, *rows = csv_rows(login(dp.staff_b).get(EXPORT, {"format": "csv"}))
    assert [(row[0], row[1]) for row in rows] == [("3511AA", "5")]
    assert login(dp.staff_b).get(EXPORT, {"organisation": cast.municipality.slug}).status_code == (
        404
    )


def test_a_province_gets_no_address_export_even_with_an_agreement(cast, login, homes):
    make_agreement(cast.initiative_a, cast.province, Level.ADDRESS)
    assert not address_export.address_households(
        recipient=cast.province, on=timezone.localdate()
    ).exists()
    response = login(cast.province_analyst).get(EXPORT, {"format": "csv"})
    assert response.status_code == 403


@pytest.mark.parametrize("who", ["coordinator", "alice", "charlie", "resident", "admin"])
def test_others_are_refused_the_address_export(cast, login, homes, who):
    client = login(getattr(cast, who))
    assert client.get(EXPORT).status_code == 403
    assert client.get(EXPORT, {"format": "csv"}).status_code == 403
    assert client.post(EXPORT, {"format": "csv"}).status_code == 403
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_anonymous_visitors_are_sent_to_the_login_for_the_export(client, homes):
    for response in (client.get(EXPORT), client.get(EXPORT, {"format": "csv"})):
        assert response.status_code == 302
        assert "/login/" in response["Location"]


def test_staff_of_two_municipalities_choose_which_export(cast, dp, login, homes):
    Membership.objects.create(
        user=cast.municipality_staff, organisation=dp.municipality_b, role=Role.MUNICIPALITY_STAFF
    )
    make_agreement(cast.initiative_a, dp.municipality_b, Level.ADDRESS)
    client = login(cast.municipality_staff)
    page = client.get(EXPORT)
    assert 'id="other-municipalities"' in page.content.decode()
    _header, *rows = csv_rows(
        client.get(EXPORT, {"format": "csv", "organisation": dp.municipality_b.slug})
    )
    assert [row[1] for row in rows] == ["5"]


def test_the_csv_writes_suppressed_for_every_figure_of_an_area_below_k(cast, dp, login):
    make_agreement(cast.initiative_a, cast.municipality, Level.PC6)
    make_publication(
        cast.municipality,
        [
            ("pc6", "3731AB", "GM0310", "households", 12),
            ("pc6", "3731AB", "GM0310", "label:D", 12),
            ("pc6", "3731AB", "GM0310", "build_year:<1945", None),
            # Below K: stored as its households cell alone.
            ("pc6", "3731AD", "GM0310", "households", None),
        ],
    )

    rows = csv_rows(login(cast.municipality_staff).get(csv_url()))

    by_area = {row[0]: row for row in rows[1:]}
    assert set(by_area["3731AD"][2:]) == {"–"}
    assert "12" in by_area["3731AB"] and "–" in by_area["3731AB"]
