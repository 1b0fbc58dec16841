"""The programme dashboard: homes against target, money per source, the 80 % rule, measures
and m² per type, days to the deadline; its charts and their tables."""

from __future__ import annotations

import datetime as dt
import importlib
import re
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.urls import reverse

from accounts.models import User
from nip import selectors
from nip.dashboard_chart import (
    BAR_HEIGHT,
    SERIES_WIDTH,
    VALUE_ROOM,
    WIDTH,
    BarInput,
    GroupInput,
    bar_chart,
)
from nip.models import BudgetLine, Commitment, ParameterSet, Programme
from tests.nip.builders import make_application, make_measure
from tests.test_browser import log_in, serious_violations

pytestmark = pytest.mark.django_db

D = Decimal
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
TODAY = dt.date(2026, 11, 23)


def page_url(programme: Programme) -> str:
    return reverse("nip:programme-detail", args=[programme.pk])


def granted(programme: Programme, *, woz: bool | None = True, spent=None, **fields):
    """An application with money committed; `spent` {source: amount} is paid out."""
    fields.setdefault("commitments", {"nip": "1460"})
    application = make_application(programme, woz_below_limit=woz, **fields)
    for source, amount in (spent or {}).items():
        Commitment.objects.filter(application=application, source=source).update(
            spent_eur=D(amount)
        )
    return application


@pytest.fixture
def filled(nip):
    """Five granted homes (one completed), an intake, a rejected and a withdrawn one."""
    programme = nip.programme
    a1 = granted(
        programme,
        commitments={"nip": "1460", "energy_poverty": "890"},
        spent={"nip": "1460"},
    )
    granted(programme)
    a3 = granted(
        programme,
        status="completed",
        commitments={"nip": "1460", "energy_poverty": "2340"},
        spent={"nip": "1460", "energy_poverty": "2340"},
    )
    granted(programme, woz=False)
    granted(programme, woz=None)
    intake = make_application(programme)
    rejected = granted(programme, status="rejected", woz=False)
    make_application(programme, status="withdrawn", woz_below_limit=False)
    # Another municipality's granted home counts nowhere here.
    other = granted(nip.programme_b, commitments={"nip": "9999"})

    make_measure(a1, "cavity_wall_insulation", area_m2=D("60"), done_by="third_party")
    make_measure(a1, "hr_glass", area_m2=D("12"), done_by="diy")
    make_measure(a3, "cavity_wall_insulation", area_m2=D("40.5"), done_by="diy")
    make_measure(a3, "roof_insulation", area_m2=D("55"), done_by="third_party")
    make_measure(a3, "balanced_ventilation", area_m2=None, done_by="third_party")
    # Measures of homes without a grant do not count.
    make_measure(rejected, "cavity_wall_insulation", area_m2=D("100"))
    make_measure(intake, "floor_insulation", area_m2=D("30"))
    make_measure(other, "cavity_wall_insulation", area_m2=D("70"))
    return programme


def board_of(cast, programme, today=TODAY):
    viewer = User.objects.get(pk=cast.municipality_staff.pk)
    return selectors.programme_dashboard(viewer=viewer, programme=programme, today=today)


# The figures -----------------------------------------------------------------------------


def test_homes_reached_count_granted_and_completed_against_the_target(cast, filled):
    homes = board_of(cast, filled).homes
    assert (homes.target, homes.granted, homes.completed, homes.intake) == (187, 5, 1, 1)
    assert homes.to_go == 182
    assert homes.share == D(5) / 187


def test_money_per_source_counts_only_granted_applications(cast, filled):
    money = {row.source: row for row in board_of(cast, filled).money.rows}
    assert list(money) == ["nip", "energy_poverty", "municipal_sustainability", "tvw", "cdoke"]
    nip = money["nip"]
    assert (nip.budget, nip.committed, nip.spent, nip.free) == (
        D("273020"),
        D("7300"),
        D("2920"),
        D("265720"),
    )
    energy = money["energy_poverty"]
    assert (energy.budget, energy.committed, energy.spent) == (D("80000"), D("3230"), D("2340"))
    assert (money["tvw"].budget, money["tvw"].committed) == (D("65000"), D("0"))
    total = board_of(cast, filled).money.total
    assert (total.budget, total.committed, total.spent) == (D("556520"), D("10530"), D("5260"))


def test_the_80_percent_rule_counts_unknown_answers_against_the_share(cast, filled):
    woz = board_of(cast, filled).woz
    assert (woz.granted, woz.below, woz.above, woz.unknown) == (5, 3, 1, 1)
    assert woz.share_min == D("0.80")
    assert woz.share == D("0.6")
    assert woz.meets is False
    # floor(187 × 0.2) = 37 homes above the limit at the target; one is used.
    assert (woz.above_allowed, woz.above_room) == (37, 36)


@pytest.mark.parametrize(
    ("target", "granted_", "below", "above", "share_min", "expected"),
    [
        # (share, meets, above allowed, room)
        (187, 10, 8, 2, "0.80", (D("0.8"), True, 37, 35)),
        (187, 10, 7, 3, "0.80", (D("0.7"), False, 37, 34)),
        (10, 5, 2, 3, "0.80", (D("0.4"), False, 2, -1)),
        (100, 0, 0, 0, "0.80", (None, None, 20, 20)),
        (100, 4, 4, 0, None, (D("1"), None, None, None)),
        (9, 1, 1, 0, "0.80", (D("1"), True, 1, 1)),
    ],
)
def test_the_woz_rule_table(target, granted_, below, above, share_min, expected):
    rule = selectors.WozRule(
        target=target,
        granted=granted_,
        below=below,
        above=above,
        unknown=granted_ - below - above,
        share_min=None if share_min is None else D(share_min),
    )
    assert (rule.share, rule.meets, rule.above_allowed, rule.above_room) == expected
    assert rule.above_too_many == (1 if expected[3] == -1 else 0)


def test_measures_and_square_metres_per_type_split_by_who_did_them(cast, filled):
    board = board_of(cast, filled)
    rows = {row.code: row for row in board.measures}
    # In the catalogue's order, only types that were executed at homes with a grant.
    assert list(rows) == [
        "roof_insulation",
        "cavity_wall_insulation",
        "hr_glass",
        "balanced_ventilation",
    ]
    cavity = rows["cavity_wall_insulation"]
    assert (cavity.count_diy, cavity.count_third_party, cavity.count) == (1, 1, 2)
    assert (cavity.m2_diy, cavity.m2_third_party, cavity.m2) == (D("40.5"), D("60"), D("100.5"))
    assert (rows["hr_glass"].m2_diy, rows["hr_glass"].m2_third_party) == (D("12"), None)
    ventilation = rows["balanced_ventilation"]
    assert (ventilation.count, ventilation.m2) == (1, None)
    total = board.measures_total
    assert (total.count_diy, total.count_third_party) == (2, 3)
    assert (total.m2_diy, total.m2_third_party, total.m2) == (D("52.5"), D("115"), D("167.5"))


@pytest.mark.parametrize(
    ("today", "days_left", "days_past"),
    [
        (dt.date(2026, 11, 23), 38, 0),
        (dt.date(2026, 12, 31), 0, 0),
        (dt.date(2027, 1, 3), -3, 3),
    ],
)
def test_days_to_the_deadline(cast, nip, today, days_left, days_past):
    deadline = board_of(cast, nip.programme, today=today).deadline
    assert (deadline.days_left, deadline.days_past) == (days_left, days_past)


def test_the_figures_cost_the_same_queries_for_few_and_many_applications(
    cast, nip, django_assert_num_queries
):
    def add(count: int) -> None:
        for n in range(count):
            application = granted(nip.programme, woz=n % 3 != 0)
            make_measure(application, "roof_insulation", done_by="diy" if n % 2 else "third_party")

    def figures():
        # A fresh user object, as each request has, so the roles are read each time.
        viewer = User.objects.get(pk=cast.municipality_staff.pk)
        with django_assert_num_queries(7):
            # The viewer's roles, the applications, the parameters (set and values), the
            # budget, the commitments and the measures.
            return selectors.programme_dashboard(
                viewer=viewer, programme=nip.programme, today=TODAY
            )

    add(2)
    figures()
    add(20)
    board = figures()
    assert board.homes.granted == 22
    assert board.measures[0].count == 22


# The page --------------------------------------------------------------------------------


def cell(html: str, row_attr: str, figure: str) -> str:
    row = re.search(rf"<tr[^>]*{row_attr}[^>]*>(.*?)</tr>", html, re.S).group(1)
    return re.search(rf'data-figure="{figure}"[^>]*>(.*?)</td>', row, re.S).group(1).strip()


def test_the_page_shows_every_figure(cast, filled, login):
    with time_machine.travel(dt.datetime(2026, 11, 23, 12, tzinfo=AMSTERDAM), tick=False):
        response = login(cast.municipality_staff).get(page_url(filled))
    assert response.status_code == 200
    assert response.context["dashboard"].homes.granted == 5
    html = response.content.decode()
    assert re.search(r'id="stat-homes">5<', html)
    assert re.search(r'id="stat-committed">€ 10.530<', html)
    assert re.search(r'id="stat-woz">60 %<', html)
    assert re.search(r'id="stat-days">38<', html)
    homes = re.search(r'id="homes-table".*?</table>', html, re.S).group(0)
    assert re.search(r'data-figure="target">.*?>187<', homes, re.S)
    assert re.search(r'data-figure="intake">.*?>1<', homes, re.S)
    assert cell(html, 'data-source="nip"', "committed") == "7.300,00"
    assert cell(html, 'data-source="nip"', "spent") == "2.920,00"
    assert cell(html, 'data-source="nip"', "free") == "265.720,00"
    assert cell(html, 'data-source="total"', "budget") == "556.520,00"
    assert 'data-meets="no"' in html
    assert re.search(r'id="woz-room" data-room="36"', html)
    woz = re.search(r'id="woz-table".*?</table>', html, re.S).group(0)
    assert re.search(r'data-figure="unknown">.*?>1<', woz, re.S)
    assert re.search(r'data-figure="above_allowed">.*?>37<', woz, re.S)
    assert cell(html, 'data-measure="cavity_wall_insulation"', "m2") == "100,5"
    assert cell(html, 'data-measure="balanced_ventilation"', "m2") == "–"
    assert cell(html, 'data-measure="total"', "m2_diy") == "52,5"
    assert cell(html, 'data-measure="total"', "count_third_party") == "3"


def test_each_chart_is_one_image_with_a_summary_and_a_table(cast, filled, login):
    html = login(cast.municipality_staff).get(page_url(filled)).content.decode()
    charts = re.findall(r"<svg[^>]*>", html)
    assert len(charts) == 3
    for name, table in (
        ("homes", "homes-table"),
        ("money", "money-table"),
        ("measures", "measures-table"),
    ):
        svg = re.search(rf'<svg[^>]*data-chart="{name}"[^>]*>.*?</svg>', html, re.S).group(0)
        assert 'role="img"' in svg
        assert f'aria-labelledby="chart-{name}-heading"' in svg
        assert f'id="chart-{name}-heading"' in html
        assert re.search(rf'id="chart-{name}-summary">\s*\S', html)
        assert f'id="{table}"' in html
        # Coordinates are never written with a Dutch decimal comma.
        assert not re.search(r'(x|y|width)="\d+,\d', svg)
    money = re.search(r'<svg[^>]*data-chart="money".*?</svg>', html, re.S).group(0)
    # Every bar carries its number.
    assert ">€ 7.300</text>" in money
    assert ">€ 273.020</text>" in money
    measures = re.search(r'<svg[^>]*data-chart="measures".*?</svg>', html, re.S).group(0)
    assert ">100,5 m²</text>" in measures
    # Ventilation has no area, so it has no bar (it is in the table).
    assert "Balansventilatie" not in measures


@pytest.mark.parametrize(
    ("moment", "days_left", "shown"),
    [
        # 00:30 on 31 December in Amsterdam is still the 30th in UTC: the deadline is today.
        (dt.datetime(2026, 12, 30, 23, 30, tzinfo=dt.UTC), 0, 0),
        (dt.datetime(2027, 1, 3, 9, tzinfo=AMSTERDAM), -3, 3),
    ],
)
def test_the_days_to_the_deadline_use_the_date_in_amsterdam(
    cast, nip, login, moment, days_left, shown
):
    with time_machine.travel(moment, tick=False):
        response = login(cast.municipality_staff).get(page_url(nip.programme))
    assert response.context["dashboard"].deadline.days_left == days_left
    html = response.content.decode()
    stat = re.search(
        r'<div class="wd-stat[^"]*">\s*<dt[^>]*>[^<]*</dt>\s*<dd[^>]*id="stat-days"', html
    )
    assert re.search(rf'id="stat-days">{shown}<', html)
    # A deadline that has passed stands out; today is not past yet.
    assert ("wd-stat--attention" in stat.group(0)) == (days_left < 0)


def test_an_empty_programme_says_so_instead_of_drawing_nothing(cast, nip, login):
    programme = nip.programme
    BudgetLine.objects.filter(programme=programme).delete()
    response = login(cast.municipality_staff).get(page_url(programme))
    html = response.content.decode()
    assert response.context["dashboard"].woz.share is None
    assert 'id="no-budget"' in html
    assert 'id="no-measures"' in html
    assert re.search(r'id="stat-woz">–<', html)
    assert 'data-chart="money"' not in html


def test_a_missing_minimum_share_is_shown_as_missing_not_as_80(cast, nip, login):
    granted(nip.programme)
    ParameterSet.objects.all().delete()
    response = login(cast.municipality_staff).get(page_url(nip.programme))
    woz = response.context["dashboard"].woz
    assert (woz.share_min, woz.meets, woz.above_allowed) == (None, None, None)
    html = response.content.decode()
    assert 'id="woz-room"' not in html
    assert "data-meets" not in html


def test_more_committed_than_budgeted_is_flagged(cast, nip, login):
    granted(nip.programme, commitments={"tvw": "70000"})
    response = login(cast.municipality_staff).get(page_url(nip.programme))
    tvw = {row.source: row for row in response.context["dashboard"].money.rows}["tvw"]
    assert (tvw.over_committed, tvw.free) == (True, D("-5000"))
    html = response.content.decode()
    assert "utrecht-status-badge--danger" in cell(html, 'data-source="tvw"', "free")


def test_the_amount_per_home_falls_back_to_the_parameters(cast, nip, login):
    Programme.objects.filter(pk=nip.programme.pk).update(amount_per_home_eur=None)
    with time_machine.travel(dt.datetime(2023, 6, 1, 12, tzinfo=AMSTERDAM), tick=False):
        response = login(cast.municipality_staff).get(page_url(nip.programme))
    board = response.context["dashboard"]
    assert (board.amount_per_home, board.amount_per_home_from_parameters) == (D("1460"), True)
    assert board.parameters_version == "nip-2023"


def test_the_page_costs_the_same_queries_for_few_and_many_applications(
    cast, nip, login, django_assert_max_num_queries
):
    client = login(cast.municipality_staff)

    def add(count: int) -> None:
        for _ in range(count):
            make_measure(granted(nip.programme), "floor_insulation")

    add(2)
    with django_assert_max_num_queries(25) as few:
        assert client.get(page_url(nip.programme)).status_code == 200
    add(25)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(page_url(nip.programme)).content.decode()
    assert re.search(r'id="stat-homes">27<', html)


@pytest.mark.parametrize("who", ["coordinator", "alice", "resident", "province_analyst"])
def test_only_municipality_staff_see_a_dashboard(cast, nip, login, who):
    assert login(getattr(cast, who)).get(page_url(nip.programme)).status_code == 403


def test_staff_of_another_municipality_get_not_found(nip, login):
    assert login(nip.staff_b).get(page_url(nip.programme)).status_code == 404
    assert login(nip.staff_b).get(page_url(nip.programme_b)).status_code == 200


def test_anonymous_visitors_log_in_first(client, nip):
    response = client.get(page_url(nip.programme))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# The chart geometry ----------------------------------------------------------------------


def test_the_largest_bar_fills_the_plot_and_zero_has_no_bar():
    chart = bar_chart(
        [
            GroupInput("a", [BarInput("", 10)]),
            GroupInput("b", [BarInput("", 0)]),
            GroupInput("c", [BarInput("", 5)]),
        ]
    )
    a, b, c = (group.bars[0] for group in chart.groups)
    assert chart.zero_x == 0
    assert a.width == WIDTH - VALUE_ROOM
    assert c.width == (WIDTH - VALUE_ROOM) / 2
    assert b.width == 0
    # Every number starts just after its bar and stays inside the chart.
    assert a.value_x + 100 < WIDTH
    assert b.value_x > 0
    # Groups stack down the chart, each label above its bar.
    assert chart.groups[0].label_y < a.y < chart.groups[1].label_y < b.y
    assert chart.height > c.y + BAR_HEIGHT


def test_grouped_bars_leave_room_for_their_labels_and_outline_the_frame():
    chart = bar_chart(
        [
            GroupInput(
                "NIP",
                [
                    BarInput("Budget", D("273020"), outline=True),
                    BarInput("Committed", D("7300")),
                    BarInput("Paid out", D("0.5")),
                ],
            )
        ]
    )
    budget, committed, paid = chart.groups[0].bars
    assert chart.zero_x == SERIES_WIDTH
    # The outline is inset by half its stroke, so it ends where a filled bar would.
    assert budget.x == SERIES_WIDTH + 1
    assert budget.width == WIDTH - SERIES_WIDTH - VALUE_ROOM - 2
    assert committed.x == SERIES_WIDTH
    # A tiny value still shows as a sliver, never as nothing.
    assert paid.width == 2.0
    assert budget.text_y < committed.text_y < paid.text_y


def test_an_empty_chart_is_empty():
    chart = bar_chart([])
    assert chart.is_empty and chart.height == 0 and chart.largest == 0


# In a real browser -----------------------------------------------------------------------


@pytest.fixture
def measure_catalogue(db) -> None:
    """The measure catalogue the migration seeds, back after a transactional test's flush."""
    seed = importlib.import_module("dossier.migrations.0003_seed_measure_catalogue")
    seed.seed(apps, None)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_and_business_case_fit_a_tablet_and_pass_axe(
    browser_page, live_server, cast, measure_catalogue, nip
):
    application = granted(nip.programme, commitments={"nip": "1460", "energy_poverty": "2340"})
    make_measure(application, "cavity_wall_insulation")
    make_measure(application, "balanced_ventilation", area_m2=None)
    page = browser_page
    page.set_viewport_size({"width": 820, "height": 1180})
    log_in(page, live_server, cast.municipality_staff.email)
    for name in ("nip:programme-detail", "nip:business-case", "nip:programme-edit"):
        page.goto(live_server.url + reverse(name, args=[nip.programme.pk]))
        assert page.get_by_role("heading", level=1).count() == 1, name
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        assert serious_violations(page) == [], name
    page.goto(live_server.url + page_url(nip.programme))
    assert page.get_by_role("img").filter(has_text="Spouwmuurisolatie").count() == 1
    assert page.locator("#stat-homes").inner_text() == "1"
