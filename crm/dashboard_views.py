"""The initiative's dashboard for its coordinators, and the downloads of its cases.

Only coordinators have a dashboard: coaches and residents get a plain 403, as for the
queue's bulk actions; an initiative the viewer does not coordinate is a 404.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts import exports
from accounts.models import Organisation
from crm import dashboard, selectors
from crm.dashboard_chart import MonthChart, month_chart
from dossier.access_log import access_logged_list, listed

DEFAULT_PERIOD = "12"
# Calendar years to choose from: this one and the ones before it.
YEARS = 5
# The figures drawn as charts, with their headings.
CHART_TITLES: dict[str, Any] = {
    "signups": gettext_lazy("Sign-ups"),
    "visits_done": gettext_lazy("Visits done"),
    "reports_sent": gettext_lazy("Reports sent"),
    "measures_taken": gettext_lazy("Measures taken"),
}
# The two exports, by the word in their address and file name.
WITH_ADDRESS = "met-adres"
WITHOUT_ADDRESS = "zonder-adres"
EXPORT_VARIANTS = {WITH_ADDRESS: True, WITHOUT_ADDRESS: False}
EXPORT_FORMATS = ("csv", "xlsx")


class PeriodForm(forms.Form):
    """The dashboard's period, from the query string; without one, the last 12 months."""

    period = forms.ChoiceField(label=gettext_lazy("Period"), initial=DEFAULT_PERIOD)

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        years = [(str(year), str(year)) for year in range(today.year - 1, today.year - YEARS, -1)]
        self.fields["period"].choices = [
            ("12", _("The last 12 months")),
            ("6", _("The last 6 months")),
            ("3", _("The last 3 months")),
            (str(today.year), _("%(year)s up to now") % {"year": today.year}),
            *years,
        ]

    def chosen(self) -> str:
        """The chosen value; an invalid one counts as no choice (and says so on the page)."""
        return self.cleaned_data["period"] if self.is_bound and self.is_valid() else ""

    def to_period(self, *, today: dt.date) -> dashboard.Period:
        value = self.chosen() or DEFAULT_PERIOD
        if len(value) == 4:
            return dashboard.calendar_year(int(value), today=today)
        return dashboard.last_months(int(value), today=today)


@dataclass(frozen=True)
class ChartBlock:
    name: str
    title: str
    chart: MonthChart


def _initiative(request: HttpRequest, pk: int) -> Organisation:
    # Someone who coordinates nothing has no dashboard at all; an initiative they do not
    # coordinate is not found, whatever they are there.
    if not selectors.coordinated_initiatives(viewer=request.user):
        raise PermissionDenied
    return dashboard.dashboard_initiative(viewer=request.user, pk=pk)


@require_GET
@login_required
@never_cache
def dashboard_start(request: HttpRequest) -> HttpResponse:
    """The menu's entry: the dashboard of the first initiative the viewer coordinates."""
    initiative = dashboard.dashboard_initiatives(viewer=request.user).first()
    if initiative is None:
        raise PermissionDenied
    url = reverse("crm:initiative-dashboard", args=[initiative.pk])
    # Only the period is carried over; it holds no personal data.
    if period := request.GET.get("period", "")[:10]:
        url = f"{url}?{urlencode({'period': period})}"
    return redirect(url)


@require_GET
@login_required
@never_cache
def initiative_dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    initiative = _initiative(request, pk)
    today = timezone.localdate()
    # Unbound on the first visit, so the form shows its default instead of an error.
    form = PeriodForm(request.GET if "period" in request.GET else None, today=today)
    figures = dashboard.initiative_dashboard(
        viewer=request.user, initiative=initiative, period=form.to_period(today=today)
    )
    charts = [
        ChartBlock(name, str(title), month_chart(figures.series(name)))
        for name, title in CHART_TITLES.items()
    ]
    # The chosen period goes along to another initiative's dashboard.
    period = form.chosen()
    return render(
        request,
        "crm/dashboard.html",
        {
            "initiative": initiative,
            "initiatives": list(dashboard.dashboard_initiatives(viewer=request.user)),
            "form": form,
            "dashboard": figures,
            "charts": charts,
            "open_cases": sum(row.count for row in figures.funnel),
            "period_query": urlencode({"period": period}) if period else "",
            "with_address": WITH_ADDRESS,
            "without_address": WITHOUT_ADDRESS,
        },
    )


@access_logged_list("case_export")
@require_GET
@login_required
@transaction.non_atomic_requests
def case_export(
    request: HttpRequest, pk: int, variant: str, fmt: str
) -> StreamingHttpResponse | FileResponse:
    """All the initiative's cases as CSV or XLSX, with or without name, address and contact.

    Outside the request transaction: the rows are read while the file streams, after the
    view has returned, and the log entry must stay even if the download breaks off.
    """
    initiative = _initiative(request, pk)
    if variant not in EXPORT_VARIANTS or fmt not in EXPORT_FORMATS:
        raise Http404
    with_address = EXPORT_VARIANTS[variant]
    header = [heading for _key, heading in dashboard.case_export_columns(with_address=with_address)]
    rows = dashboard.case_export_rows(
        viewer=request.user, initiative=initiative, with_address=with_address
    )
    exports.export_log(
        actor=request.user,
        subject=initiative,
        export="crm.cases",
        details={
            "with_address": with_address,
            "format": fmt,
            "rows": dashboard.case_export_cases(viewer=request.user, initiative=initiative).count(),
        },
    )
    if with_address:
        # Names and addresses: an entry on each household the file holds (one query more).
        cases = dashboard.case_export_cases(viewer=request.user, initiative=initiative)
        listed(request, cases.values_list("household_id", flat=True), page="case_export")
    # Ids and the date only: file names end up in download lists and mail attachments.
    filename = f"aanmeldingen-{initiative.pk}-{variant}-{timezone.localdate():%Y-%m-%d}.{fmt}"
    if fmt == "csv":
        return exports.csv_response(header, rows, filename=filename)
    return exports.xlsx_response(header, rows, filename=filename, sheet=_("Cases"))
