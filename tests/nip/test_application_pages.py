"""The NIP application pages for municipality staff, and the coach's intake from a dossier."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dossier.models import Dossier, Dwelling, MeasureType
from nip import services
from nip.models import Application, Commitment, ExecutedMeasure, Programme
from tests import builders
from tests.nip.builders import make_application

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
EXECUTED = dt.date(2024, 5, 1)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _open(programme: Programme, dwelling: Dwelling | None = None, **answers) -> Application:
    answers = {
        "owner_occupied": True,
        "energy_label": "E",
        "woz_below_limit": True,
        "income_below_threshold": True,
        **answers,
    }
    if dwelling is None:
        code = programme.municipality.municipalities.values_list("code", flat=True).first()
        dwelling = builders.make_dwelling(municipality_code=code, postcode="3731AB")
    return services.application_open(
        programme=programme, dwelling=dwelling, channel="municipality", by=None, answers=answers
    )


def _grant(application: Application, by, amounts: dict[str, str] | None = None) -> Application:
    application.refresh_from_db()
    return services.application_approve(
        application=application,
        amounts={k: Decimal(v) for k, v in (amounts or {"nip": "1460"}).items()},
        by=by,
        version=application.version,
    )


@pytest.fixture
def application(nip) -> Application:
    return _open(nip.programme)


@pytest.fixture
def granted(nip, cast) -> Application:
    return _grant(_open(nip.programme), cast.municipality_staff)


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def version_of(application: Application) -> int:
    application.refresh_from_db()
    return application.version


def detail_url(application: Application) -> str:
    return reverse("nip:application-detail", args=[application.pk])


# ---------------------------------------------------------------------------------------
# Who may use the pages


def _page_urls(nip, application: Application) -> dict[str, str]:
    return {
        "list": reverse("nip:application-list", args=[nip.programme.pk]),
        "new": reverse("nip:application-new", args=[nip.programme.pk]),
        "detail": detail_url(application),
        "edit": reverse("nip:application-edit", args=[application.pk]),
    }


@pytest.mark.parametrize("page", ["list", "new", "detail", "edit"])
def test_municipality_staff_open_every_page(nip, cast, login, application, page):
    response = login(cast.municipality_staff).get(_page_urls(nip, application)[page])
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize("page", ["list", "new", "detail", "edit"])
def test_staff_of_another_municipality_do_not_find_them(nip, login, application, page):
    response = login(nip.staff_b).get(_page_urls(nip, application)[page])
    assert response.status_code == 404


@pytest.mark.parametrize("page", ["list", "new", "detail", "edit"])
@pytest.mark.parametrize("who", ["coordinator", "alice", "resident", "province_analyst", "admin"])
def test_other_roles_are_refused(nip, cast, login, application, page, who):
    response = login(getattr(cast, who)).get(_page_urls(nip, application)[page])
    assert response.status_code == 403


@pytest.mark.parametrize("page", ["list", "new", "detail", "edit"])
def test_anonymous_visitors_are_sent_to_the_login(nip, client, application, page):
    response = client.get(_page_urls(nip, application)[page])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


ACTIONS = {
    "application-approve": {"amount_nip": "1460"},
    "application-reject": {"note": "Huurwoning"},
    "application-withdraw": {},
    "application-payment": {"source": "nip", "amount": "100"},
    "application-species": {"species_check": "not_needed"},
    "application-measure": {
        "measure_type": "",
        "executed_on": EXECUTED.isoformat(),
        "done_by": "third_party",
        "cost_eur": "100",
    },
    "application-complete": {},
}


@pytest.mark.parametrize("name", ACTIONS)
def test_every_action_refuses_other_people_and_changes_nothing(nip, cast, login, client, name):
    application = _open(nip.programme)
    data = {**ACTIONS[name], "version": version_of(application)}
    url = reverse(f"nip:{name}", args=[application.pk])
    assert client.post(url, data).status_code == 302  # anonymous: to the login
    assert login(nip.staff_b).post(url, data).status_code == 404
    for who in (cast.coordinator, cast.alice, cast.province_analyst):
        assert login(who).post(url, data).status_code == 403
    after = Application.objects.get(pk=application.pk)
    assert (after.version, after.status, after.species_check) == (
        application.version,
        "intake",
        "unknown",
    )
    assert not Commitment.objects.exists()


# ---------------------------------------------------------------------------------------
# The list


def test_the_list_shows_address_status_group_and_amount(nip, cast, login, granted):
    response = login(cast.municipality_staff).get(
        reverse("nip:application-list", args=[nip.programme.pk])
    )
    html = response.content.decode()
    assert granted.dwelling.street_line in html
    assert "3731 AB" in html
    assert "1.460,00" in html
    assert detail_url(granted) in html
    assert list(response.context["applications"]) == [granted]


def test_the_list_filters_by_status_group_and_postcode(nip, cast, login):
    focus = _open(nip.programme, builders.make_dwelling(postcode="3731AB"))
    partial = _open(
        nip.programme,
        builders.make_dwelling(postcode="3732CD"),
        income_below_threshold=False,
    )
    _grant(partial, cast.municipality_staff)
    client = login(cast.municipality_staff)
    url = reverse("nip:application-list", args=[nip.programme.pk])

    def shown(**params):
        return list(client.get(url, params).context["applications"])

    assert shown(status="approved") == [partial]
    assert shown(group="focus") == [focus]
    assert shown(postcode="3732") == [partial]
    assert shown(postcode="3731 ab") == [focus]
    # An invalid search narrows nothing and says why.
    response = client.get(url, {"postcode": "12"})
    assert set(response.context["applications"]) == {focus, partial}
    assert response.context["form"].errors["postcode"]


def test_the_list_pages_by_fifty(nip, cast, login):
    for _ in range(51):
        make_application(nip.programme)
    client = login(cast.municipality_staff)
    url = reverse("nip:application-list", args=[nip.programme.pk])
    assert len(client.get(url).context["applications"]) == 50
    assert len(client.get(url, {"page": 2}).context["applications"]) == 1


def test_the_list_costs_the_same_queries_for_few_and_many(nip, cast, login):
    client = login(cast.municipality_staff)
    url = reverse("nip:application-list", args=[nip.programme.pk])
    make_application(nip.programme)
    client.get(url)  # the session and the roles warm up

    def count() -> int:
        # Each list writes the access entries of its rows (dossier.access_log.listed), at
        # most 3 queries however many; cleared so that both lists write theirs.
        LogEntry.objects.filter(action=LogEntry.Action.ACCESS).delete()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = count()
    for _ in range(30):
        make_application(nip.programme)
    assert count() == few


# ---------------------------------------------------------------------------------------
# Intake by the municipality or the unburdening party


def _intake_post(**fields) -> dict[str, str]:
    return {
        "channel": "unburdening_party",
        "postcode": "3731 ab",
        "house_number": "12",
        "house_letter": "a",
        "addition": "bis",
        "street": "Kerkstraat",
        "city": "De Bilt",
        "owner_occupied": "yes",
        "energy_label": "",
        "build_year": "1962",
        "dwelling_type": "terraced",
        "shell_floor": "unknown",
        "shell_facade": "poor",
        "shell_roof": "unknown",
        "shell_windows": "unknown",
        "woz_below_limit": "yes",
        "income_below_threshold": "unknown",
        **fields,
    }


def test_an_intake_makes_the_home_and_the_application_and_shows_its_check(nip, cast, login):
    client = login(cast.municipality_staff)
    response = client.post(reverse("nip:application-new", args=[nip.programme.pk]), _intake_post())
    application = Application.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(application)
    dwelling = application.dwelling
    assert (dwelling.postcode, dwelling.house_number, dwelling.house_letter) == ("3731AB", 12, "A")
    assert (dwelling.house_number_addition, dwelling.street, dwelling.municipality_code) == (
        "BIS",
        "Kerkstraat",
        "",
    )
    assert application.intake_channel == "unburdening_party"
    assert application.intake_by == cast.municipality_staff
    assert (application.owner_occupied, application.income_below_threshold) == (True, None)
    assert application.shell_facade == "poor"
    # Built in 1962: floor, roof and windows are estimated as poor, and marked as such.
    assert application.group == "partial"
    assert application.eligibility["estimated"] is True

    page = client.get(detail_url(application))
    criteria = {row.code: row for row in page.context["criteria"]}
    assert criteria["poorly_insulated"].estimate is True
    assert criteria["poorly_insulated"].result == "pass"
    assert criteria["income_below_threshold"].result == "unknown"
    assert criteria["income_below_threshold"].missing
    assert criteria["owner_occupied"].estimate is False
    html = page.content.decode()
    for row in criteria.values():
        assert f'scope="row">{row.label}</th>' in html


def test_an_intake_for_a_known_address_reuses_the_home(nip, cast, login):
    dwelling = builders.make_dwelling(postcode="3731AB", house_number=12, street="", city="")
    dwellings = Dwelling.objects.count()
    login(cast.municipality_staff).post(
        reverse("nip:application-new", args=[nip.programme.pk]),
        _intake_post(house_letter="", addition=""),
    )
    assert Dwelling.objects.count() == dwellings
    assert Application.objects.get().dwelling == dwelling
    dwelling.refresh_from_db()
    assert (dwelling.street, dwelling.city) == ("Kerkstraat", "De Bilt")


def test_an_intake_where_a_household_lives_records_the_home_only(nip, cast, login):
    # The intake finds the dwelling through the one service every sign-up uses; it never
    # attaches to, renames or opens a case for the household of an initiative living there.
    from crm import services as crm_services
    from crm.models import Case
    from dossier.models import Household

    case = crm_services.case_open(household=cast.household_a, contact_email="alfa@example.org")
    dwelling = cast.household_a.dwelling
    before = (Dwelling.objects.count(), Household.objects.count(), Case.objects.count())
    events = case.events.count()

    response = login(cast.municipality_staff).post(
        reverse("nip:application-new", args=[nip.programme.pk]),
        _intake_post(
            postcode=dwelling.postcode,
            house_number=str(dwelling.house_number),
            house_letter=dwelling.house_letter,
            addition=dwelling.house_number_addition,
        ),
    )

    assert response.status_code == 302
    application = Application.objects.get()
    assert application.dwelling == dwelling and application.household is None
    assert (Dwelling.objects.count(), Household.objects.count(), Case.objects.count()) == before
    cast.household_a.refresh_from_db()
    case.refresh_from_db()
    assert cast.household_a.name == "Familie Alfa"
    assert (case.contact_email, case.events.count()) == ("alfa@example.org", events)


@pytest.mark.parametrize(
    ("field", "value"),
    [("postcode", "0123 AB"), ("house_number", "0"), ("owner_occupied", "maybe"), ("city", "")],
)
def test_bad_intake_input_is_refused_and_changes_nothing(nip, cast, login, field, value):
    dwellings = Dwelling.objects.count()
    response = login(cast.municipality_staff).post(
        reverse("nip:application-new", args=[nip.programme.pk]), _intake_post(**{field: value})
    )
    assert response.status_code == 422
    assert response.context["form"].errors[field]
    assert f'id="new_{field}_error"' in response.content.decode()
    assert Dwelling.objects.count() == dwellings
    assert not Application.objects.exists()


def test_a_double_submit_makes_one_application_and_links_to_it(nip, cast, login):
    client = login(cast.municipality_staff)
    url = reverse("nip:application-new", args=[nip.programme.pk])
    client.post(url, _intake_post())
    dwellings = Dwelling.objects.count()
    response = client.post(url, _intake_post())
    existing = Application.objects.get()
    assert response.status_code == 422
    assert response.context["existing"] == existing
    assert detail_url(existing) in response.content.decode()
    assert response.context["form"].non_field_errors()
    assert Dwelling.objects.count() == dwellings


def test_a_home_in_another_municipality_is_refused_without_leaving_a_trace(nip, cast, login):
    builders.make_dwelling(postcode="3731AB", house_number=12, municipality_code="GM1904")
    response = login(cast.municipality_staff).post(
        reverse("nip:application-new", args=[nip.programme.pk]),
        _intake_post(house_letter="", addition=""),
    )
    assert response.status_code == 422
    assert response.context["form"].non_field_errors()
    assert response.context["existing"] is None
    assert not Application.objects.exists()


def test_the_intake_page_explains_the_programmes_woz_limit(nip, cast, login):
    nip.programme.woz_limit = "municipal_average"
    nip.programme.municipal_average_woz_eur = Decimal("383000")
    nip.programme.save()
    response = login(cast.municipality_staff).get(
        reverse("nip:application-new", args=[nip.programme.pk])
    )
    help_text = str(response.context["form"].fields["woz_below_limit"].help_text)
    assert "383.000" in help_text
    assert "383.000" in response.content.decode()


# ---------------------------------------------------------------------------------------
# Changing the intake


def test_the_intake_can_change_until_the_decision(nip, cast, login, application):
    client = login(cast.municipality_staff)
    url = reverse("nip:application-edit", args=[application.pk])
    form = client.get(url).context["form"]
    assert form.initial["owner_occupied"] == "yes"
    assert form.initial["version"] == application.version
    data = {**_intake_post(), "energy_label": "B", "version": application.version}
    response = client.post(url, data)
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.energy_label == "B"
    assert application.group == "out_of_scope"

    _grant_ready = _open(nip.programme)
    _grant(_grant_ready, cast.municipality_staff)
    response = client.get(reverse("nip:application-edit", args=[_grant_ready.pk]))
    assert response.status_code == 302
    assert response["Location"] == detail_url(_grant_ready)


def test_a_stale_intake_keeps_what_was_typed_and_saves_nothing(nip, cast, login, application):
    opened = application.version
    services.species_check_save(
        application=application, check="not_needed", document=None, version=opened
    )
    data = {**_intake_post(), "build_year": "1931", "energy_label": "G", "version": opened}
    response = login(cast.municipality_staff).post(
        reverse("nip:application-edit", args=[application.pk]), data
    )
    assert response.status_code == 409
    form = response.context["form"]
    assert form["build_year"].value() == "1931"
    assert form["energy_label"].value() == "G"
    assert form["version"].value() == str(opened + 1)
    assert form.non_field_errors()
    application.refresh_from_db()
    assert (application.energy_label, application.build_year) == ("E", None)


# ---------------------------------------------------------------------------------------
# The decision


def test_the_decision_form_is_prefilled_and_shows_the_room_left(nip, cast, login, application):
    make_application(nip.programme, commitments={"energy_poverty": "3600"})
    response = login(cast.municipality_staff).get(detail_url(application))
    form = response.context["decision_form"]
    assert form["amount_nip"].value() == Decimal("1460")
    assert "76.400,00" in str(form.fields["amount_energy_poverty"].help_text)
    assert response.context["max_per_home"] == Decimal("4000")
    html = response.content.decode()
    assert "76.400,00" in html
    assert "4.000,00" in html


def test_a_grant_commits_the_money(nip, cast, login, application):
    response = login(cast.municipality_staff).post(
        reverse("nip:application-approve", args=[application.pk]),
        {"version": application.version, "amount_nip": "1.460,00", "amount_tvw": "250,50"},
    )
    assert response.status_code == 302
    assert response["Location"] == detail_url(application) + "#decision"
    application.refresh_from_db()
    assert application.status == "approved"
    assert application.amount_granted_eur == Decimal("1710.50")
    assert set(application.commitments.values_list("source", "amount_eur")) == {
        ("nip", Decimal("1460.00")),
        ("tvw", Decimal("250.50")),
    }


def test_more_than_the_maximum_per_home_is_refused_with_a_message(nip, cast, login, application):
    response = login(cast.municipality_staff).post(
        reverse("nip:application-approve", args=[application.pk]),
        {"version": application.version, "amount_nip": "1460", "amount_energy_poverty": "2600"},
    )
    assert response.status_code == 422
    assert response.context["decision_form"].non_field_errors()
    # What was typed stays in the form.
    assert response.context["decision_form"]["amount_energy_poverty"].value() == "2600"
    application.refresh_from_db()
    assert application.status == "intake"
    assert not Commitment.objects.exists()


def test_debt_relief_shows_no_maximum(nip, cast, login):
    application = _open(nip.programme, debt_relief=True)
    response = login(cast.municipality_staff).get(detail_url(application))
    assert response.context["max_per_home"] is None
    assert response.context["application"].debt_relief is True


def test_a_source_without_room_is_refused_next_to_its_field(nip, cast, login, application):
    for _ in range(22):
        make_application(nip.programme, commitments={"energy_poverty": "3600"})
    response = login(cast.municipality_staff).post(
        reverse("nip:application-approve", args=[application.pk]),
        {"version": application.version, "amount_energy_poverty": "890"},
    )
    assert response.status_code == 422
    assert response.context["decision_form"].errors["amount_energy_poverty"]
    assert 'id="decision_amount_energy_poverty_error"' in response.content.decode()
    assert application.commitments.count() == 0


def test_a_stale_grant_keeps_the_amounts_and_commits_nothing(nip, cast, login, application):
    opened = application.version
    services.application_answers_save(
        application=application, answers={"build_year": 1960}, version=opened
    )
    response = login(cast.municipality_staff).post(
        reverse("nip:application-approve", args=[application.pk]),
        {"version": opened, "amount_nip": "1234", "note": "Snel"},
    )
    assert response.status_code == 409
    form = response.context["decision_form"]
    assert form["amount_nip"].value() == "1234"
    assert form["note"].value() == "Snel"
    assert form["version"].value() == str(opened + 1)
    assert form.non_field_errors()
    assert not Commitment.objects.exists()
    assert Application.objects.get(pk=application.pk).status == "intake"


def test_a_rejection_needs_a_reason(nip, cast, login, application):
    client = login(cast.municipality_staff)
    url = reverse("nip:application-reject", args=[application.pk])
    response = client.post(url, {"version": application.version, "note": "  "})
    assert response.status_code == 422
    assert response.context["reject_form"].errors["note"]
    assert Application.objects.get(pk=application.pk).status == "intake"
    response = client.post(url, {"version": application.version, "note": "Huurwoning"})
    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.status, application.decision_note) == ("rejected", "Huurwoning")


def test_a_withdrawal_gives_the_money_back(nip, cast, login, granted):
    response = login(cast.municipality_staff).post(
        reverse("nip:application-withdraw", args=[granted.pk]), {"version": granted.version}
    )
    assert response.status_code == 302
    granted.refresh_from_db()
    assert granted.status == "withdrawn"
    assert not granted.commitments.exists()


def test_a_form_without_its_version_is_refused(nip, cast, login, granted):
    response = login(cast.municipality_staff).post(
        reverse("nip:application-withdraw", args=[granted.pk]), {}
    )
    assert response.status_code == 422
    assert response.context["withdraw_form"].errors["version"]
    assert Application.objects.get(pk=granted.pk).status == "approved"


# ---------------------------------------------------------------------------------------
# Payments


def test_a_payment_is_recorded_and_never_more_than_committed(nip, cast, login, granted):
    client = login(cast.municipality_staff)
    url = reverse("nip:application-payment", args=[granted.pk])
    response = client.post(url, {"version": granted.version, "source": "nip", "amount": "460"})
    assert response.status_code == 302
    assert granted.commitments.get().spent_eur == Decimal("460.00")
    response = client.post(
        url, {"version": version_of(granted), "source": "nip", "amount": "1.000,01"}
    )
    assert response.status_code == 422
    assert response.context["payment_form"].errors["amount"]
    assert granted.commitments.get().spent_eur == Decimal("460.00")
    page = client.get(detail_url(granted))
    assert page.context["payment_rows"][0]["left"] == Decimal("1000.00")
    assert "1.000,00" in page.content.decode()


# ---------------------------------------------------------------------------------------
# The nature-inclusive check and its document


def _pdf(name: str = "Soortenmanagementplan Jansen.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def test_the_species_check_stores_its_document_for_staff_only(nip, cast, login, client, granted):
    staff = login(cast.municipality_staff)
    response = staff.post(
        reverse("nip:application-species", args=[granted.pk]),
        {"version": granted.version, "species_check": "plan", "species_document": _pdf()},
    )
    assert response.status_code == 302
    granted.refresh_from_db()
    assert granted.species_check == "plan"
    # The stored name is random: the upload's name held a person's name.
    assert "Jansen" not in granted.species_document.name
    url = reverse("nip:application-file", args=["natuurcheck", granted.pk])
    download = staff.get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert "no-store" in download["Cache-Control"]
    assert download["Content-Disposition"].startswith("attachment")
    assert f"natuurcheck-{granted.pk}.pdf" in download["Content-Disposition"]
    assert download["Content-Type"] == "application/pdf"
    assert login(nip.staff_b).get(url).status_code == 404
    assert login(cast.coordinator).get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302


def test_a_plan_without_its_document_or_with_a_wrong_file_is_refused(nip, cast, login, granted):
    client = login(cast.municipality_staff)
    url = reverse("nip:application-species", args=[granted.pk])
    response = client.post(url, {"version": granted.version, "species_check": "plan"})
    assert response.status_code == 422
    assert response.context["species_form"].errors["species_document"]
    not_a_pdf = SimpleUploadedFile("plan.pdf", b"<script>", content_type="application/pdf")
    response = client.post(
        url,
        {"version": granted.version, "species_check": "plan", "species_document": not_a_pdf},
    )
    assert response.status_code == 422
    assert response.context["species_form"].errors["species_document"]
    granted.refresh_from_db()
    assert (granted.species_check, granted.species_document.name) == ("unknown", "")


def test_a_file_that_is_not_there_is_not_found(nip, cast, login, granted):
    client = login(cast.municipality_staff)
    assert (
        client.get(reverse("nip:application-file", args=["natuurcheck", granted.pk])).status_code
        == 404
    )
    assert client.get(reverse("nip:application-file", args=["iets", granted.pk])).status_code == 404


# ---------------------------------------------------------------------------------------
# Executed measures


def _measure_post(application: Application, code: str, **fields) -> dict[str, object]:
    return {
        "version": version_of(application),
        "measure_type": MeasureType.objects.get(code=code).pk,
        "executed_on": EXECUTED.isoformat(),
        "done_by": "third_party",
        "cost_eur": "2.350,00",
        **fields,
    }


def test_a_measure_under_the_isde_minimum_is_refused_next_to_the_field(nip, cast, login, granted):
    services.species_check_save(
        application=granted, check="not_needed", document=None, version=granted.version
    )
    response = login(cast.municipality_staff).post(
        reverse("nip:application-measure", args=[granted.pk]),
        _measure_post(granted, "cavity_wall_insulation", area_m2="60", rd_value="0,8"),
    )
    assert response.status_code == 422
    errors = response.context["measure_form"].errors
    assert "1,1" in errors["rd_value"][0]
    html = response.content.decode()
    assert 'id="measure_rd_value_error"' in html
    # What was typed stays.
    assert response.context["measure_form"]["area_m2"].value() == "60"
    assert not ExecutedMeasure.objects.exists()


def test_a_wall_measure_needs_the_nature_check_first(nip, cast, login, granted):
    response = login(cast.municipality_staff).post(
        reverse("nip:application-measure", args=[granted.pk]),
        _measure_post(granted, "cavity_wall_insulation", area_m2="60", rd_value="1,3"),
    )
    assert response.status_code == 422
    assert response.context["measure_form"].non_field_errors()
    assert not ExecutedMeasure.objects.exists()


def test_a_measure_with_its_invoice_is_recorded_and_the_invoice_served_to_staff(
    nip, cast, login, granted
):
    client = login(cast.municipality_staff)
    response = client.post(
        reverse("nip:application-measure", args=[granted.pk]),
        _measure_post(
            granted,
            "hr_glass",
            area_m2="12,5",
            u_value="1,1",
            done_by="diy",
            invoice=_pdf("Factuur Jansen.pdf"),
        ),
    )
    assert response.status_code == 302
    measure = ExecutedMeasure.objects.get()
    assert (measure.area_m2, measure.u_value, measure.done_by) == (
        Decimal("12.50"),
        Decimal("1.10"),
        "diy",
    )
    assert measure.cost_eur == Decimal("2350.00")
    assert measure.created_by == cast.municipality_staff
    url = reverse("nip:application-file", args=["factuur", measure.pk])
    download = client.get(url)
    assert b"".join(download.streaming_content) == PDF
    assert "no-store" in download["Cache-Control"]
    assert download["Content-Disposition"].startswith("attachment")
    assert login(nip.staff_b).get(url).status_code == 404
    assert login(cast.alice).get(url).status_code == 403
    page = login(cast.municipality_staff).get(detail_url(granted))
    assert url in page.content.decode()
    assert "12,5" in page.content.decode()


def test_the_measure_list_offers_only_nip_measures(nip, cast, login, granted):
    response = login(cast.municipality_staff).get(detail_url(granted))
    codes = set(
        response.context["measure_form"]
        .fields["measure_type"]
        .queryset.values_list("code", flat=True)
    )
    assert "cavity_wall_insulation" in codes
    assert "solar_panels" not in codes
    response = login(cast.municipality_staff).post(
        reverse("nip:application-measure", args=[granted.pk]),
        _measure_post(granted, "solar_panels"),
    )
    assert response.status_code == 422
    assert response.context["measure_form"].errors["measure_type"]


def test_a_stale_measure_keeps_the_input_and_asks_for_the_file_again(nip, cast, login, granted):
    opened = granted.version
    services.payment_record(application=granted, source="nip", amount=Decimal("10"), version=opened)
    data = _measure_post(granted, "hr_glass", area_m2="12", u_value="1,1", invoice=_pdf())
    data["version"] = opened
    response = login(cast.municipality_staff).post(
        reverse("nip:application-measure", args=[granted.pk]), data
    )
    assert response.status_code == 409
    form = response.context["measure_form"]
    assert form["area_m2"].value() == "12"
    assert form["u_value"].value() == "1,1"
    assert form.errors["invoice"]
    assert form.non_field_errors()
    assert not ExecutedMeasure.objects.exists()


def test_completion_needs_a_measure(nip, cast, login, granted):
    client = login(cast.municipality_staff)
    url = reverse("nip:application-complete", args=[granted.pk])
    response = client.post(url, {"version": granted.version})
    assert response.status_code == 422
    assert response.context["complete_form"].non_field_errors()
    client.post(
        reverse("nip:application-measure", args=[granted.pk]),
        _measure_post(granted, "hr_glass", area_m2="12", u_value="1,1"),
    )
    response = client.post(url, {"version": version_of(granted)})
    assert response.status_code == 302
    assert Application.objects.get(pk=granted.pk).status == "completed"


def test_the_detail_page_renders_in_every_status(nip, cast, login, granted):
    client = login(cast.municipality_staff)
    rejected = _open(nip.programme)
    services.application_reject(
        application=rejected, by=cast.municipality_staff, version=rejected.version, note="Nee"
    )
    for application in (granted, rejected):
        response = client.get(detail_url(application))
        assert response.status_code == 200
    assert response.context["decision_form"] is not None
    assert "Nee" in response.content.decode()


# ---------------------------------------------------------------------------------------
# The coach's intake from the house dossier


@pytest.fixture
def open_programme(nip) -> Programme:
    """The cast's programme, running today whatever today is."""
    today = timezone.localdate()
    Programme.objects.filter(pk=nip.programme.pk).update(
        period_start=today - dt.timedelta(days=30), period_end=today + dt.timedelta(days=365)
    )
    return Programme.objects.get(pk=nip.programme.pk)


def test_the_coach_sends_the_dossier_and_then_sees_status_and_group_only(
    cast, login, open_programme
):
    client = login(cast.alice)
    url = reverse("nip:household-intake", args=[cast.household_a.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["nip_panel"].programmes == [open_programme]
    response = client.post(url, {"programme": open_programme.pk})
    assert response.status_code == 302
    assert response["Location"] == reverse("dossier:household-detail", args=[cast.household_a.pk])
    application = Application.objects.get()
    assert (application.household, application.intake_channel, application.intake_by) == (
        cast.household_a,
        "coach",
        cast.alice,
    )
    panel = client.get(url).context["nip_panel"]
    assert panel.applications == [application]
    assert panel.programmes == []
    # The money answers are not even read for the coach.
    deferred = panel.applications[0].get_deferred_fields()
    assert {"woz_below_limit", "income_below_threshold", "debt_relief"} <= deferred
    assert {"amount_granted_eur", "eligibility"} <= deferred


def test_the_coordinator_may_send_the_dossier_too(cast, login, open_programme):
    response = login(cast.coordinator).post(
        reverse("nip:household-intake", args=[cast.household_a2.pk]),
        {"programme": open_programme.pk},
    )
    assert response.status_code == 302
    assert Application.objects.get().household == cast.household_a2


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("bob", 404),
        ("charlie", 404),
        ("coordinator_b", 404),
        ("municipality_staff", 404),
        ("province_analyst", 404),
        ("resident", 403),
    ],
)
def test_others_cannot_send_the_dossier(cast, login, open_programme, who, status):
    client = login(getattr(cast, who))
    url = reverse("nip:household-intake", args=[cast.household_a.pk])
    assert client.get(url).status_code == status
    assert client.post(url, {"programme": open_programme.pk}).status_code == status
    assert not Application.objects.exists()


def test_anonymous_visitors_cannot_send_the_dossier(cast, client, open_programme):
    url = reverse("nip:household-intake", args=[cast.household_a.pk])
    response = client.post(url, {"programme": open_programme.pk})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not Application.objects.exists()


def test_the_panel_says_when_no_programme_covers_the_home(cast, login, open_programme):
    Dwelling.objects.filter(pk=cast.household_a.dwelling_id).update(municipality_code="GM0344")
    client = login(cast.alice)
    url = reverse("nip:household-intake", args=[cast.household_a.pk])
    panel = client.get(url).context["nip_panel"]
    assert (panel.covered, panel.form) == (False, None)
    response = client.post(url, {"programme": open_programme.pk})
    assert response.status_code == 302
    assert texts(response)
    assert not Application.objects.exists()


def test_a_programme_that_has_ended_is_not_offered(cast, login, open_programme):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    Programme.objects.filter(pk=open_programme.pk).update(
        period_start=yesterday - dt.timedelta(days=400), period_end=yesterday
    )
    panel = (
        login(cast.alice)
        .get(reverse("nip:household-intake", args=[cast.household_a.pk]))
        .context["nip_panel"]
    )
    assert panel.covered is False


def test_a_second_send_shows_the_services_message(cast, login, open_programme):
    _open(open_programme, cast.household_a.dwelling)
    client = login(cast.alice)
    response = client.post(
        reverse("nip:household-intake", args=[cast.household_a.pk]),
        {"programme": open_programme.pk},
    )
    assert response.status_code == 302
    assert texts(response)
    assert Application.objects.count() == 1
    assert not Application.objects.filter(household=cast.household_a).exists()


def test_the_panel_renders_on_its_own_page(cast, login, open_programme):
    assert Dossier.objects.filter(household=cast.household_a).exists()
    html = (
        login(cast.alice)
        .get(reverse("nip:household-intake", args=[cast.household_a.pk]))
        .content.decode()
    )
    assert 'id="nip-panel-heading"' in html
    assert f'value="{open_programme.pk}"' in html


def test_the_household_page_shows_the_nip_panel_to_staff_but_not_to_residents(cast, nip, login):
    import datetime as dt

    from django.urls import reverse
    from django.utils import timezone

    from nip.models import Programme

    Programme.objects.filter(pk=nip.programme.pk).update(
        period_end=timezone.localdate() + dt.timedelta(days=30)
    )
    url = reverse("dossier:household-detail", args=[cast.household_a.pk])
    html = login(cast.alice).get(url).content.decode()
    assert 'id="nip-panel-heading"' in html
    assert 'id="nip-panel-heading"' not in login(cast.resident).get(url).content.decode()
