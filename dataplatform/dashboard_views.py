"""The neighbourhood figures: a publication's cells as a table per area, with charts.

For municipality staff and province analysts only, and only the latest publication made
for their own organisation; anyone else gets a plain 403, as the menu does not offer the
page to them. A province holds about 100,000 postcode-6 areas, so the areas are paged in
SQL (on the "households" cell every area has) and only the cells of one page's areas are
read; the column set comes from the municipality-level cells, which are few.

A suppressed cell is never shown as a blank or a zero: it is marked as suppressed, in
the table and in the charts, and a legend says why. A cell that is not in the
publication at all is marked as such, for the same reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts import access
from accounts.models import Organisation
from accounts.roles import Role
from dataplatform import published
from dataplatform.agreements import levels_in_force
from dataplatform.dashboard_chart import BarChart, BarInput, GroupInput, bar_chart
from dataplatform.models import AGGREGATE_LEVELS, Level, Publication, PublicationCell
from dossier.models import DwellingType, EnergyLabel, MeasureType

PAGE_SIZE = 50
HOUSEHOLDS = "households"
UNKNOWN = "unknown"
# The municipality filter's "no filter".
ALL = "all"

# The groups of columns, in the order of the table: the part of a measure before ":".
LABEL = "label"
DWELLING_TYPE = "dwelling_type"
BUILD_YEAR = "build_year"
MEASURE_DONE = "measure_done"
MEASURE_WANTED = "measure_wanted"
FAMILIES: dict[str, Any] = {
    LABEL: gettext_lazy("Energy label"),
    DWELLING_TYPE: gettext_lazy("Dwelling type"),
    BUILD_YEAR: gettext_lazy("Build year"),
    MEASURE_DONE: gettext_lazy("Measures done"),
    MEASURE_WANTED: gettext_lazy("Measures wanted"),
}
OTHER = "other"
LABEL_ORDER = [*EnergyLabel.values, UNKNOWN]
DWELLING_TYPE_ORDER = [*DwellingType.values, UNKNOWN]


# Reading the publication ------------------------------------------------------------------


def _latest_publication(organisation: Organisation) -> Publication | None:
    """The organisation's newest publication, with which levels it holds (one query)."""
    levels = {
        f"has_{level}": Exists(
            PublicationCell.objects.filter(publication=OuterRef("pk"), level=level)
        )
        for level in AGGREGATE_LEVELS
    }
    return (
        Publication.objects.filter(recipient=organisation)
        .annotate(**levels)
        .order_by("-created_at")
        .first()
    )


def _levels_in(publication: Publication) -> list[str]:
    return [level for level in AGGREGATE_LEVELS if getattr(publication, f"has_{level}")]


# Columns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    measure: str
    family: str
    heading: str


@dataclass(frozen=True)
class ColumnGroup:
    family: str
    heading: str
    columns: tuple[Column, ...]


def _split(measure: str) -> tuple[str, str]:
    family, _sep, value = measure.partition(":")
    return (family, value) if family in FAMILIES else (OTHER, measure)


def _year_key(band: str) -> tuple[int, int]:
    if band == UNKNOWN:
        return (1, 0)
    digits = re.search(r"\d{4}", band)
    # "<1945" sorts before "1945-1974", which it shares its year with.
    start = int(digits.group()) if digits else 0
    return (0, start - 1 if band.startswith("<") else start)


def _year_heading(band: str) -> str:
    if band == UNKNOWN:
        return capfirst(_("unknown"))
    if band.startswith("<"):
        return _("before %(year)s") % {"year": band[1:]}
    if band.endswith("+"):
        return _("%(year)s or later") % {"year": band[:-1]}
    return band.replace("-", "–")


def _order(values: Sequence[str], value: str) -> tuple[int, str]:
    return (values.index(value), "") if value in values else (len(values), value)


def _columns(measures: Iterable[str], measure_types: dict[str, MeasureType]) -> list[ColumnGroup]:
    """The table's columns for these measures, grouped and in a fixed, readable order."""
    dwelling_types = dict(DwellingType.choices)
    by_family: dict[str, list[str]] = {}
    for measure in set(measures) - {HOUSEHOLDS}:
        family, value = _split(measure)
        by_family.setdefault(family, []).append(value)

    def measure_key(code: str) -> tuple[int, str]:
        kind = measure_types.get(code)
        return (kind.sort_order, code) if kind else (10_000, code)

    def measure_heading(code: str) -> str:
        kind = measure_types.get(code)
        return kind.name if kind else code

    groups = []
    for family in (*FAMILIES, OTHER):
        values = by_family.get(family)
        if not values:
            continue
        if family == LABEL:
            values.sort(key=lambda v: _order(LABEL_ORDER, v))
            headings = [capfirst(_("unknown")) if v == UNKNOWN else v for v in values]
        elif family == DWELLING_TYPE:
            values.sort(key=lambda v: _order(DWELLING_TYPE_ORDER, v))
            headings = [capfirst(str(dwelling_types.get(v, _("unknown")))) for v in values]
        elif family == BUILD_YEAR:
            values.sort(key=_year_key)
            headings = [_year_heading(v) for v in values]
        elif family in (MEASURE_DONE, MEASURE_WANTED):
            values.sort(key=measure_key)
            headings = [measure_heading(v) for v in values]
        else:
            values.sort()
            headings = list(values)
        heading = str(FAMILIES[family]) if family in FAMILIES else _("Other figures")
        columns = tuple(
            Column(
                measure=value if family == OTHER else f"{family}:{value}",
                family=family,
                heading=column_heading,
            )
            for value, column_heading in zip(values, headings, strict=True)
        )
        groups.append(ColumnGroup(family=family, heading=heading, columns=columns))
    return groups


def _measure_types(measures: Iterable[str]) -> dict[str, MeasureType]:
    codes = {
        value for family, value in map(_split, measures) if family in (MEASURE_DONE, MEASURE_WANTED)
    }
    if not codes:
        return {}
    return {kind.code: kind for kind in MeasureType.objects.filter(code__in=codes)}


# Rows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One cell as the table shows it: a count, suppressed, or not in the publication."""

    count: int | None
    suppressed: bool = False

    @property
    def missing(self) -> bool:
        return self.count is None and not self.suppressed


MISSING = Figure(None)
SUPPRESSED_FIGURE = Figure(None, suppressed=True)


@dataclass(frozen=True)
class Row:
    area_code: str
    area_name: str
    municipality_code: str
    municipality_name: str
    households: Figure
    figures: tuple[Figure, ...]


def _area_name(level: str, code: str, municipality_names: dict[str, str]) -> str:
    if level == Level.PC6 and re.fullmatch(r"\d{4}[A-Z]{2}", code):
        return f"{code[:4]} {code[4:]}"
    if level == Level.MUNICIPALITY:
        return municipality_names.get(code, code)
    return code


def _area_page(
    publication: Publication, level: str, municipality: str, page_number: str | None
) -> Page:
    """One page of areas, counted and sliced in SQL: never every area of a province."""
    areas = PublicationCell.objects.filter(publication=publication, level=level, measure=HOUSEHOLDS)
    if municipality:
        areas = areas.filter(municipality_code=municipality)
    areas = areas.order_by("area_code").values_list("area_code", "municipality_code")
    return Paginator(areas, PAGE_SIZE).get_page(page_number)


def _cells_of(
    publication: Publication, level: str, area_codes: Sequence[str]
) -> dict[str, dict[str, Figure]]:
    cells: dict[str, dict[str, Figure]] = {}
    if not area_codes:
        return cells
    rows = (
        PublicationCell.objects.filter(
            publication=publication, level=level, area_code__in=area_codes
        )
        .order_by()
        .values_list("area_code", "measure", "count", "suppressed")
    )
    for area, measure, count, suppressed in rows:
        cells.setdefault(area, {})[measure] = Figure(None if suppressed else count, suppressed)
    return {area: _AreaCells(figures) for area, figures in cells.items()}


class _AreaCells(dict):
    """An area's figures. An area below K is published as its households cell alone
    (dataplatform.suppression, compact): every other figure of it is suppressed too."""

    def get(self, measure, default=None):  # type: ignore[override]
        found = super().get(measure)
        if found is not None:
            return found
        households = super().get(HOUSEHOLDS)
        if households is not None and households.suppressed and measure != HOUSEHOLDS:
            return SUPPRESSED_FIGURE
        return default


# Charts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartBlock:
    name: str
    title: str
    summary: str
    chart: BarChart
    # The same figures for the table next to the chart: (label, figure) or, for the
    # measures, (label, done, wanted).
    rows: tuple[tuple[Any, ...], ...]


def _figure_bar(label: str, figure: Figure) -> BarInput:
    return BarInput(label, figure.count if not figure.suppressed else None)


def _charts(
    cells: dict[str, Figure], groups: Sequence[ColumnGroup], municipality_name: str, k: int
) -> list[ChartBlock]:
    """Label distribution and measures done and wanted of one municipality."""
    by_family = {group.family: group for group in groups}
    households = cells.get(HOUSEHOLDS, MISSING)
    charts = []
    labels = [
        (column.heading, cells.get(column.measure, MISSING))
        for column in (by_family[LABEL].columns if LABEL in by_family else ())
    ]
    labels = [(heading, figure) for heading, figure in labels if not figure.missing]
    if labels:
        suppressed = sum(1 for _heading, figure in labels if figure.suppressed)
        charts.append(
            ChartBlock(
                name="labels",
                title=_("Energy labels in %(municipality)s") % {"municipality": municipality_name},
                summary=_summary(households, suppressed, k),
                chart=bar_chart([GroupInput("", [_figure_bar(h, f) for h, f in labels])]),
                rows=tuple(labels),
            )
        )
    # One group of bars per measure type, whether it was counted as done, wanted or both.
    headings: dict[str, str] = {}
    for family in (MEASURE_DONE, MEASURE_WANTED):
        for column in by_family[family].columns if family in by_family else ():
            headings.setdefault(column.measure.partition(":")[2], column.heading)
    rows = [
        (
            heading,
            cells.get(f"{MEASURE_DONE}:{code}", MISSING),
            cells.get(f"{MEASURE_WANTED}:{code}", MISSING),
        )
        for code, heading in headings.items()
    ]
    rows = [row for row in rows if not (row[1].missing and row[2].missing)]
    if rows:
        suppressed = sum(1 for row in rows for figure in row[1:] if figure.suppressed)
        charts.append(
            ChartBlock(
                name="measures",
                title=_("Measures done and wanted in %(municipality)s")
                % {"municipality": municipality_name},
                summary=_summary(households, suppressed, k),
                chart=bar_chart(
                    [
                        GroupInput(
                            heading,
                            [
                                _figure_bar(label, figure)
                                for label, figure in ((_("done"), done), (_("wanted"), wanted))
                                if not figure.missing
                            ],
                        )
                        for heading, done, wanted in rows
                    ]
                ),
                rows=tuple(rows),
            )
        )
    return charts


def _summary(households: Figure, suppressed: int, k: int) -> str:
    if households.count is None:
        text = _("The number of households is suppressed.")
    else:
        text = _("Households with a dossier and consent: %(households)s.") % {
            "households": number_format(households.count, force_grouping=True)
        }
    if suppressed:
        text += " " + ngettext(
            "%(suppressed)s figure is suppressed (fewer than %(k)s households, or it could be "
            "calculated from the others): it shows no bar.",
            "%(suppressed)s figures are suppressed (fewer than %(k)s households, or they could "
            "be calculated from the others): they show no bar.",
            suppressed,
        ) % {"suppressed": suppressed, "k": k}
    return text


# The page ---------------------------------------------------------------------------------


class DashboardForm(forms.Form):
    """What to show, from the query string; an invalid choice is ignored and said so.

    Always bound, with the defaults filled in for what the query string leaves out, so
    every field has a value and none is marked optional.
    """

    organisation = forms.TypedChoiceField(label=gettext_lazy("Organisation"), coerce=int)
    level = forms.ChoiceField(label=gettext_lazy("Areas"))
    municipality = forms.ChoiceField(
        label=gettext_lazy("Municipality"),
        error_messages={
            "invalid_choice": gettext_lazy(
                "That municipality is not one of yours; the figures below are for all of them."
            )
        },
    )

    def __init__(
        self,
        query: QueryDict,
        *,
        organisation: Organisation,
        organisations: Sequence[Organisation],
        levels: Sequence[str],
        municipalities: Sequence[tuple[str, str]],
    ) -> None:
        data = {
            "organisation": query.get("organisation") or organisation.pk,
            "level": query.get("level") or (levels[0] if levels else ""),
            "municipality": query.get("municipality") or ALL,
        }
        super().__init__(data)
        if len(organisations) > 1:
            self.fields["organisation"].choices = [(org.pk, org.name) for org in organisations]
        else:
            del self.fields["organisation"]
        labels = dict(Level.choices)
        self.fields["level"].choices = [(level, capfirst(labels[level])) for level in levels]
        self.fields["level"].error_messages["invalid_choice"] = _(
            "This publication has no figures at that level; it shows %(level)s instead."
        ) % {"level": labels[levels[0]] if levels else ""}
        self.fields["municipality"].choices = [(ALL, _("All municipalities"))] + [
            (code, f"{name} ({code})") for code, name in municipalities
        ]

    def value(self, name: str) -> Any:
        """The valid value of one field, or None: one bad field spoils no other."""
        self.is_valid()
        value = self.cleaned_data.get(name)
        return None if value in (None, "", ALL) else value


def _chosen_organisation(request: HttpRequest, organisations: list[Organisation]) -> Organisation:
    wanted = request.GET.get("organisation", "")
    return next((org for org in organisations if str(org.pk) == wanted), organisations[0])


@require_GET
@login_required
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    organisations = published.reader_organisations(request.user)
    if not organisations:
        raise PermissionDenied
    organisation = _chosen_organisation(request, organisations)
    roles = access.roles_by_organisation(request.user).get(organisation.pk, frozenset())
    municipalities = list(organisation.municipalities.order_by("name").values_list("code", "name"))
    municipality_names = dict(municipalities)
    publication = _latest_publication(organisation)
    # Like the pull API and the CSV file: a level is shown only while an agreement in
    # force allows it, so an agreement that ended takes its figures off the page too.
    allowed = levels_in_force(recipient=organisation, on=timezone.localdate())
    levels = [level for level in _levels_in(publication) if level in allowed] if publication else []
    form = DashboardForm(
        request.GET,
        organisation=organisation,
        organisations=organisations,
        levels=levels,
        municipalities=municipalities,
    )
    context: dict[str, Any] = {
        "organisation": organisation,
        "organisations": organisations,
        "publication": publication,
        "form": form,
        "is_municipality_staff": Role.MUNICIPALITY_STAFF in roles,
        "agreement_ended": publication is not None and not allowed,
    }
    if publication is None or not levels:
        return render(request, "dataplatform/dashboard.html", context)

    level = form.value("level") or levels[0]
    municipality = form.value("municipality") or ""
    chart_code = municipality or (municipalities[0][0] if len(municipalities) == 1 else "")
    page = _area_page(publication, level, municipality, request.GET.get("page"))
    areas: list[tuple[str, str]] = list(page.object_list)
    cells = _cells_of(publication, level, [code for code, _m in areas])

    # The column set: every measure of the municipality level (few cells, and every
    # measure of a finer area is counted there too) and whatever this page holds.
    municipality_cells = PublicationCell.objects.filter(
        publication=publication, level=Level.MUNICIPALITY
    ).order_by()
    chart_cells: dict[str, Figure] = {}
    if chart_code:
        for measure, count, suppressed in municipality_cells.filter(
            area_code=chart_code
        ).values_list("measure", "count", "suppressed"):
            chart_cells[measure] = Figure(None if suppressed else count, suppressed)
        measures = set(chart_cells)
    else:
        measures = set(municipality_cells.values_list("measure", flat=True).distinct())
    for area_cells in cells.values():
        measures.update(area_cells)
    groups = _columns(measures, _measure_types(measures))
    columns = [column for group in groups for column in group.columns]

    rows = [
        Row(
            area_code=code,
            area_name=_area_name(level, code, municipality_names),
            municipality_code=municipality_code,
            municipality_name=municipality_names.get(municipality_code, municipality_code),
            households=cells.get(code, {}).get(HOUSEHOLDS, MISSING),
            figures=tuple(cells.get(code, {}).get(c.measure, MISSING) for c in columns),
        )
        for code, municipality_code in areas
    ]
    query = request.GET.copy()
    query.pop("page", None)
    context.update(
        {
            "level": level,
            "level_name": dict(Level.choices)[level],
            "municipality": municipality,
            "municipality_name": municipality_names.get(municipality, ""),
            "chart_municipality_name": municipality_names.get(chart_code, chart_code),
            "several_municipalities": len(municipalities) > 1,
            "page": page,
            "rows": rows,
            "groups": groups,
            "column_count": len(columns),
            "charts": _charts(
                chart_cells, groups, municipality_names.get(chart_code, ""), publication.k
            )
            if chart_cells
            else [],
            "chart_code": chart_code,
            "query": query.urlencode(),
            "filter_query": f"?municipality={municipality}" if municipality else "",
        }
    )
    return render(request, "dataplatform/dashboard.html", context)
