"""The initiative's dashboard (figures per month and per person) and the case exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
import zoneinfo
from collections.abc import Iterator

import openpyxl
import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, User
from accounts.roles import Role
from crm import dashboard, services
from crm.dashboard import Period
from crm.dashboard_chart import MIN_COLUMN, PLOT_HEIGHT, month_chart
from crm.models import Case, CaseEvent, CaseStatus, EventKind, Visit, VisitStatus
from dossier.models import AdviceReport, Household, ParameterSet
from tests import builders
from tests.clock import AROUND_MIDNIGHT, day_around_midnight
from tests.test_browser import log_in, serious_violations

pytestmark = pytest.mark.django_db

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
# The period of the selector tests: January up to and including June 2026.
PERIOD = Period(first=dt.date(2026, 1, 1), months=6)
MONTHS = PERIOD.month_starts


def at(year: int, month: int, day: int = 10, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=AMSTERDAM)


def household(initiative, **fields) -> Household:
    return builders.make_household(initiative, **fields)


def signup(initiative, created_at: dt.datetime, *, coach=None, **fields) -> Case:
    """A case of a household of its own, signed up at `created_at`."""
    case = services.case_open(household=household(initiative, coach=coach), **fields)
    Case.objects.filter(pk=case.pk).update(created_at=created_at)
    case.refresh_from_db()
    return case


def visit(case: Case, coach, start: dt.datetime, status: str = VisitStatus.DONE) -> Visit:
    return Visit.objects.create(case=case, coach=coach, planned_start=start, status=status)


def report(case: Case, *, made_by, sent_at=None, printed_at=None) -> AdviceReport:
    parameters, _ = ParameterSet.objects.get_or_create(
        version="dashboard-test", defaults={"valid_from": dt.date(1990, 1, 1)}
    )
    dossier = case.household.dossier
    return AdviceReport.objects.create(
        dossier=dossier,
        number=dossier.reports.count() + 1,
        parameter_set=parameters,
        figures={},
        status="done",
        delivery="print" if printed_at else "email",
        sent_at=sent_at,
        printed_at=printed_at,
        created_by=made_by,
    )


def measure_taken(case: Case, coach, moment: dt.datetime, name: str = "Dakisolatie"):
    # What the follow-up service writes: one row per measure the resident reports as taken.
    event = CaseEvent.objects.create(
        case=case, kind=EventKind.MEASURE_TAKEN, action="measure_taken", coach=coach, text=name
    )
    CaseEvent.objects.filter(pk=event.pk).update(created_at=moment)
    return event


def series(board, name: str) -> list[int]:
    return [count for _, count in board.series(name)]


def by_person(board) -> dict[object, dashboard.Figures]:
    return {row.person: row.figures for row in board.people}


def figures_of(cast, period: Period = PERIOD, viewer=None):
    return dashboard.initiative_dashboard(
        viewer=viewer or cast.coordinator, initiative=cast.initiative_a, period=period
    )


# Periods ---------------------------------------------------------------------------------


def test_the_last_12_months_end_with_this_month():
    period = dashboard.last_months(12, today=dt.date(2026, 3, 15))
    assert period.first == dt.date(2025, 4, 1)
    assert period.last == dt.date(2026, 3, 1)
    assert period.end == dt.date(2026, 4, 1)
    assert len(period.month_starts) == 12


def test_this_calendar_year_runs_up_to_this_month_and_a_past_one_is_whole():
    assert dashboard.calendar_year(2026, today=dt.date(2026, 3, 15)).month_starts == [
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
    ]
    assert dashboard.calendar_year(2025, today=dt.date(2026, 3, 15)).months == 12


def test_a_period_is_whole_months_and_at_most_a_year():
    with pytest.raises(ValueError):
        Period(first=dt.date(2026, 1, 2), months=1)
    with pytest.raises(ValueError):
        Period(first=dt.date(2026, 1, 1), months=13)


# The figures -----------------------------------------------------------------------------


def test_sign_ups_per_month_with_zero_months_and_nothing_outside_the_period(cast):
    signup(cast.initiative_a, at(2026, 1, 5), coach=cast.alice)
    signup(cast.initiative_a, at(2026, 1, 20), coach=cast.bob)
    signup(cast.initiative_a, at(2026, 3, 2))
    signup(cast.initiative_a, at(2025, 12, 31))
    signup(cast.initiative_a, at(2026, 7, 1))
    # Another initiative's sign-ups in the same months do not count.
    signup(cast.initiative_b, at(2026, 1, 5), coach=cast.charlie)
    signup(cast.initiative_b, at(2026, 4, 5))

    board = figures_of(cast)

    assert [month for month, _ in board.series("signups")] == MONTHS
    assert series(board, "signups") == [2, 0, 1, 0, 0, 0]
    assert board.totals.signups == 3
    people = by_person(board)
    assert people[cast.alice].signups == 1
    assert people[cast.bob].signups == 1
    # The sign-up without a coach yet.
    assert people[None].signups == 1
    assert cast.charlie not in people


def test_a_month_is_a_month_in_the_netherlands(cast):
    # 23:30 UTC on 28 February is 00:30 on 1 March in Amsterdam.
    signup(cast.initiative_a, dt.datetime(2026, 2, 28, 23, 30, tzinfo=dt.UTC))
    # 22:30 UTC on 30 June is 00:30 on 1 July: after the period.
    signup(cast.initiative_a, dt.datetime(2026, 6, 30, 22, 30, tzinfo=dt.UTC))
    assert series(figures_of(cast), "signups") == [0, 0, 1, 0, 0, 0]


def test_visits_done_and_planned_per_month_and_per_visiting_coach(cast):
    first = signup(cast.initiative_a, at(2025, 11, 1), coach=cast.alice)
    second = signup(cast.initiative_a, at(2025, 11, 1), coach=cast.bob)
    visit(first, cast.alice, at(2026, 1, 10))
    visit(first, cast.alice, at(2026, 2, 10))
    visit(second, cast.bob, at(2026, 2, 11))
    visit(second, cast.bob, at(2026, 2, 12), VisitStatus.CANCELLED)
    visit(second, cast.bob, at(2026, 5, 12), VisitStatus.PLANNED)
    visit(first, cast.alice, at(2025, 12, 20))
    other = signup(cast.initiative_b, at(2025, 11, 1), coach=cast.charlie)
    visit(other, cast.charlie, at(2026, 2, 10))

    board = figures_of(cast)

    assert series(board, "visits_done") == [1, 2, 0, 0, 0, 0]
    assert series(board, "visits_planned") == [0, 0, 0, 0, 1, 0]
    people = by_person(board)
    assert (people[cast.alice].visits_done, people[cast.alice].visits_planned) == (2, 0)
    assert (people[cast.bob].visits_done, people[cast.bob].visits_planned) == (1, 1)


def test_a_report_counts_when_sent_or_printed_for_whoever_made_it(cast):
    case = signup(cast.initiative_a, at(2025, 11, 1), coach=cast.alice)
    report(case, made_by=cast.alice, sent_at=at(2026, 2, 1))
    # Bob made this one for Alice's household: it counts for Bob.
    report(case, made_by=cast.bob, printed_at=at(2026, 4, 30, 23))
    # Made but never delivered, and delivered before the period.
    report(case, made_by=cast.alice)
    report(case, made_by=cast.alice, sent_at=at(2025, 12, 1))
    other = signup(cast.initiative_b, at(2025, 11, 1), coach=cast.charlie)
    report(other, made_by=cast.charlie, sent_at=at(2026, 2, 1))

    board = figures_of(cast)

    assert series(board, "reports_sent") == [0, 1, 0, 1, 0, 0]
    people = by_person(board)
    assert people[cast.alice].reports_sent == 1
    assert people[cast.bob].reports_sent == 1
    assert cast.charlie not in people


def test_measures_taken_count_one_per_measure_for_the_coach_of_that_moment(cast):
    case = signup(cast.initiative_a, at(2025, 11, 1), coach=cast.bob)
    measure_taken(case, cast.alice, at(2026, 3, 3), "Dakisolatie")
    measure_taken(case, cast.alice, at(2026, 3, 3), "Vloerisolatie")
    measure_taken(case, cast.bob, at(2026, 6, 30, 23))
    # Other kinds of timeline rows are not measures.
    CaseEvent.objects.create(case=case, kind=EventKind.NOTE, text="Belt terug", coach=cast.bob)
    other = signup(cast.initiative_b, at(2025, 11, 1), coach=cast.charlie)
    measure_taken(other, cast.charlie, at(2026, 3, 3))

    board = figures_of(cast)

    assert series(board, "measures_taken") == [0, 0, 2, 0, 0, 1]
    people = by_person(board)
    assert people[cast.alice].measures_taken == 2
    assert people[cast.bob].measures_taken == 1


def test_every_active_coach_has_a_row_even_with_nothing_to_count(cast):
    board = figures_of(cast)
    assert [row.person for row in board.people] == sorted(
        [cast.alice, cast.bob], key=lambda p: str(p).casefold()
    )
    assert all(row.figures.is_empty for row in board.people)
    assert board.totals.is_empty
    assert series(board, "signups") == [0] * 6


def test_the_funnel_counts_open_cases_per_step_of_this_initiative_only(cast):
    signup(cast.initiative_a, at(2020, 1, 1))
    signup(cast.initiative_a, at(2026, 1, 1))
    assigned = signup(cast.initiative_a, at(2026, 1, 1), coach=cast.alice)
    Case.objects.filter(pk=assigned.pk).update(status=CaseStatus.COACH_ASSIGNED)
    closed = signup(cast.initiative_a, at(2026, 1, 1))
    Case.objects.filter(pk=closed.pk).update(status=CaseStatus.CLOSED, closed_at=timezone.now())
    signup(cast.initiative_b, at(2026, 1, 1))

    funnel = {step.status: step.count for step in figures_of(cast).funnel}

    assert list(funnel) == [s for s in CaseStatus.values if s not in ("closed", "withdrawn")]
    assert funnel["new"] == 2
    assert funnel["coach_assigned"] == 1
    assert sum(funnel.values()) == 3


def test_the_figures_cost_the_same_queries_for_few_and_many_cases(cast, django_assert_num_queries):
    def add(count: int) -> None:
        for n in range(count):
            case = signup(cast.initiative_a, at(2026, 1 + n % 6, 3), coach=cast.alice)
            visit(case, cast.alice, at(2026, 1 + n % 6, 4))
            measure_taken(case, cast.alice, at(2026, 1 + n % 6, 5))

    add(2)
    # The viewer's roles, one query per figure, the funnel and the people's names; a
    # fresh user object each time, as each request has, so the roles are read each time.
    viewer = User.objects.get(pk=cast.coordinator.pk)
    with django_assert_num_queries(7):
        figures_of(cast, viewer=viewer)
    add(20)
    viewer = User.objects.get(pk=cast.coordinator.pk)
    with django_assert_num_queries(7):
        board = figures_of(cast, viewer=viewer)
    assert board.totals.signups == 22


# The chart -------------------------------------------------------------------------------


def test_the_tallest_column_fills_the_plot_and_an_empty_month_has_none():
    chart = month_chart(
        [(dt.date(2025, 12, 1), 4), (dt.date(2026, 1, 1), 0), (dt.date(2026, 2, 1), 2)]
    )
    heights = [column.height for column in chart.columns]
    assert heights == [PLOT_HEIGHT, 0, PLOT_HEIGHT / 2]
    assert [column.y + column.height for column in chart.columns] == [chart.baseline_y] * 3
    # Every number sits above its own column, also a 0.
    assert all(column.value_y < column.y for column in chart.columns)
    assert [column.show_year for column in chart.columns] == [True, True, False]
    assert chart.total == 6
    assert chart.peak is chart.columns[0]


def test_a_small_count_among_large_ones_still_shows():
    chart = month_chart([(dt.date(2026, 1, 1), 1000), (dt.date(2026, 2, 1), 1)])
    assert chart.columns[1].height == MIN_COLUMN


def test_columns_do_not_overlap_and_stay_inside_the_chart():
    chart = month_chart([(month, 5) for month in dashboard.last_months(12).month_starts])
    edges = [(column.x, column.x + column.width) for column in chart.columns]
    assert edges[0][0] >= 0
    assert edges[-1][1] <= chart.width
    assert all(left[1] < right[0] for left, right in itertools.pairwise(edges))


def test_a_chart_of_only_zeros_has_no_peak():
    chart = month_chart([(dt.date(2026, 1, 1), 0), (dt.date(2026, 2, 1), 0)])
    assert chart.peak is None
    assert [column.height for column in chart.columns] == [0, 0]


# The page --------------------------------------------------------------------------------


def page_url(initiative, **params) -> str:
    url = reverse("crm:initiative-dashboard", args=[initiative.pk])
    return f"{url}?{'&'.join(f'{k}={v}' for k, v in params.items())}" if params else url


def cell(html: str, row_attr: str, figure: str) -> int:
    """The number in one cell of the page's tables, found by the row's data attribute."""
    row = re.search(rf"<tr[^>]*{row_attr}[^>]*>(.*?)</tr>", html, re.S)
    assert row, row_attr
    value = re.search(rf'data-figure="{figure}">(\d+)<', row.group(1))
    assert value, (row_attr, figure)
    return int(value.group(1))


def svg(html: str, name: str) -> str:
    match = re.search(rf'<svg[^>]*data-chart="{name}".*?</svg>', html, re.S)
    assert match, name
    return match.group(0)


def test_the_coordinator_sees_the_months_the_coaches_and_the_charts(cast, login):
    now = timezone.localtime()
    this_month = now.strftime("%Y-%m")
    case = signup(cast.initiative_a, now, coach=cast.alice)
    signup(cast.initiative_a, now)
    visit(case, cast.alice, now)
    measure_taken(case, cast.alice, now)
    signup(cast.initiative_b, now, coach=cast.charlie)

    response = login(cast.coordinator).get(reverse("crm:dashboard"))
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:initiative-dashboard", args=[cast.initiative_a.pk])
    response = login(cast.coordinator).get(response["Location"])
    assert response.status_code == 200
    html = response.content.decode()

    # Twelve months, this one last, with the figures of this initiative only.
    assert len(re.findall(r'<tr[^>]*data-month="\d{4}-\d{2}"', html)) == 12
    assert re.findall(r'data-month="(\d{4}-\d{2})"', html)[-1] == this_month
    assert cell(html, f'data-month="{this_month}"', "signups") == 2
    assert cell(html, f'data-month="{this_month}"', "visits_done") == 1
    assert cell(html, f'data-month="{this_month}"', "measures_taken") == 1
    assert cell(html, 'data-month="total"', "signups") == 2
    assert cell(html, f'data-person="{cast.alice.pk}"', "signups") == 1
    assert cell(html, f'data-person="{cast.bob.pk}"', "visits_done") == 0
    assert cell(html, 'data-person="none"', "signups") == 1
    assert f'data-person="{cast.charlie.pk}"' not in html
    assert "Familie Gamma" not in html
    assert re.search(r'id="total-signups">2<', html)

    # One column drawn for the one month with sign-ups; each chart is named and described
    # by elements that exist on the page.
    chart = svg(html, "signups")
    assert chart.count('class="wd-chart__bar"') == 1
    assert 'role="img"' in chart
    assert 'aria-labelledby="chart-signups-heading"' in chart
    assert 'id="chart-signups-heading"' in html
    assert 'id="chart-signups-summary"' in html
    assert svg(html, "reports_sent").count('class="wd-chart__bar"') == 0
    # The page loads no script: the charts are drawn on the server.
    assert "<script" not in html.split("</head>")[1]


def test_the_period_is_chosen_and_a_bad_one_falls_back_to_the_last_12_months(cast, login):
    client = login(cast.coordinator)
    last_year = timezone.localdate().year - 1
    html = client.get(page_url(cast.initiative_a, period=last_year)).content.decode()
    months = re.findall(r'<tr[^>]*data-month="(\d{4}-\d{2})"', html)
    assert months == [f"{last_year}-{m:02d}" for m in range(1, 13)]

    html = client.get(page_url(cast.initiative_a, period=3)).content.decode()
    assert len(re.findall(r'<tr[^>]*data-month="\d{4}-\d{2}"', html)) == 3

    response = client.get(page_url(cast.initiative_a, period="1999"))
    assert response.status_code == 200
    html = response.content.decode()
    assert len(re.findall(r'<tr[^>]*data-month="\d{4}-\d{2}"', html)) == 12
    assert "utrecht-form-field--invalid" in html


def test_a_coordinator_of_two_initiatives_switches_between_them(cast, login):
    Membership.objects.create(
        user=cast.coordinator, organisation=cast.initiative_b, role=Role.COORDINATOR
    )
    signup(cast.initiative_b, timezone.localtime(), coach=cast.charlie)
    client = login(cast.coordinator)

    html_a = client.get(page_url(cast.initiative_a, period=6)).content.decode()
    assert f'href="{page_url(cast.initiative_b, period=6)}"' in html_a
    assert re.search(r'id="total-signups">0<', html_a)

    html_b = client.get(page_url(cast.initiative_b)).content.decode()
    assert re.search(r'id="total-signups">1<', html_b)
    assert f'data-person="{cast.charlie.pk}"' in html_b


def test_a_coordinator_of_another_initiative_does_not_find_this_one(cast, login):
    signup(cast.initiative_a, timezone.localtime(), coach=cast.alice)
    client = login(cast.coordinator_b)
    assert client.get(page_url(cast.initiative_a)).status_code == 404
    # Their own entry leads to their own initiative.
    response = client.get(reverse("crm:dashboard"))
    assert response["Location"] == page_url(cast.initiative_b)


@pytest.mark.parametrize("who", ["alice", "charlie", "resident", "municipality_staff"])
def test_coaches_residents_and_others_have_no_dashboard(cast, login, who):
    client = login(getattr(cast, who))
    assert client.get(reverse("crm:dashboard")).status_code == 403
    assert client.get(page_url(cast.initiative_a)).status_code == 403


def test_an_inactive_initiative_has_no_dashboard(cast, login):
    cast.initiative_a.is_active = False
    cast.initiative_a.save()
    assert login(cast.coordinator).get(page_url(cast.initiative_a)).status_code in (403, 404)


def test_the_page_costs_the_same_queries_for_few_and_many_cases(
    cast, login, django_assert_max_num_queries
):
    client = login(cast.coordinator)
    now = timezone.localtime()

    def add(count: int) -> None:
        for _ in range(count):
            case = signup(cast.initiative_a, now, coach=cast.alice)
            visit(case, cast.alice, now)

    add(2)
    with django_assert_max_num_queries(20) as few:
        assert client.get(page_url(cast.initiative_a)).status_code == 200
    add(25)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(page_url(cast.initiative_a)).content.decode()
    assert re.search(r'id="total-signups">27<', html)


# The exports -----------------------------------------------------------------------------


@pytest.fixture(params=AROUND_MIDNIGHT)
def day(request) -> Iterator[dt.date]:
    """Near midnight, the clock stands still; the day in Amsterdam. Ask for it before the
    fixtures that make rows, so that they are made at that moment too."""
    yield from day_around_midnight(request)


def export_url(initiative, variant: str, fmt: str) -> str:
    return reverse("crm:case-export", args=[initiative.pk, variant, fmt])


@pytest.fixture
def exported(cast):
    """Two cases of initiative A, one with text that looks like formulas, and one of B."""
    dwelling = builders.make_dwelling(
        postcode="3732CD", street="Kerkstraat", house_number=12, house_letter="A", city="De Bilt"
    )
    case = services.case_open(
        household=builders.make_household(
            cast.initiative_a, coach=cast.alice, dwelling=dwelling, name="Familie Delta"
        ),
        contact_email="delta@example.org",
        contact_phone="+31 6 12345678",
        wants_help_with='=HYPERLINK("http://x")',
        heard_via="neighbour",
    )
    other = services.case_open(household=cast.household_a, contact_email="alfa@example.org")
    services.case_open(household=cast.household_b, contact_email="gamma@example.org")
    return case, other


def keys(*, with_address: bool) -> list[str]:
    return [key for key, _ in dashboard.case_export_columns(with_address=with_address)]


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def xlsx_rows(response) -> list[list[openpyxl.cell.Cell]]:
    body = b"".join(response.streaming_content)
    return [list(row) for row in openpyxl.load_workbook(io.BytesIO(body)).active.iter_rows()]


def test_the_export_with_address_has_the_contact_details_as_safe_text(cast, login, exported):
    case, other = exported
    response = login(cast.coordinator).get(export_url(cast.initiative_a, "met-adres", "csv"))
    assert response.status_code == 200
    header, *rows = csv_rows(response)
    assert len(header) == len(keys(with_address=True))
    by_case = {row[0]: dict(zip(keys(with_address=True), row, strict=True)) for row in rows}
    assert set(by_case) == {str(case.pk), str(other.pk)}
    delta = by_case[str(case.pk)]
    assert delta["name"] == "Familie Delta"
    assert (delta["street"], delta["house_number"], delta["house_letter"]) == (
        "Kerkstraat",
        "12",
        "A",
    )
    assert (delta["postcode"], delta["city"]) == ("3732 CD", "De Bilt")
    assert delta["email"] == "delta@example.org"
    assert delta["phone"] == "'+31 6 12345678"
    assert delta["wants_help_with"] == '\'=HYPERLINK("http://x")'
    assert delta["coach"] == str(cast.alice)
    assert delta["created"] == timezone.localtime(case.created_at).date().isoformat()


@pytest.mark.parametrize("variant", ["met-adres", "zonder-adres"])
def test_a_case_without_a_coach_has_an_empty_coach_cell(cast, login, variant):
    case = services.case_open(household=builders.make_household(cast.initiative_a))
    assert case.household.assigned_coach is None
    client = login(cast.coordinator)
    columns = keys(with_address=variant == "met-adres")

    _header, *rows = csv_rows(client.get(export_url(cast.initiative_a, variant, "csv")))
    row = next(dict(zip(columns, r, strict=True)) for r in rows if r[0] == str(case.pk))
    assert row["coach"] == ""

    _header, *cells = xlsx_rows(client.get(export_url(cast.initiative_a, variant, "xlsx")))
    row = next(dict(zip(columns, r, strict=True)) for r in cells if r[0].value == case.pk)
    assert row["coach"].value in (None, "")


def test_the_export_without_address_has_the_postcode_area_and_nothing_personal(
    cast, login, exported
):
    case, other = exported
    response = login(cast.coordinator).get(export_url(cast.initiative_a, "zonder-adres", "csv"))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    for personal in ("Familie", "Kerkstraat", "Teststraat", "example.org", "12345678", "HYPERLINK"):
        assert personal not in body
    header, *rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert len(header) == len(keys(with_address=False))
    by_case = {row[0]: dict(zip(keys(with_address=False), row, strict=True)) for row in rows}
    assert by_case[str(case.pk)]["postcode_area"] == "3732"
    assert by_case[str(other.pk)]["postcode_area"] == "3731"
    assert set(keys(with_address=False)).isdisjoint(
        {"name", "street", "house_number", "email", "phone", "wants_help_with"}
    )


def test_the_xlsx_export_keeps_formulas_out_and_numbers_and_dates_typed(cast, login, exported):
    case, _ = exported
    response = login(cast.coordinator).get(export_url(cast.initiative_a, "met-adres", "xlsx"))
    assert response.status_code == 200
    header, *rows = xlsx_rows(response)
    columns = keys(with_address=True)
    assert [c.data_type for c in header] == ["s"] * len(columns)
    delta = next(dict(zip(columns, row, strict=True)) for row in rows if row[0].value == case.pk)
    assert delta["case"].data_type == "n"
    assert delta["created"].data_type == "d"
    assert delta["house_number"].value == 12
    assert delta["house_number"].data_type == "n"
    assert (delta["wants_help_with"].value, delta["wants_help_with"].data_type) == (
        '\'=HYPERLINK("http://x")',
        "s",
    )
    assert (delta["phone"].value, delta["phone"].data_type) == ("'+31 6 12345678", "s")
    assert all(c.data_type != "f" for row in rows for c in row)


@pytest.mark.parametrize(
    ("variant", "fmt", "content_type"),
    [
        ("met-adres", "csv", "text/csv; charset=utf-8"),
        (
            "zonder-adres",
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ],
)
def test_an_export_is_an_uncached_attachment_named_by_ids_and_date(
    day, cast, login, exported, variant, fmt, content_type
):
    response = login(cast.coordinator).get(export_url(cast.initiative_a, variant, fmt))
    assert response["Content-Type"] == content_type
    assert "no-store" in response["Cache-Control"]
    # The day in the Netherlands, also in the hour before midnight UTC.
    assert response["Content-Disposition"] == (
        f'attachment; filename="aanmeldingen-{cast.initiative_a.pk}-{variant}-{day}.{fmt}"'
    )


def test_every_download_is_logged_without_personal_data(cast, login, exported):
    client = login(cast.coordinator)
    b"".join(client.get(export_url(cast.initiative_a, "met-adres", "csv")).streaming_content)
    b"".join(client.get(export_url(cast.initiative_a, "zonder-adres", "xlsx")).streaming_content)

    entries = LogEntry.objects.get_for_object(cast.initiative_a).filter(
        action=LogEntry.Action.ACCESS
    )
    assert [(e.actor, e.additional_data) for e in entries.order_by("timestamp", "pk")] == [
        (
            cast.coordinator,
            {"export": "crm.cases", "with_address": True, "format": "csv", "rows": 2},
        ),
        (
            cast.coordinator,
            {"export": "crm.cases", "with_address": False, "format": "xlsx", "rows": 2},
        ),
    ]
    logged = " ".join(
        f"{e.object_repr} {e.changes_text} {e.changes} {e.serialized_data} {e.additional_data}"
        for e in entries
    )
    for personal in ("Familie", "Kerkstraat", "delta@example.org", "12345678", "HYPERLINK"):
        assert personal not in logged


@pytest.mark.parametrize("who", ["coordinator_b", "charlie", "alice", "resident"])
def test_only_a_coordinator_of_the_initiative_may_download(cast, login, exported, who):
    client = login(getattr(cast, who))
    expected = 404 if who == "coordinator_b" else 403
    for variant in ("met-adres", "zonder-adres"):
        for fmt in ("csv", "xlsx"):
            assert client.get(export_url(cast.initiative_a, variant, fmt)).status_code == expected
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_the_export_of_another_initiative_holds_only_its_own_cases(cast, login, exported):
    response = login(cast.coordinator_b).get(export_url(cast.initiative_b, "met-adres", "csv"))
    _header, *rows = csv_rows(response)
    assert [row[keys(with_address=True).index("name")] for row in rows] == ["Familie Gamma"]


@pytest.mark.parametrize(
    ("variant", "fmt"), [("met-adres", "pdf"), ("alles", "csv"), ("zonder-adres", "json")]
)
def test_an_unknown_export_is_not_found(cast, login, variant, fmt):
    response = login(cast.coordinator).get(export_url(cast.initiative_a, variant, fmt))
    assert response.status_code == 404
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_anonymous_visitors_are_sent_to_the_login(cast, client, exported):
    urls = [
        reverse("crm:dashboard"),
        page_url(cast.initiative_a),
        export_url(cast.initiative_a, "met-adres", "csv"),
        export_url(cast.initiative_a, "zonder-adres", "xlsx"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert "/login/" in response["Location"]
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


# In a real browser ---------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_fits_a_tablet_passes_axe_and_downloads(browser_page, live_server, cast):
    now = timezone.localtime()
    for _ in range(3):
        case = signup(cast.initiative_a, now, coach=cast.alice)
        visit(case, cast.alice, now)
    # A long name in the table must not make the page wider than a tablet.
    long_named = builders.make_member(
        cast.initiative_a,
        Role.COACH,
        first_name="Wilhelmina",
        last_name="van Oldenbarnevelt-Schimmelpenninckvandeoije",
    )
    signup(cast.initiative_a, now - dt.timedelta(days=40), coach=long_named)
    page = browser_page
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, live_server, cast.coordinator.email)
    page.goto(live_server.url + page_url(cast.initiative_a))

    assert page.get_by_role("heading", level=1).count() == 1
    # The charts are images named by their headings ("Sign-ups" is an existing msgid).
    assert page.get_by_role("img", name="Aanmeldingen", exact=True).count() == 1
    chart = page.locator('svg[data-chart="signups"]').bounding_box()
    assert chart is not None
    assert 0 < chart["width"] <= 768
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert serious_violations(page) == []

    with page.expect_download() as download:
        page.locator(f'a[href="{export_url(cast.initiative_a, "zonder-adres", "csv")}"]').click()
    assert re.fullmatch(
        rf"aanmeldingen-{cast.initiative_a.pk}-zonder-adres-\d{{4}}-\d{{2}}-\d{{2}}\.csv",
        download.value.suggested_filename,
    )
