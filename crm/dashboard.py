"""Reads for the initiative's dashboard and its case exports.

Each figure is one aggregate query grouped by month and person, so the page costs the
same few queries for ten cases or ten thousand; months without rows are filled with 0
here. Months are calendar months in the site's time zone: a sign-up at 00:30 on 1 March
counts for March, as the coordinator would count it.

Whose figure a row is differs per figure, and is what the person-table shows:
- sign-ups: the household's energy coach now (a new sign-up has none yet);
- visits: the visit's coach; measures taken: the coach the case had when the resident
  reported the measure (CaseEvent.coach);
- reports sent: who made the report (AdviceReport.created_by), not the household's coach
  now. Like a visit, a report is work done by someone on a day; a household moved to
  another coach later keeps last year's report with the coach who wrote it.

The caller checks that the viewer coordinates the initiative (dashboard_initiative);
every query is also narrowed to what the viewer may see.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import Count, DateField, Q, QuerySet
from django.db.models.functions import Coalesce, TruncMonth
from django.http import Http404
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from accounts import access
from accounts.models import Organisation, User
from accounts.roles import Role
from crm import pipeline
from crm.models import Case, CaseEvent, CaseStatus, EventKind, HeardVia, Visit, VisitStatus
from dossier.models import AdviceReport

if TYPE_CHECKING:
    from accounts.exports import Cell

# The longest period the charts are drawn for: twelve columns stay readable on a tablet.
MAX_MONTHS = 12


# Periods ---------------------------------------------------------------------------------


def add_months(month: dt.date, count: int) -> dt.date:
    """The first day of the month `count` months after (or before) `month`."""
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """Whole calendar months, from the first day of `first`."""

    first: dt.date
    months: int

    def __post_init__(self) -> None:
        if self.first.day != 1 or not 1 <= self.months <= MAX_MONTHS:
            raise ValueError("a period is 1 to 12 whole months")

    @property
    def month_starts(self) -> list[dt.date]:
        return [add_months(self.first, n) for n in range(self.months)]

    @property
    def last(self) -> dt.date:
        return add_months(self.first, self.months - 1)

    @property
    def end(self) -> dt.date:
        """The first day after the period."""
        return add_months(self.first, self.months)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Start (inclusive) and end (exclusive) as moments in the site's time zone."""
        zone = timezone.get_current_timezone()
        return (
            dt.datetime.combine(self.first, dt.time.min, tzinfo=zone),
            dt.datetime.combine(self.end, dt.time.min, tzinfo=zone),
        )


def last_months(months: int = MAX_MONTHS, *, today: dt.date | None = None) -> Period:
    """The last `months` months, this month included."""
    this_month = (today or timezone.localdate()).replace(day=1)
    return Period(first=add_months(this_month, 1 - months), months=months)


def calendar_year(year: int, *, today: dt.date | None = None) -> Period:
    """January to December of `year`; this year only up to this month."""
    today = today or timezone.localdate()
    months = today.month if year == today.year else MAX_MONTHS
    return Period(first=dt.date(year, 1, 1), months=months)


# Figures ---------------------------------------------------------------------------------


@dataclass
class Figures:
    signups: int = 0
    visits_done: int = 0
    visits_planned: int = 0
    reports_sent: int = 0
    measures_taken: int = 0

    def add(self, name: str, count: int) -> None:
        setattr(self, name, getattr(self, name) + count)

    @property
    def is_empty(self) -> bool:
        return not any(vars(self).values())


# The figures drawn as charts, in the order the page shows them.
CHARTED = ("signups", "visits_done", "reports_sent", "measures_taken")


@dataclass(frozen=True)
class MonthFigures:
    month: dt.date
    figures: Figures


@dataclass(frozen=True)
class PersonFigures:
    """One person's figures; person None: no energy coach, or an account that is gone."""

    person: User | None
    figures: Figures


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


@dataclass(frozen=True)
class InitiativeDashboard:
    initiative: Organisation
    period: Period
    months: list[MonthFigures]
    people: list[PersonFigures]
    totals: Figures
    # Open cases now, per step of the pipeline; not limited to the period.
    funnel: list[StatusCount] = field(default_factory=list)

    def series(self, name: str) -> list[tuple[dt.date, int]]:
        """One figure per month, for a chart."""
        return [(row.month, getattr(row.figures, name)) for row in self.months]


def dashboard_initiatives(*, viewer: User) -> QuerySet[Organisation]:
    """The active initiatives the viewer coordinates, by name."""
    return Organisation.objects.filter(
        pk__in=access.organisations_with_role(viewer, {Role.COORDINATOR}),
        kind=Organisation.Kind.INITIATIVE,
        is_active=True,
    ).order_by("name", "pk")


def dashboard_initiative(*, viewer: User, pk: int) -> Organisation:
    """An initiative the viewer coordinates, or Http404: never reveal that it exists."""
    try:
        return dashboard_initiatives(viewer=viewer).get(pk=pk)
    except Organisation.DoesNotExist as exc:
        raise Http404 from exc


def _by_month_and_person(
    rows: QuerySet, *, at: str, person: str, extra: tuple[str, ...] = ()
) -> QuerySet:
    """(month, person id, *extra, count) rows: one GROUP BY, whatever the number of rows."""
    return (
        rows.annotate(month=TruncMonth(at, output_field=DateField()))
        .values_list("month", person, *extra)
        .annotate(count=Count("pk"))
        .order_by()
    )


def initiative_dashboard(
    *, viewer: User, initiative: Organisation, period: Period
) -> InitiativeDashboard:
    """Sign-ups, visits, reports sent and measures taken per month and per person.

    Five aggregate queries (plus one for the names of the people in the table), however
    many cases the initiative has.
    """
    start, end = period.bounds()
    counts: Counter[tuple[str, dt.date, int | None]] = Counter()

    signups = Case.objects.visible_to(viewer).filter(
        initiative=initiative, created_at__gte=start, created_at__lt=end
    )
    for month, person_id, count in _by_month_and_person(
        signups, at="created_at", person="household__assigned_coach"
    ):
        counts["signups", month, person_id] += count

    # A visit counts in the month it was (to be) held. Planned visits in a month that has
    # passed are visits nobody marked done yet: the coordinator sees them as such.
    visits = Visit.objects.visible_to(viewer).filter(
        case__initiative=initiative,
        status__in=[VisitStatus.DONE, VisitStatus.PLANNED],
        planned_start__gte=start,
        planned_start__lt=end,
    )
    for month, person_id, status, count in _by_month_and_person(
        visits, at="planned_start", person="coach", extra=("status",)
    ):
        name = "visits_done" if status == VisitStatus.DONE else "visits_planned"
        counts[name, month, person_id] += count

    # Sent by e-mail, or printed for a resident without e-mail: either way delivered, in
    # the month it was sent (or printed, when it was not sent). A report with neither date
    # has a NULL here, which no range matches.
    reports = (
        AdviceReport.objects.visible_to(viewer)
        .filter(dossier__household__initiative=initiative)
        .annotate(delivered_at=Coalesce("sent_at", "printed_at"))
        .filter(delivered_at__gte=start, delivered_at__lt=end)
    )
    for month, person_id, count in _by_month_and_person(
        reports, at="delivered_at", person="created_by"
    ):
        counts["reports_sent", month, person_id] += count

    measures = CaseEvent.objects.visible_to(viewer).filter(
        case__initiative=initiative,
        kind=EventKind.MEASURE_TAKEN,
        created_at__gte=start,
        created_at__lt=end,
    )
    for month, person_id, count in _by_month_and_person(measures, at="created_at", person="coach"):
        counts["measures_taken", month, person_id] += count

    months = {month: Figures() for month in period.month_starts}
    by_person: dict[int | None, Figures] = {}
    totals = Figures()
    for (name, month, person_id), count in counts.items():
        # A month outside the period cannot occur; the guard keeps a time-zone surprise
        # from raising on the coordinator's page.
        if month in months:
            months[month].add(name, count)
        by_person.setdefault(person_id, Figures()).add(name, count)
        totals.add(name, count)

    return InitiativeDashboard(
        initiative=initiative,
        period=period,
        months=[MonthFigures(month, figures) for month, figures in months.items()],
        people=_people(initiative, by_person),
        totals=totals,
        funnel=open_case_funnel(viewer=viewer, initiative=initiative),
    )


def _people(initiative: Organisation, by_person: dict[int | None, Figures]) -> list[PersonFigures]:
    """Every active coach (also with nothing to count), then anyone else who has figures."""
    ids = [pk for pk in by_person if pk is not None]
    people = User.objects.filter(
        Q(pk__in=ids)
        | Q(
            is_active=True,
            memberships__organisation=initiative,
            memberships__role=Role.COACH,
            memberships__is_active=True,
        )
    ).distinct()
    rows = [
        PersonFigures(person, by_person.get(person.pk, Figures()))
        for person in sorted(people, key=lambda p: (str(p).casefold(), p.pk))
    ]
    if None in by_person:
        rows.append(PersonFigures(None, by_person[None]))
    return rows


def open_case_funnel(*, viewer: User, initiative: Organisation) -> list[StatusCount]:
    """How many open cases are at each step of the pipeline now, in pipeline order."""
    counts = dict(
        Case.objects.visible_to(viewer)
        .filter(initiative=initiative, status__in=pipeline.OPEN)
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    labels = dict(CaseStatus.choices)
    return [
        StatusCount(status, str(capfirst(labels[status])), counts.get(status, 0))
        for status in pipeline.OPEN
    ]


# The case export -------------------------------------------------------------------------

# (key, column heading). Keys are what the tests and later imports hold on to; headings
# are translated.
CASE_COLUMNS = (
    ("case", _("Case number")),
    ("status", _("Status")),
    ("created", _("Signed up")),
    ("coach", _("Energy coach")),
    ("heard_via", _("Heard of the initiative via")),
)
# Only in the export with address. What residents wrote goes with it: free text can name
# a person, an address or an illness, so it has no place in the export without address.
PERSONAL_COLUMNS = (
    ("wants_help_with", _("Wants help with")),
    ("name", _("Name")),
    ("street", _("Street")),
    ("house_number", _("House number")),
    ("house_letter", _("House letter")),
    ("house_number_addition", _("House number addition")),
    ("postcode", _("Postcode")),
    ("city", _("City")),
    ("email", _("E-mail address")),
    ("phone", _("Phone number")),
)
# Without address the only place is the postcode area (four digits): enough to see where
# the initiative works, too coarse to find a home or a person.
AREA_COLUMNS = (("postcode_area", _("Postcode area")),)

_CASE_FIELDS = (
    "pk",
    "status",
    "created_at",
    "household__assigned_coach__first_name",
    "household__assigned_coach__last_name",
    "household__assigned_coach__email",
    "heard_via",
    "household__dwelling__postcode",
)
_PERSONAL_FIELDS = (
    "wants_help_with",
    "household__name",
    "household__dwelling__street",
    "household__dwelling__house_number",
    "household__dwelling__house_letter",
    "household__dwelling__house_number_addition",
    "household__dwelling__city",
    "contact_email",
    "contact_phone",
)


def case_export_columns(*, with_address: bool) -> list[tuple[str, str]]:
    """(key, heading) of each column, headings in the active language."""
    extra = PERSONAL_COLUMNS if with_address else AREA_COLUMNS
    return [(key, str(heading)) for key, heading in (*CASE_COLUMNS, *extra)]


def case_export_cases(*, viewer: User, initiative: Organisation) -> QuerySet[Case]:
    """Every case of the initiative, open and ended, oldest first."""
    return (
        Case.objects.visible_to(viewer).filter(initiative=initiative).order_by("created_at", "pk")
    )


def case_export_rows(
    *, viewer: User, initiative: Organisation, with_address: bool
) -> Iterator[list[Cell]]:
    """The export's rows, read in chunks from one query as they are written.

    The labels are looked up now, while the request's language is active: the rows are
    read later, while the response streams.
    """
    statuses = {value: str(capfirst(label)) for value, label in CaseStatus.choices}
    heard_via = {value: str(capfirst(label)) for value, label in HeardVia.choices}
    fields = (*_CASE_FIELDS, *_PERSONAL_FIELDS) if with_address else _CASE_FIELDS
    values = case_export_cases(viewer=viewer, initiative=initiative).values_list(*fields)

    def rows() -> Iterator[list[Cell]]:
        for row in values.iterator(chunk_size=1000):
            pk, status, created_at, first, last, email, heard, postcode = row[:8]
            # As User.__str__: the full name, or the e-mail address without one. A case
            # without a coach has None in all three (the join finds no user): an empty cell.
            coach = " ".join(part for part in (first, last) if part) or email or ""
            cells: list[Cell] = [
                pk,
                statuses.get(status, status),
                timezone.localtime(created_at).date(),
                coach,
                heard_via.get(heard, heard),
            ]
            if with_address:
                wants, name, street, number, letter, addition, city, contact_email, phone = row[8:]
                postcode_display = f"{postcode[:4]} {postcode[4:]}" if postcode else ""
                cells += [
                    wants,
                    name,
                    street,
                    number,
                    letter,
                    addition,
                    postcode_display,
                    city,
                    contact_email,
                    phone,
                ]
            else:
                cells.append(postcode[:4])
            yield cells

    return rows()
