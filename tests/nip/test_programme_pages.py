"""The programme pages: the list, a new programme, the setup with its budget, the business case.

Each page as the municipality's staff, as staff of another municipality (404), as roles
that never use these pages (403) and anonymously (login). The writes must survive a
double submit and a second tab: nothing duplicated, nothing silently overwritten.
"""

from __future__ import annotations

import re
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.urls import reverse

from accounts.models import Membership
from accounts.roles import Role
from nip import programme_views
from nip.models import BudgetLine, BusinessCase, BusinessCaseLine, Programme
from tests.conftest import skip_or_fail
from tests.nip.builders import make_application

pytestmark = pytest.mark.django_db

D = Decimal
SEED_LINE_TOTALS = [
    "80300",
    "48950",
    "128700",
    "61100",
    "98800",
    "24907.50",
    "154760",
    "37100",
    "53000",
    "32595",
]


def url(name: str, programme: Programme | None = None) -> str:
    return reverse(f"nip:{name}", args=[programme.pk] if programme else [])


PROGRAMME_PAGES = ["programme-detail", "programme-edit", "business-case", "business-case-edit"]


def budget_rows(programme: Programme) -> list[tuple[str, str, Decimal]]:
    return sorted(
        BudgetLine.objects.filter(programme=programme).values_list(
            "source", "description", "amount_eur"
        )
    )


def case_rows(programme: Programme) -> list[tuple]:
    return list(
        BusinessCaseLine.objects.filter(business_case__programme=programme)
        .order_by("business_case__sort_order", "sort_order")
        .values_list("business_case__title", "label", "homes", "amount_per_home_eur", "source")
    )


def form_data(response) -> dict[str, str]:
    """What the browser would send back for the page as shown: every field's value."""
    html = response.content.decode()
    form = re.search(r'<form method="post".*?</form>', html, re.S).group(0)
    data: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        choice = kind is not None and kind.group(1) in ("checkbox", "radio")
        if choice and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = value.group(1) if value else ("on" if choice else "")
    for name, body in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        data[name] = body.strip()
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = chosen.group(1) if chosen else ""
    return {key: value.replace("&amp;", "&").replace("&#x27;", "'") for key, value in data.items()}


# Access ----------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, nip):
    for page in [url("programme-list"), url("programme-new")] + [
        url(name, nip.programme) for name in PROGRAMME_PAGES
    ]:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith(reverse("account_login")), page
    response = client.post(url("programme-edit", nip.programme), {"name": "x"})
    assert response.status_code == 302
    assert Programme.objects.get(pk=nip.programme.pk).name != "x"


@pytest.mark.parametrize(
    "who", ["coordinator", "alice", "charlie", "coordinator_b", "resident", "province_analyst"]
)
def test_roles_that_never_use_the_pages_are_refused(cast, nip, login, who):
    client = login(getattr(cast, who))
    assert client.get(url("programme-list")).status_code == 403
    assert client.get(url("programme-new")).status_code == 403
    for name in PROGRAMME_PAGES:
        assert client.get(url(name, nip.programme)).status_code == 403, name
    before = budget_rows(nip.programme)
    response = client.post(url("programme-edit", nip.programme), {"name": "Overgenomen"})
    assert response.status_code == 403
    assert budget_rows(nip.programme) == before
    assert Programme.objects.get(pk=nip.programme.pk).name == nip.programme.name


def test_staff_of_another_municipality_do_not_find_the_programme(nip, login):
    client = login(nip.staff_b)
    for name in PROGRAMME_PAGES:
        assert client.get(url(name, nip.programme)).status_code == 404, name
    edit = client.get(url("programme-edit", nip.programme_b))
    data = form_data(edit)
    data["name"] = "Overgenomen"
    assert client.post(url("programme-edit", nip.programme), data).status_code == 404
    assert client.post(url("business-case-edit", nip.programme), {}).status_code == 404
    assert Programme.objects.get(pk=nip.programme.pk).name != "Overgenomen"
    # Their own list holds only their own programme.
    response = client.get(url("programme-list"))
    assert [p.pk for p, _deadline in response.context["programmes"]] == [nip.programme_b.pk]


def test_the_list_shows_a_single_programme_rather_than_jumping_to_it(cast, nip, login):
    make_application(nip.programme, commitments={"nip": "1460"})
    make_application(nip.programme)
    response = login(cast.municipality_staff).get(url("programme-list"))
    assert response.status_code == 200
    programmes = response.context["programmes"]
    assert [p.pk for p, _deadline in programmes] == [nip.programme.pk]
    programme = programmes[0][0]
    assert (programme.homes_granted, programme.homes_intake) == (1, 1)
    html = response.content.decode()
    assert url("programme-detail", nip.programme) in html
    assert url("programme-detail", nip.programme_b) not in html
    assert re.search(r'data-figure="granted">\s*1\D+187\s*<', html)
    assert url("programme-new") in html


# A new programme -------------------------------------------------------------------------


def new_programme_data(**changes: str) -> dict[str, str]:
    data = {
        "name": "Tweede tranche",
        "tranche": "2",
        "target_homes": "120",
        "period_start": "2024-07-01",
        "period_end": "2028-12-31",
        "measures_from": "2024-07-01",
        "spend_deadline": "2028-12-31",
        "woz_limit": "municipal_average",
        "municipal_average_woz_eur": "€ 383.000",
        "amount_per_home_eur": "",
        "reporting_period": "year",
        "budget-TOTAL_FORMS": "3",
        "budget-INITIAL_FORMS": "0",
        "budget-MIN_NUM_FORMS": "0",
        "budget-MAX_NUM_FORMS": "40",
        "budget-0-source": "nip",
        "budget-0-description": "SPUK tweede tranche",
        "budget-0-amount_eur": "175.200",
        "budget-1-source": "cdoke",
        "budget-1-description": "",
        "budget-1-amount_eur": "32750,50",
        "budget-2-source": "",
        "budget-2-description": "",
        "budget-2-amount_eur": "",
    }
    return {**data, **changes}


def test_staff_start_a_programme_with_its_budget(cast, nip, login):
    client = login(cast.municipality_staff)
    assert client.get(url("programme-new")).status_code == 200
    response = client.post(url("programme-new"), new_programme_data())
    programme = Programme.objects.get(municipality=cast.municipality, tranche=2)
    assert response.status_code == 302
    assert response["Location"] == url("programme-detail", programme)
    assert programme.target_homes == 120
    # Dutch amounts: a dot groups thousands, a comma is the decimal sign.
    assert programme.municipal_average_woz_eur == D("383000")
    assert programme.amount_per_home_eur is None
    assert budget_rows(programme) == [
        ("cdoke", "", D("32750.50")),
        ("nip", "SPUK tweede tranche", D("175200")),
    ]


def test_a_new_programme_sent_twice_is_made_once(cast, nip, login):
    client = login(cast.municipality_staff)
    first = client.post(url("programme-new"), new_programme_data())
    second = client.post(url("programme-new"), new_programme_data())
    programmes = Programme.objects.filter(municipality=cast.municipality, tranche=2)
    assert programmes.count() == 1
    assert second.status_code == 302
    assert second["Location"] == first["Location"] == url("programme-detail", programmes[0])
    assert BudgetLine.objects.filter(programme=programmes[0]).count() == 2


def test_a_second_programme_for_a_tranche_is_refused(cast, nip, login):
    client = login(cast.municipality_staff)
    response = client.post(url("programme-new"), new_programme_data(tranche="1"))
    assert response.status_code == 422
    assert "tranche" in response.context["form"].errors
    assert Programme.objects.filter(municipality=cast.municipality).count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"period_end": "2024-01-01"}, "period_end"),
        ({"municipal_average_woz_eur": ""}, "municipal_average_woz_eur"),
        ({"target_homes": "-3"}, "target_homes"),
        ({"budget-0-amount_eur": "veel"}, None),
        ({"budget-0-amount_eur": "-5"}, None),
        ({"budget-0-source": "isde"}, None),
        ({"spend_deadline": "2020-01-01"}, "spend_deadline"),
    ],
)
def test_bad_input_is_explained_and_creates_nothing(cast, nip, login, changes, field):
    client = login(cast.municipality_staff)
    response = client.post(url("programme-new"), new_programme_data(**changes))
    assert response.status_code == 422
    if field:
        assert field in response.context["form"].errors
    else:
        assert response.context["budget"].total_error_count() == 1
    assert 'id="form-errors"' in response.content.decode()
    assert not Programme.objects.filter(municipality=cast.municipality, tranche=2).exists()


def test_staff_of_several_municipalities_choose_one_and_only_their_own(cast, nip, login):
    Membership.objects.create(
        user=cast.municipality_staff, organisation=nip.municipality_b, role=Role.MUNICIPALITY_STAFF
    )
    client = login(cast.municipality_staff)
    response = client.post(url("programme-new"), new_programme_data())
    assert response.status_code == 422
    assert "municipality" in response.context["form"].errors
    response = client.post(
        url("programme-new"), new_programme_data(municipality=str(cast.province.pk))
    )
    assert response.status_code == 422
    response = client.post(
        url("programme-new"), new_programme_data(municipality=str(nip.municipality_b.pk))
    )
    assert response.status_code == 302
    assert Programme.objects.filter(municipality=nip.municipality_b, tranche=2).count() == 1


# The setup: programme and budget ---------------------------------------------------------


def test_the_setup_page_shows_the_programme_and_every_budget_line(cast, nip, login):
    response = login(cast.municipality_staff).get(url("programme-edit", nip.programme))
    assert response.status_code == 200
    data = form_data(response)
    assert data["name"] == nip.programme.name
    assert data["target_homes"] == "187"
    assert data["amount_per_home_eur"] == "1460"
    assert data["budget-INITIAL_FORMS"] == "9"
    assert data["budget-TOTAL_FORMS"] == "12"
    assert data["budget-7-amount_eur"] == "32750"
    assert data["budget-0-source"] == "nip"


def test_staff_change_the_programme_and_its_budget(cast, nip, login):
    client = login(cast.municipality_staff)
    data = form_data(client.get(url("programme-edit", nip.programme)))
    kept_pk = int(data["budget-1-id"])
    data.update(
        {
            "target_homes": "200",
            "woz_limit": "municipal_average",
            "municipal_average_woz_eur": "383000",
            "spend_deadline": "2028-12-31",
            "budget-0-amount_eur": "292.000",
            "budget-8-DELETE": "on",
            "budget-9-source": "other",
            "budget-9-description": "Provinciale bijdrage",
            "budget-9-amount_eur": "12500",
        }
    )
    response = client.post(url("programme-edit", nip.programme), data)
    assert response.status_code == 302
    assert response["Location"] == url("programme-detail", nip.programme)
    programme = Programme.objects.get(pk=nip.programme.pk)
    assert programme.target_homes == 200
    assert programme.municipal_average_woz_eur == D("383000")
    assert str(programme.spend_deadline) == "2028-12-31"
    rows = budget_rows(programme)
    assert ("nip", "SPUK eerste tranche: 187 woningen × € 1.460", D("292000")) in rows
    assert ("other", "Provinciale bijdrage", D("12500")) in rows
    assert ("cdoke", "CDOKE uitvoeringsmiddelen 2025", D("32750")) not in rows
    assert len(rows) == 9
    # An unchanged line keeps its row.
    assert BudgetLine.objects.filter(pk=kept_pk, programme=programme).exists()


def test_the_same_save_sent_twice_does_not_duplicate_budget_lines(cast, nip, login):
    client = login(cast.municipality_staff)
    data = form_data(client.get(url("programme-edit", nip.programme)))
    data.update({"budget-9-source": "tvw", "budget-9-amount_eur": "5000"})
    first = client.post(url("programme-edit", nip.programme), data)
    second = client.post(url("programme-edit", nip.programme), data)
    assert first.status_code == second.status_code == 302
    assert BudgetLine.objects.filter(programme=nip.programme).count() == 10
    assert BudgetLine.objects.filter(programme=nip.programme, source="tvw").count() == 4


def test_a_save_from_a_second_tab_does_not_overwrite_the_first(cast, nip, login):
    client = login(cast.municipality_staff)
    tab_a = form_data(client.get(url("programme-edit", nip.programme)))
    tab_b = dict(tab_a)
    tab_a.update({"budget-9-source": "tvw", "budget-9-amount_eur": "5000"})
    assert client.post(url("programme-edit", nip.programme), tab_a).status_code == 302
    after_a = budget_rows(nip.programme)

    tab_b.update({"target_homes": "190", "budget-9-source": "other", "budget-9-amount_eur": "7"})
    response = client.post(url("programme-edit", nip.programme), tab_b)
    assert response.status_code == 409
    assert budget_rows(nip.programme) == after_a
    assert Programme.objects.get(pk=nip.programme.pk).target_homes == 187
    # The page keeps what tab B typed and shows what is saved now.
    shown = form_data(response)
    assert shown["target_homes"] == "190"
    assert shown["budget-9-amount_eur"] == "7"
    assert shown["state"] != tab_b["state"]
    assert 'id="saved-budget"' in response.content.decode()
    # Saving again is a deliberate choice for tab B's version.
    assert client.post(url("programme-edit", nip.programme), shown).status_code == 302
    assert Programme.objects.get(pk=nip.programme.pk).target_homes == 190
    assert ("other", "", D("7")) in budget_rows(nip.programme)
    assert ("tvw", "", D("5000")) not in budget_rows(nip.programme)


def test_the_budget_cannot_drop_below_what_is_committed(cast, nip, login):
    make_application(nip.programme, commitments={"energy_poverty": "50000"})
    # A rejected application's money is free again.
    make_application(nip.programme, commitments={"tvw": "60000"}, status="rejected")
    client = login(cast.municipality_staff)
    data = form_data(client.get(url("programme-edit", nip.programme)))
    before = budget_rows(nip.programme)
    energy = next(k for k, v in data.items() if k.endswith("-source") and v == "energy_poverty")
    data[energy.replace("source", "amount_eur")] = "40000"
    response = client.post(url("programme-edit", nip.programme), data)
    assert response.status_code == 422
    assert "50.000,00" in " ".join(response.context["form"].non_field_errors())
    assert budget_rows(nip.programme) == before
    # Removing every TVW line is fine: nothing granted is committed from it.
    for key, value in list(data.items()):
        if key.endswith("-source") and value == "tvw":
            data[key.replace("source", "DELETE")] = "on"
    data[energy.replace("source", "amount_eur")] = "50000"
    assert client.post(url("programme-edit", nip.programme), data).status_code == 302
    assert not BudgetLine.objects.filter(programme=nip.programme, source="tvw").exists()


def test_a_line_id_of_another_programme_adds_a_line_and_leaves_theirs_alone(cast, nip, login):
    theirs = BudgetLine.objects.filter(programme=nip.programme_b).first()
    before = (theirs.programme_id, theirs.source, theirs.amount_eur)
    client = login(cast.municipality_staff)
    data = form_data(client.get(url("programme-edit", nip.programme)))
    data.update(
        {
            "budget-9-id": str(theirs.pk),
            "budget-9-source": "other",
            "budget-9-amount_eur": "1",
        }
    )
    assert client.post(url("programme-edit", nip.programme), data).status_code == 302
    theirs.refresh_from_db()
    assert (theirs.programme_id, theirs.source, theirs.amount_eur) == before
    assert ("other", "", D("1")) in budget_rows(nip.programme)


def test_bad_input_on_the_setup_changes_nothing(cast, nip, login):
    client = login(cast.municipality_staff)
    data = form_data(client.get(url("programme-edit", nip.programme)))
    before = budget_rows(nip.programme)
    data.update({"target_homes": "200", "budget-0-amount_eur": "1,2,3"})
    response = client.post(url("programme-edit", nip.programme), data)
    assert response.status_code == 422
    assert response.context["budget"].forms[0].errors["amount_eur"]
    assert budget_rows(nip.programme) == before
    assert Programme.objects.get(pk=nip.programme.pk).target_homes == 187


# The business case -----------------------------------------------------------------------


def test_the_business_case_reproduces_the_seeds_tables(cast, nip, login):
    response = login(cast.municipality_staff).get(url("business-case", nip.programme))
    assert response.status_code == 200
    overview = response.context["overview"]
    assert [view.result.total for view in overview.cases] == [D("332707.50"), D("187355.00")]
    # The seed's line totals: homes × amount per home.
    assert [item.row.total for view in overview.cases for item in view.rows] == [
        D(v) for v in SEED_LINE_TOTALS
    ]
    html = response.content.decode()
    totals = re.findall(r'data-figure="case-total">([^<]+)<', html)
    assert totals == ["332.707,50", "187.355,00"]
    assert re.search(r'data-figure="state-total">90.100,00<', html)
    # The need per source against the budget.
    by_source = {row.comparison.source: row.comparison for row in overview.comparison}
    assert by_source["nip"].needed == D("235060")
    assert by_source["energy_poverty"].shortfall == D("147500")
    assert overview.total.needed == D("520062.50")
    assert re.search(r'data-source="energy_poverty" data-balance="short"', html)
    assert re.search(r'data-source="total" data-balance="over"', html)


def test_staff_change_a_cost_item_and_the_totals_follow(cast, nip, login):
    client = login(cast.municipality_staff)
    data = form_data(client.get(url("business-case-edit", nip.programme)))
    assert data["cases-INITIAL_FORMS"] == "2"
    assert data["cases-0-lines-0-amount_per_home_eur"] == "1460"
    assert data["cases-0-lines-5-amount_per_home_eur"] == "307,50"
    data["cases-0-lines-0-homes"] = "60"
    data["cases-1-lines-3-DELETE"] = "on"
    response = client.post(url("business-case-edit", nip.programme), data)
    assert response.status_code == 302
    assert response["Location"] == url("business-case", nip.programme)
    overview = client.get(url("business-case", nip.programme)).context["overview"]
    assert overview.cases[0].result.total == D("332707.50") + 5 * D("1460")
    assert overview.cases[1].result.total == D("154760")
    assert BusinessCaseLine.objects.filter(business_case__programme=nip.programme).count() == 9


def test_staff_add_a_table_with_cost_items(cast, nip, login):
    client = login(cast.municipality_staff)
    data = form_data(client.get(url("business-case-edit", nip.programme)))
    data.update(
        {
            "cases-2-title": "Huurders met een eigen VvE",
            "cases-2-lines-0-label": "Bijdrage dakisolatie",
            "cases-2-lines-0-homes": "12",
            "cases-2-lines-0-amount_per_home_eur": "1.000",
            "cases-2-lines-0-source": "tvw",
        }
    )
    assert client.post(url("business-case-edit", nip.programme), data).status_code == 302
    case = BusinessCase.objects.get(programme=nip.programme, title="Huurders met een eigen VvE")
    assert case.sort_order == 2
    assert list(case.lines.values_list("homes", "amount_per_home_eur", "source")) == [
        (12, D("1000"), "tvw")
    ]


def test_the_same_business_case_save_sent_twice_adds_nothing_twice(cast, nip, login):
    client = login(cast.municipality_staff)
    data = form_data(client.get(url("business-case-edit", nip.programme)))
    data.update(
        {
            "cases-0-lines-6-label": "Communicatie",
            "cases-0-lines-6-homes": "81",
            "cases-0-lines-6-amount_per_home_eur": "25",
            "cases-0-lines-6-source": "municipal_sustainability",
            "cases-2-title": "Nieuw",
            "cases-2-lines-0-label": "Iets",
            "cases-2-lines-0-homes": "1",
            "cases-2-lines-0-amount_per_home_eur": "1",
            "cases-2-lines-0-source": "other",
        }
    )
    first = client.post(url("business-case-edit", nip.programme), data)
    after_first = case_rows(nip.programme)
    second = client.post(url("business-case-edit", nip.programme), data)
    assert first.status_code == second.status_code == 302
    assert case_rows(nip.programme) == after_first
    assert len(after_first) == 12
    assert BusinessCase.objects.filter(programme=nip.programme).count() == 3


def test_a_business_case_save_from_a_second_tab_is_not_lost_or_lost_silently(cast, nip, login):
    client = login(cast.municipality_staff)
    tab_a = form_data(client.get(url("business-case-edit", nip.programme)))
    tab_b = dict(tab_a)
    tab_a["cases-0-lines-0-homes"] = "60"
    assert client.post(url("business-case-edit", nip.programme), tab_a).status_code == 302
    after_a = case_rows(nip.programme)
    tab_b["cases-1-lines-0-homes"] = "100"
    response = client.post(url("business-case-edit", nip.programme), tab_b)
    assert response.status_code == 409
    assert case_rows(nip.programme) == after_a
    assert 'id="form-conflict"' in response.content.decode()
    shown = form_data(response)
    assert shown["cases-1-lines-0-homes"] == "100"
    assert client.post(url("business-case-edit", nip.programme), shown).status_code == 302
    homes = [row[2] for row in case_rows(nip.programme)]
    assert (homes[0], homes[6]) == (55, 100)


@pytest.mark.parametrize(
    "changes",
    [
        {"cases-0-title": ""},
        {"cases-0-lines-0-homes": "-1"},
        {"cases-0-lines-0-amount_per_home_eur": "veel"},
        {"cases-0-lines-0-source": "bank"},
        {"cases-2-lines-0-label": "Zonder tabel", "cases-2-lines-0-homes": "1"},
        {"cases-0-lines-6-label": "Zonder bedrag"},
    ],
)
def test_bad_business_case_input_changes_nothing(cast, nip, login, changes):
    client = login(cast.municipality_staff)
    data = form_data(client.get(url("business-case-edit", nip.programme)))
    before = case_rows(nip.programme)
    data.update(changes)
    response = client.post(url("business-case-edit", nip.programme), data)
    assert response.status_code == 422
    assert 'id="form-errors"' in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert case_rows(nip.programme) == before


def test_removing_a_table_removes_its_cost_items(cast, nip, login):
    client = login(cast.municipality_staff)
    data = form_data(client.get(url("business-case-edit", nip.programme)))
    data["cases-1-DELETE"] = "on"
    assert client.post(url("business-case-edit", nip.programme), data).status_code == 302
    assert list(BusinessCase.objects.filter(programme=nip.programme)) == [
        BusinessCase.objects.get(programme=nip.programme, sort_order=0)
    ]
    assert len(case_rows(nip.programme)) == 6
    # The other municipality's cases are untouched.
    assert BusinessCase.objects.filter(programme=nip.programme_b).count() == 2


# Two saves at the same moment (PostgreSQL row locks) -------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_budget_saves_at_once_keep_one_whole_budget(cast, nip, monkeypatch):
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL (DATABASE_URL=postgres://...)")
    sync = programme_views._sync_rows

    def slow(*args, **kwargs):
        # Hold the programme's lock a moment, so the other save surely arrives meanwhile.
        time.sleep(0.3)
        return sync(*args, **kwargs)

    monkeypatch.setattr(programme_views, "_sync_rows", slow)
    programme = nip.programme
    lines = list(BudgetLine.objects.filter(programme=programme).order_by("pk"))
    state = programme_views._fingerprint(programme_views._programme_state(programme, lines))
    fields = {name: getattr(programme, name) for name in programme_views.PROGRAMME_FIELDS}
    rows = [
        {
            "id": line.pk,
            "source": line.source,
            "description": line.description,
            "amount_eur": line.amount_eur,
        }
        for line in lines
    ]
    wanted = {
        "a": [*rows, {"id": None, "source": "other", "description": "A", "amount_eur": D("1")}],
        "b": [*rows, {"id": None, "source": "other", "description": "B", "amount_eur": D("2")}],
    }
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[name] = programme_views.programme_save(
                viewer=cast.municipality_staff,
                programme=Programme.objects.get(pk=programme.pk),
                fields=fields,
                lines=wanted[name],
                state=state,
            )
        except BaseException as exc:  # reported to the test thread below
            outcomes[name] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(name,)) for name in wanted]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(type(outcome).__name__ for outcome in outcomes.values()) == ["Conflict", "bool"]
    winner = next(name for name, outcome in outcomes.items() if outcome is True)
    others = BudgetLine.objects.filter(programme=programme, source="other")
    assert list(others.values_list("description", flat=True)) == [winner.upper()]
    assert BudgetLine.objects.filter(programme=programme).count() == 10
