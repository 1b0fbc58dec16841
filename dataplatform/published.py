"""Reading a publication's figures for its recipient: the pull API and the CSV download.

Both answer the same question in the same way: which of the reader's organisations, which
publication (the newest made for it), which level and which municipality. The figures of
a level leave only while an agreement in force allows that level (dataplatform.agreements):
an agreement that ended stops the pull too, not only the next publication.

A suppressed cell is read as suppressed, never as 0: the API gives `count: null` and
`suppressed: true`; the CSV file writes SUPPRESSED ("–", an en dash) in its place and
leaves a cell empty only where the publication has no figure at all for that area.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import access
from accounts.models import Organisation
from accounts.roles import Role
from dataplatform.agreements import agreements_in_force
from dataplatform.models import AGGREGATE_LEVELS, Level, Publication, PublicationCell
from dataplatform.selectors import latest_publication
from dataplatform.suppression import HOUSEHOLDS
from dossier.models import DwellingType, EnergyLabel, MeasureType

if TYPE_CHECKING:
    from accounts.exports import Cell
    from accounts.models import User

# Who reads an organisation's figures, by its kind.
READER_ROLES: dict[str, str] = {
    Organisation.Kind.MUNICIPALITY: Role.MUNICIPALITY_STAFF,
    Organisation.Kind.PROVINCE: Role.PROVINCE_ANALYST,
}
# What the CSV file writes for a suppressed cell.
SUPPRESSED = "–"
MUNICIPALITY_CODE = re.compile(r"^GM[0-9]{4}$")
# The measures' groups in the order a table shows them; the rest follow by name.
GROUP_ORDER = (
    "households",
    "label",
    "dwelling_type",
    "build_year",
    "measure_done",
    "measure_wanted",
)
UNKNOWN = "unknown"


class Unanswerable(Exception):
    """A request for figures that has no answer: why, for whom, and which status says so.

    field: the query parameter at fault, or "" when the request itself is fine but there is
    nothing to give (no publication, no agreement in force).
    """

    def __init__(self, message: str, *, status: int, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


@dataclass(frozen=True)
class FigureRequest:
    organisation: Organisation
    publication: Publication
    level: str
    municipality: str | None


def reader_organisations(user: User) -> list[Organisation]:
    """The municipalities and provinces whose figures the user reads, by name."""
    roles = access.roles_by_organisation(user)
    candidates = Organisation.objects.filter(
        pk__in=list(roles), kind__in=list(READER_ROLES), is_active=True
    ).order_by("name", "pk")
    return [org for org in candidates if READER_ROLES[org.kind] in roles[org.pk]]


def choose_organisation(candidates: Sequence[Organisation], slug: str | None) -> Organisation:
    """The one organisation a request is about: named by `?organisation=`, or the only one."""
    if slug:
        for organisation in candidates:
            if organisation.slug == slug:
                return organisation
        raise Unanswerable(
            _("You read no figures of an organisation with this name."),
            status=404,
            field="organisation",
        )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise Unanswerable(_("You read no organisation's figures."), status=403)
    raise Unanswerable(
        _(
            "You work for several organisations: choose one with ?organisation= "
            "and one of: %(slugs)s."
        )
        % {"slugs": ", ".join(org.slug for org in candidates)},
        status=400,
        field="organisation",
    )


def figure_request(
    *,
    candidates: Sequence[Organisation],
    organisation_slug: str | None,
    level: str,
    municipality: str | None,
    on: dt.date,
) -> FigureRequest:
    """Check a request for figures and find its publication; raises Unanswerable."""
    if level not in AGGREGATE_LEVELS:
        raise Unanswerable(
            _("There are no figures at the level “%(level)s”. Choose one of: %(levels)s.")
            % {"level": level[:40], "levels": ", ".join(AGGREGATE_LEVELS)},
            status=404,
            field="level",
        )
    organisation = choose_organisation(candidates, organisation_slug)
    code = (municipality or "").strip().upper() or None
    if code is not None:
        codes = sorted(organisation.municipalities.values_list("code", flat=True))
        if not MUNICIPALITY_CODE.match(code) or code not in codes:
            raise Unanswerable(
                _("“%(code)s” is not a municipality of %(organisation)s. Choose one of: %(codes)s.")
                % {"code": code[:20], "organisation": organisation.name, "codes": ", ".join(codes)},
                status=400,
                field="municipality",
            )
    publication = latest_publication(organisation.pk)
    if publication is None:
        raise Unanswerable(
            _(
                "No figures have been published for %(organisation)s yet. They are published "
                "once an initiative has a sharing agreement with you and residents have agreed."
            )
            % {"organisation": organisation.name},
            status=404,
        )
    if not agreements_in_force(recipient=organisation, level=level, on=on).exists():
        raise Unanswerable(
            _("No sharing agreement in force allows figures at the level “%(level)s”.")
            % {"level": Level(level).label},
            status=404,
        )
    return FigureRequest(
        organisation=organisation, publication=publication, level=level, municipality=code
    )


def cells(request: FigureRequest) -> QuerySet[PublicationCell]:
    """The request's cells, by area and measure (the order of the unique index)."""
    queryset = PublicationCell.objects.filter(publication=request.publication, level=request.level)
    if request.municipality is not None:
        queryset = queryset.filter(municipality_code=request.municipality)
    return queryset.order_by("area_code", "measure")


# One row per area, for the CSV file -------------------------------------------------------


def _group_rank(measure: str) -> tuple[int, str, str]:
    group, _sep, value = measure.partition(":")
    rank = GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)
    return rank, group, value


def measure_sort_key(measure: str, *, measure_order: dict[str, int]) -> tuple[object, ...]:
    """Households first, then labels A++++ to G, dwelling types, build-year bands from old
    to new, measures done and wanted in catalogue order; "unknown" last in each group."""
    rank, group, value = _group_rank(measure)
    if value == UNKNOWN:
        return (rank, 1, 0, "")
    if group == "label" and value in EnergyLabel.values:
        return (rank, 0, EnergyLabel.values.index(value), "")
    if group == "dwelling_type" and value in DwellingType.values:
        return (rank, 0, DwellingType.values.index(value), "")
    if group == "build_year":
        digits = re.findall(r"[0-9]+", value)
        year = int(digits[0]) if digits else 0
        return (rank, 0, year - 1 if value.startswith("<") else year, value)
    if group in ("measure_done", "measure_wanted"):
        return (rank, 0, measure_order.get(value, len(measure_order)), value)
    return (rank, 0, 0, measure)


def measure_label(measure: str, *, measure_names: dict[str, str]) -> str:
    """A column heading for a measure, in the interface's language."""
    _rank, group, value = _group_rank(measure)
    if group == "households":
        return _("Households")
    if group == "label":
        return _("Label unknown") if value == UNKNOWN else _("Label %(label)s") % {"label": value}
    if group == "dwelling_type":
        if value in DwellingType.values:
            return _("Dwelling type: %(type)s") % {"type": DwellingType(value).label}
        return _("Dwelling type unknown") if value == UNKNOWN else measure
    if group == "build_year":
        if value == UNKNOWN:
            return _("Build year unknown")
        return _("Build year %(band)s") % {"band": value}
    if group in ("measure_done", "measure_wanted"):
        name = measure_names.get(value, value)
        if group == "measure_done":
            return _("Done: %(measure)s") % {"measure": name}
        return _("Wanted: %(measure)s") % {"measure": name}
    return measure


def measures_of(queryset: QuerySet[PublicationCell]) -> list[str]:
    """The measures the cells hold, in table order."""
    order = {
        code: position
        for position, code in enumerate(
            MeasureType.objects.order_by("sort_order", "code").values_list("code", flat=True)
        )
    }
    found = set(queryset.order_by().values_list("measure", flat=True).distinct())
    return sorted(found, key=lambda measure: measure_sort_key(measure, measure_order=order))


def csv_header(measures: Sequence[str]) -> list[str]:
    names = dict(MeasureType.objects.values_list("code", "name"))
    return [
        _("Area"),
        _("Municipality"),
        *(measure_label(measure, measure_names=names) for measure in measures),
    ]


def area_rows(queryset: QuerySet[PublicationCell], measures: Sequence[str]) -> Iterator[list[Cell]]:
    """One row per area: its code, its municipality, then a column per measure.

    Read in chunks in area order, so a province's hundreds of thousands of cells never sit
    in memory at once.
    """
    column = {measure: position for position, measure in enumerate(measures, start=2)}
    current: str | None = None
    row: list[Cell] = []
    # An area below K is published as its households cell alone (dataplatform.suppression,
    # compact): every figure it lacks is suppressed too, not absent.
    small = False
    values = queryset.values_list(
        "area_code", "municipality_code", "measure", "count", "suppressed"
    )
    for area, municipality, measure, count, suppressed in values.iterator(chunk_size=2000):
        if area != current:
            if row:
                yield _filled(row, small)
            current = area
            row = [area, municipality, *([""] * len(measures))]
            small = False
        if measure == HOUSEHOLDS and suppressed:
            small = True
        row[column[measure]] = SUPPRESSED if suppressed else count
    if row:
        yield _filled(row, small)


def _filled(row: list[Cell], small: bool) -> list[Cell]:
    if small:
        row[2:] = [SUPPRESSED if value == "" else value for value in row[2:]]
    return row


def csv_filename(request: FigureRequest) -> str:
    # The day it was made in the Netherlands: created_at is stored in UTC.
    made = timezone.localdate(request.publication.created_at)
    parts = ["wijkcijfers", request.organisation.slug, request.level]
    if request.municipality:
        parts.append(request.municipality.lower())
    return f"{'-'.join(parts)}-{made:%Y%m%d}.csv"
