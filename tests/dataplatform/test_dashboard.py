"""The neighbourhood figures: who sees which publication, the table per area with its
suppressed cells, filters, paging, the charts, and the menu entries of the data platform."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Municipality
from dataplatform.dashboard_chart import BAR_HEIGHT, SUPPRESSED_BOX, BarInput, GroupInput, bar_chart
from dataplatform.dashboard_views import PAGE_SIZE
from dataplatform.models import Level, Publication, PublicationCell, SharingAgreement
from tests.dataplatform.builders import make_agreement, make_publication

pytestmark = pytest.mark.django_db

URL = reverse("dataplatform:dashboard")


# Building publications --------------------------------------------------------------------


def area(level: str, code: str, municipality: str, households: int | None, **figures):
    """The cells of one area: households and {measure with "__" for ":": count or None}."""
    cells = [(level, code, municipality, "households", households)]
    for name, count in figures.items():
        family, _sep, value = name.partition("__")
        cells.append((level, code, municipality, f"{family}:{value}", count))
    return cells


DE_BILT = [
    *area(
        "municipality",
        "GM0310",
        "GM0310",
        240,
        label__A=61,
        label__C=52,
        label__D=47,
        label__E=None,
        label__G=33,
        dwelling_type__terraced=121,
        dwelling_type__detached=None,
        measure_done__roof_insulation=41,
        measure_wanted__roof_insulation=None,
        measure_done__cavity_wall_insulation=26,
        measure_wanted__cavity_wall_insulation=17,
    ),
    ("municipality", "GM0310", "GM0310", "build_year:<1945", 31),
    ("municipality", "GM0310", "GM0310", "build_year:1945-1974", 101),
    *area("pc6", "3731AB", "GM0310", 12, label__C=11, label__D=None),
    *area("pc6", "3731AC", "GM0310", None, label__C=None, measure_done__roof_insulation=None),
    *area("neighbourhood", "BU03100001", "GM0310", 122, label__A=23),
]
UTRECHT = [
    *area("municipality", "GM1904", "GM1904", 555, label__B=444, measure_done__floor_insulation=88),
    *area("pc6", "3511AA", "GM1904", 777, label__B=666),
]


@pytest.fixture(autouse=True)
def agreements(cast, dp) -> list[SharingAgreement]:
    """Agreements at postcode-6 level (which allows every coarser level too) for the three
    bodies; the dashboard shows a publication's figures only while one is in force."""
    return [
        make_agreement(cast.initiative_a, cast.municipality, Level.PC6),
        make_agreement(cast.initiative_a, cast.province, Level.PC6),
        make_agreement(cast.initiative_b, dp.municipality_b, Level.PC6),
    ]


@pytest.fixture
def utrecht_named(dp):
    Municipality.objects.filter(code="GM1904").update(name="Utrecht")


def columns(html: str) -> list[str]:
    return [htmllib.unescape(m) for m in re.findall(r'<th [^>]*data-measure="([^"]+)"', html)]


def figures(html: str) -> dict[str, dict[str, str]]:
    """The area table as {area: {measure: count, "x" (suppressed) or "." (missing)}}."""
    measures = ["households", *columns(html)]
    table = {}
    for code, row in re.findall(
        r'<tr class="utrecht-table__row" data-area="([^"]+)">(.*?)</tr>', html, re.S
    ):
        cells = re.findall(
            r'<td class="utrecht-table__cell utrecht-table__cell--numeric-column" '
            r'data-(count="\d+"|suppressed="true"|missing="true")>(.*?)</td>',
            row,
            re.S,
        )
        values = []
        for kind, content in cells:
            if kind.startswith("count"):
                values.append(kind.split('"')[1])
                assert content.strip() == values[-1]
            elif kind.startswith("suppressed"):
                values.append("x")
                assert 'role="img" aria-label="afgeschermd">x</span>' in content
            else:
                values.append(".")
                assert 'role="img" aria-label="niet in deze publicatie">.</span>' in content
        assert len(values) == len(measures)
        table[code] = dict(zip(measures, values, strict=True))
    return table


# Who sees what ----------------------------------------------------------------------------


def test_municipality_staff_see_their_own_publication(cast, login):
    publication = make_publication(cast.municipality, DE_BILT, k=10, rules_version="2026-1")
    Publication.objects.filter(pk=publication.pk).update(households=240)
    response = login(cast.municipality_staff).get(URL)
    assert response.status_code == 200
    html = response.text
    assert 'id="stat-households">240<' in html
    assert 'id="stat-k">10 huishoudens<' in html
    assert 'id="stat-rules">2026-1<' in html
    table = figures(html)
    assert list(table) == ["3731AB", "3731AC"]
    assert table["3731AB"]["households"] == "12"
    assert table["3731AB"]["label:C"] == "11"
    assert "3731 AB" in html


def test_province_analysts_see_the_province_publication_of_both_municipalities(
    cast, login, utrecht_named
):
    make_publication(cast.province, DE_BILT + UTRECHT)
    html = login(cast.province_analyst).get(URL).text
    table = figures(html)
    assert list(table) == ["3511AA", "3731AB", "3731AC"]
    assert table["3511AA"]["label:B"] == "666"
    assert "Utrecht" in html  # the municipality column, as the province has two


def test_a_municipality_never_sees_another_municipality_publication(cast, dp, login):
    make_publication(cast.municipality, DE_BILT)
    make_publication(dp.municipality_b, UTRECHT)
    own = login(dp.staff_b).get(URL).text
    assert list(figures(own)) == ["3511AA"]
    assert "3731AB" not in own
    # Asking for the other municipality's organisation changes nothing.
    other = login(cast.municipality_staff).get(URL, {"organisation": dp.municipality_b.pk})
    assert list(figures(other.text)) == ["3731AB", "3731AC"]
    assert "777" not in other.text and "3511AA" not in other.text


def test_the_latest_publication_is_shown(cast, login):
    old = make_publication(cast.municipality, area("pc6", "3731ZZ", "GM0310", 99))
    Publication.objects.filter(pk=old.pk).update(created_at=old.created_at.replace(year=2020))
    make_publication(cast.municipality, DE_BILT)
    assert "3731ZZ" not in login(cast.municipality_staff).get(URL).text


@pytest.mark.parametrize("how", ["expired", "ended"])
def test_an_agreement_no_longer_in_force_takes_the_figures_off_the_page(
    cast, login, agreements, how
):
    make_publication(cast.municipality, DE_BILT)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    if how == "expired":
        SharingAgreement.objects.filter(recipient=cast.municipality).update(valid_until=yesterday)
    else:
        SharingAgreement.objects.filter(recipient=cast.municipality).update(
            ended_at=timezone.now() - dt.timedelta(days=1)
        )
    response = login(cast.municipality_staff).get(URL, {"level": "pc6"})
    assert response.status_code == 200
    html = response.text
    assert 'id="no-agreement"' in html
    assert "geen afspraak over het delen van gegevens" in html
    assert figures(html) == {}
    assert "3731AB" not in html and 'id="stat-households"' not in html
    assert reverse("dataplatform:agreement-list") in html
    # The province's agreement still holds: its own page is unchanged.
    make_publication(cast.province, DE_BILT)
    assert list(figures(login(cast.province_analyst).get(URL).text)) == ["3731AB", "3731AC"]


def test_only_the_levels_an_agreement_in_force_allows_are_offered(cast, login, agreements):
    SharingAgreement.objects.filter(recipient=cast.municipality).update(level=Level.NEIGHBOURHOOD)
    make_publication(cast.municipality, DE_BILT)
    client = login(cast.municipality_staff)
    html = client.get(URL).text
    assert 'value="pc6"' not in html
    assert list(figures(html)) == ["BU03100001"]
    # Asking for postcode-6 figures shows the finest level allowed instead, and says so.
    asked = client.get(URL, {"level": "pc6"}).text
    assert "3731AB" not in asked
    assert list(figures(asked)) == ["BU03100001"]
    assert 'id="filter-errors"' in asked


def test_a_visitor_is_sent_to_the_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("who", ["coordinator", "alice", "resident", "coordinator_b"])
def test_initiative_people_and_residents_are_refused(cast, login, who):
    make_publication(cast.municipality, DE_BILT)
    assert login(getattr(cast, who)).get(URL).status_code == 403


def test_it_answers_get_only(cast, login):
    assert login(cast.municipality_staff).post(URL).status_code == 405


# The table --------------------------------------------------------------------------------


def test_suppressed_cells_are_shown_as_suppressed_and_never_as_zero(cast, login):
    make_publication(cast.municipality, DE_BILT)
    html = login(cast.municipality_staff).get(URL).text
    table = figures(html)
    assert table["3731AB"]["label:D"] == "x"
    assert table["3731AC"]["households"] == "x"
    assert table["3731AC"]["measure_done:roof_insulation"] == "x"
    # A figure the publication does not hold for an area is marked too, not left blank.
    assert table["3731AB"]["measure_done:roof_insulation"] == "."
    assert 'data-count="0"' not in html
    # The legend says what the marks mean and that a suppressed figure is not a zero.
    assert 'id="legend"' in html
    assert "Het is geen nul." in html


def test_levels_columns_and_their_order(cast, login):
    make_publication(cast.municipality, DE_BILT)
    client = login(cast.municipality_staff)
    html = client.get(URL, {"level": "municipality"}).text
    measures = columns(html)
    assert measures[:5] == ["label:A", "label:C", "label:D", "label:E", "label:G"]
    assert measures.index("dwelling_type:detached") < measures.index("dwelling_type:terraced")
    assert measures.index("build_year:<1945") < measures.index("build_year:1945-1974")
    assert measures.index("measure_done:roof_insulation") < measures.index(
        "measure_wanted:cavity_wall_insulation"
    )
    assert "voor 1945" in html
    table = figures(html)
    assert table == {"GM0310": table["GM0310"]}
    assert table["GM0310"]["households"] == "240"
    assert table["GM0310"]["label:E"] == "x"
    neighbourhoods = figures(client.get(URL, {"level": "neighbourhood"}).text)
    assert neighbourhoods == {"BU03100001": neighbourhoods["BU03100001"]}
    assert neighbourhoods["BU03100001"]["label:A"] == "23"
    # A level the publication does not hold is not offered.
    assert 'value="district"' not in html


def test_the_province_filters_by_municipality(cast, login, utrecht_named):
    make_publication(cast.province, DE_BILT + UTRECHT)
    html = login(cast.province_analyst).get(URL, {"municipality": "GM1904"}).text
    assert list(figures(html)) == ["3511AA"]
    assert "Energielabels in Utrecht" in html
    assert 'id="filter-errors"' not in html
    # Without a filter there are two municipalities and so no chart, but a hint.
    unfiltered = login(cast.province_analyst).get(URL).text
    assert 'id="choose-municipality"' in unfiltered
    assert "<svg" not in unfiltered


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"municipality": "GM1904"}, "Die gemeente hoort niet bij uw organisatie"),
        ({"municipality": "<script>"}, "Die gemeente hoort niet bij uw organisatie"),
        ({"level": "address"}, "Deze publicatie heeft geen cijfers op dat niveau"),
        ({"level": "district"}, "Deze publicatie heeft geen cijfers op dat niveau"),
    ],
)
def test_a_bad_filter_says_so_and_shows_everything(cast, login, query, message):
    make_publication(cast.municipality, DE_BILT)
    cells = PublicationCell.objects.count()
    response = login(cast.municipality_staff).get(URL, query)
    assert response.status_code == 200
    assert 'id="filter-errors"' in response.text
    assert message in response.text
    assert list(figures(response.text)) == ["3731AB", "3731AC"]
    assert "<script>" not in response.text
    assert PublicationCell.objects.count() == cells


def test_the_areas_are_paged(cast, login):
    codes = [f"3731{a}{b}" for a in "ABCDE" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"][:120]
    make_publication(
        cast.municipality,
        [cell for code in codes for cell in area("pc6", code, "GM0310", 10, label__C=10)],
    )
    client = login(cast.municipality_staff)
    first = client.get(URL, {"level": "pc6", "municipality": "GM0310"}).text
    assert list(figures(first)) == codes[:PAGE_SIZE]
    assert "120 gebieden" in first
    assert "page=2" in first and "municipality=GM0310" in first
    last = client.get(URL, {"level": "pc6", "municipality": "GM0310", "page": "3"}).text
    assert list(figures(last)) == codes[2 * PAGE_SIZE :]
    # A page out of range shows the last one, not an error.
    assert list(figures(client.get(URL, {"page": "99"}).text)) == codes[2 * PAGE_SIZE :]


@pytest.mark.parametrize("areas", [3, 140])
@pytest.mark.parametrize("who", ["municipality_staff", "province_analyst"])
def test_the_number_of_queries_does_not_grow_with_the_areas(
    cast, login, django_assert_max_num_queries, areas, who
):
    codes = [f"{3000 + n}AA" for n in range(areas)]
    cells = [
        cell
        for code in codes
        for cell in area(
            "pc6", code, "GM0310", 20, label__C=10, label__D=None, measure_done__roof_insulation=12
        )
    ]
    recipient = cast.municipality if who == "municipality_staff" else cast.province
    make_publication(recipient, DE_BILT + UTRECHT + cells)
    client = login(getattr(cast, who))
    # The first request of a login also notes its start and its second step in the session.
    client.get(URL)
    # Session, user, roles, organisation, municipalities, publication, agreements in force,
    # count, page, cells, municipality cells, measure names, and the request's savepoint:
    # whatever the areas.
    with django_assert_max_num_queries(14):
        response = client.get(URL, {"page": "2" if areas > PAGE_SIZE else "1"})
    assert len(figures(response.text)) == min(areas + 3, PAGE_SIZE)


def test_without_a_publication_it_explains_what_is_needed(cast, login):
    for user in (cast.municipality_staff, cast.province_analyst):
        response = login(user).get(URL)
        assert response.status_code == 200
        assert 'id="no-publication"' in response.text
        assert "afspraak over het delen van gegevens" in response.text
        assert reverse("dataplatform:agreement-list") in response.text


def test_an_empty_publication_says_there_are_no_figures(cast, login):
    make_publication(cast.municipality, [])
    response = login(cast.municipality_staff).get(URL)
    assert response.status_code == 200
    assert 'id="no-figures"' in response.text


def test_the_links_to_the_downloads_and_agreements(cast, login):
    make_publication(cast.municipality, DE_BILT)
    make_publication(cast.province, DE_BILT + UTRECHT)
    csv = reverse("dataplatform:aggregates-csv", kwargs={"level": "neighbourhood"})
    export = reverse("dataplatform:address-export")
    agreements = reverse("dataplatform:agreement-list")
    staff = login(cast.municipality_staff).get(URL, {"level": "neighbourhood"}).text
    assert f'href="{csv}"' in staff
    assert f'href="{export}"' in staff
    assert f'href="{agreements}"' in staff
    analyst = (
        login(cast.province_analyst)
        .get(URL, {"level": "neighbourhood", "municipality": "GM0310"})
        .text
    )
    assert f'href="{csv}?municipality=GM0310"' in analyst
    assert f'href="{export}"' not in analyst


# The charts -------------------------------------------------------------------------------


def svg(html: str, name: str) -> str:
    match = re.search(rf'<svg [^>]*data-chart="{name}".*?</svg>', html, re.S)
    assert match, name
    return match.group(0)


def test_the_charts_have_a_title_and_mark_suppressed_bars(cast, login):
    make_publication(cast.municipality, DE_BILT)
    html = login(cast.municipality_staff).get(URL).text
    labels = svg(html, "labels")
    assert '<title id="chart-labels-title">Energielabels in De Bilt</title>' in labels
    assert 'aria-labelledby="chart-labels-title"' in labels and "<desc " in labels
    assert 'role="img"' in labels
    assert re.findall(r'data-value="(\d+)"', labels) == ["61", "52", "47", "33"]
    # Label E is suppressed: a dashed box and the word, no number and no bar of 0.
    assert labels.count('<text class="wd-chart__year"') == 1
    assert labels.count('data-suppressed="true"') == 2
    assert 'data-value="0"' not in labels
    measures = svg(html, "measures")
    assert "Maatregelen gedaan en gewenst in De Bilt" in measures
    assert re.findall(r'data-value="(\d+)"', measures) == ["41", "26", "17"]
    assert measures.count('<text class="wd-chart__year"') == 1
    # The table next to the chart holds the same figures.
    table = re.search(r'<table [^>]*id="chart-labels-table".*?</table>', html, re.S).group(0)
    assert 'data-count="61"' in table and 'data-suppressed="true"' in table


def test_the_bar_chart_does_not_draw_a_suppressed_figure_as_zero():
    chart = bar_chart([GroupInput("", [BarInput("A", 100), BarInput("B", None), BarInput("C", 0)])])
    a, b, c = chart.groups[0].bars
    assert (a.suppressed, b.suppressed, c.suppressed) == (False, True, False)
    assert c.width == 0 and a.width > 0
    assert b.width == SUPPRESSED_BOX and b.height < BAR_HEIGHT
    assert chart.has_suppressed
    # A suppressed figure does not set the scale; only suppressed figures: nothing to scale.
    only = bar_chart([GroupInput("x", [BarInput("done", None)])])
    assert only.groups[0].bars[0].suppressed and not only.is_empty
    assert bar_chart([]).is_empty


# The menu ---------------------------------------------------------------------------------


def menu(login, user) -> dict[str, str]:
    items = login(user).get(reverse("dossier:dashboard")).context["nav_items"]
    return {item.url: str(item.label) for item, _current in items}


def test_the_menu_offers_the_data_platform_to_whom_it_is_for(cast, login):
    dashboard = reverse("dataplatform:dashboard")
    consent = reverse("dataplatform:consent-overview")
    agreements = reverse("dataplatform:agreement-list")
    for user in (cast.municipality_staff, cast.province_analyst):
        items = menu(login, user)
        assert dashboard in items and agreements in items
        assert consent not in items
    coordinator = menu(login, cast.coordinator)
    assert consent in coordinator and agreements in coordinator
    assert dashboard not in coordinator
    # A volunteer coach and a resident keep their short menu.
    for user in (cast.alice, cast.resident):
        items = menu(login, user)
        assert not {dashboard, consent, agreements} & set(items)


def test_an_area_published_as_its_households_cell_alone_shows_every_figure_suppressed(cast, login):
    # A compact publication: 3731AD counts fewer than K households, so only its
    # households cell is stored (dataplatform.suppression); 3731AB is complete.
    cells = [*DE_BILT, ("pc6", "3731AD", "GM0310", "households", None)]
    make_publication(cast.municipality, cells, k=10)

    table = figures(login(cast.municipality_staff).get(URL, {"level": "pc6"}).content.decode())

    assert set(table["3731AD"].values()) == {"x"}
    # An area with its households published still marks a figure it lacks as absent.
    assert "." in table["3731AB"].values()
