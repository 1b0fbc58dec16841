"""The RVO monitoring of a NIP programme: the check before export, downloads, background files.

Only municipality staff have these pages: anyone else with a role gets a plain 403, as in
the CRM; a programme or export of another municipality is a 404. Every download is
recorded in the access log with codes and counts only. Exports of more homes than a
request should wait for are made by a Celery task; their file can be downloaded for a
day, then it is deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import access, exports
from accounts.roles import Role
from dossier.access_log import access_logged_list, listed
from nip import monitoring
from nip.models import ExportFormat, ExportStatus, MonitoringExport, Programme

if TYPE_CHECKING:
    import uuid

    from accounts.models import User

# The background exports the page lists.
RECENT_EXPORTS = 10
# The homes of the check the page lists by name; the rest are counted.
CHECK_LISTED = 200


def _staff(user: User) -> None:
    # Someone who is staff of no municipality has no monitoring at all; a programme of
    # another municipality is not found, whatever they are there.
    if not access.has_role(user, Role.MUNICIPALITY_STAFF):
        raise PermissionDenied


def _programme(request: HttpRequest, pk: int) -> Programme:
    _staff(request.user)
    return access.get_for(request.user, Programme, pk=pk)


def _export(request: HttpRequest, pk: uuid.UUID) -> MonitoringExport:
    _staff(request.user)
    return access.get_for(request.user, MonitoringExport.objects.select_related("programme"), pk=pk)


def _choices(periods: list[monitoring.Period]) -> list[tuple[str, str]]:
    return [(period.code, period.label) for period in periods]


class PeriodForm(forms.Form):
    """The reporting period, from the query string."""

    period = forms.ChoiceField(label=gettext_lazy("Reporting period"))

    def __init__(self, *args: Any, periods: list[monitoring.Period], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["period"].choices = _choices(periods)


class ExportForm(forms.Form):
    """A file to make in the background."""

    # The page's other form has a period too: the ids must differ.
    prefix = "export"

    period = forms.ChoiceField(label=gettext_lazy("Reporting period"))
    format = forms.ChoiceField(
        label=gettext_lazy("File type"),
        choices=[(value, label) for value, label in monitoring.FORMAT_LABELS.items()],
        initial=ExportFormat.XLSX,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, periods: list[monitoring.Period], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["period"].choices = _choices(periods)
        self.fields["period"].widget = forms.HiddenInput()


def _application_url(pk: int) -> str | None:
    # The application pages are another part of the NIP; until they exist the check names
    # the application by its number without a link.
    try:
        return reverse("nip:application-detail", args=[pk])
    except NoReverseMatch:
        return None


def _page(
    request: HttpRequest,
    programme: Programme,
    *,
    periods: list[monitoring.Period],
    period: monitoring.Period | None,
    period_form: PeriodForm,
    export_form: ExportForm | None = None,
    status: int = 200,
) -> HttpResponse:
    check = (
        monitoring.monitoring_check(programme=programme, period=period, limit=CHECK_LISTED)
        if period is not None
        else None
    )
    if period is not None and export_form is None:
        export_form = ExportForm(initial={"period": period.code}, periods=periods)
    return render(
        request,
        "nip/monitoring.html",
        {
            "programme": programme,
            "period_form": period_form,
            "period": period,
            "check": check,
            "listed": [(home, _application_url(home.application_id)) for home in check.listed]
            if check
            else [],
            "in_request": check is not None and check.homes <= monitoring.IN_REQUEST_MAX_HOMES,
            "in_request_max": monitoring.IN_REQUEST_MAX_HOMES,
            "export_form": export_form,
            "formats": list(monitoring.FORMAT_LABELS.items()),
            "exports": [
                (export, monitoring.monitoring_export_expired(export) or not export.file)
                for export in MonitoringExport.objects.filter(programme=programme)[:RECENT_EXPORTS]
            ],
            "download_hours": monitoring.DOWNLOAD_HOURS,
        },
        status=status,
    )


@require_GET
@login_required
@never_cache
def monitoring_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The check of a reporting period's homes, and the ways to download its file."""
    programme = _programme(request, pk)
    today = timezone.localdate()
    periods = monitoring.periods(programme=programme, today=today)
    # Unbound on the first visit, so the form shows its default instead of an error.
    form = PeriodForm(request.GET if "period" in request.GET else None, periods=periods)
    period = None
    if form.is_bound and form.is_valid():
        period = monitoring.period_by_code(
            form.cleaned_data["period"], programme=programme, today=today
        )
    if period is None:
        # An invalid choice counts as no choice (and the form says so).
        period = monitoring.default_period(periods, today=today)
        if not form.is_bound and period is not None:
            form = PeriodForm(initial={"period": period.code}, periods=periods)
    return _page(request, programme, periods=periods, period=period, period_form=form)


def _monitoring_url(programme: Programme, period: monitoring.Period) -> str:
    url = reverse("nip:monitoring", args=[programme.pk])
    return f"{url}?{urlencode({'period': period.code})}"


@access_logged_list("monitoring_export")
@require_GET
@login_required
@transaction.non_atomic_requests
def monitoring_download(
    request: HttpRequest, pk: int, period: str, fmt: str
) -> StreamingHttpResponse | FileResponse | HttpResponse:
    """The file of a period made while the request waits, for up to IN_REQUEST_MAX_HOMES homes.

    Outside the request transaction: a CSV file's rows are read while it streams, after
    the view has returned, and the log entry must stay even if the download breaks off.
    """
    programme = _programme(request, pk)
    chosen = monitoring.period_by_code(period, programme=programme, today=timezone.localdate())
    if chosen is None or fmt not in monitoring.EXPORT_FORMATS:
        raise Http404
    homes = monitoring.monitoring_homes(programme=programme, period=chosen).count()
    if homes > monitoring.IN_REQUEST_MAX_HOMES:
        messages.info(
            request,
            _(
                "This period has too many homes to make the file while you wait. "
                "Make it in the background below."
            ),
        )
        return redirect(_monitoring_url(programme, chosen))
    exports.export_log(
        actor=request.user,
        subject=programme,
        export="nip.monitoring",
        details={"period": chosen.code, "format": fmt, "rows": homes, "background": False},
    )
    applications = monitoring.monitoring_homes(programme=programme, period=chosen)
    listed(request, applications.only("pk", "household_id"), page="monitoring_export")
    header = monitoring.header(chosen)
    rows = monitoring.monitoring_rows(programme=programme, period=chosen)
    filename = monitoring.export_filename(programme, chosen, fmt)
    if fmt == ExportFormat.CSV:
        return exports.csv_response(header, rows, filename=filename)
    return exports.xlsx_response(header, rows, filename=filename, sheet=monitoring.SHEET)


@require_POST
@login_required
def monitoring_export_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Start making a period's file in the background and go to its progress."""
    programme = _programme(request, pk)
    today = timezone.localdate()
    periods = monitoring.periods(programme=programme, today=today)
    form = ExportForm(request.POST, periods=periods)
    period = (
        monitoring.period_by_code(form.cleaned_data["period"], programme=programme, today=today)
        if form.is_valid()
        else None
    )
    if period is None:
        messages.error(request, _("Choose a reporting period and a file type."))
        shown = monitoring.default_period(periods, today=today)
        period_form = PeriodForm(initial={"period": shown.code} if shown else None, periods=periods)
        return _page(
            request,
            programme,
            periods=periods,
            period=shown,
            period_form=period_form,
            export_form=form,
            status=400,
        )
    export = monitoring.monitoring_export_request(
        programme=programme, period=period, fmt=form.cleaned_data["format"], actor=request.user
    )
    return redirect("nip:monitoring-export", export=export.pk)


def _progress_context(export: MonitoringExport) -> dict[str, Any]:
    total = export.rows_total
    return {
        "export": export,
        "period": monitoring.Period(export.period_start, export.period_end),
        "busy": export.status in (ExportStatus.QUEUED, ExportStatus.RUNNING),
        "expired": monitoring.monitoring_export_expired(export) or not export.file,
        "percent": round(100 * export.rows_done / total) if total else 0,
    }


@require_GET
@login_required
@never_cache
def monitoring_export(request: HttpRequest, export: uuid.UUID) -> HttpResponse:
    """A background export's progress and, once made, its download link (htmx polls it)."""
    found = _export(request, export)
    context = _progress_context(found)
    if request.htmx:
        return render(request, "nip/export_progress.html", context)
    return render(request, "nip/export_status.html", context)


@access_logged_list("monitoring_export")
@require_GET
@login_required
@never_cache
def monitoring_export_download(request: HttpRequest, export: uuid.UUID) -> HttpResponse:
    """The file of a finished background export, until it expires (then 410 Gone)."""
    found = _export(request, export)
    if found.status != ExportStatus.DONE:
        return redirect("nip:monitoring-export", export=found.pk)
    period = monitoring.Period(found.period_start, found.period_end)
    if monitoring.monitoring_export_expired(found) or not found.file:
        return render(
            request,
            "nip/export_gone.html",
            {"export": found, "period": period, "download_hours": monitoring.DOWNLOAD_HOURS},
            status=410,
        )
    try:
        handle = found.file.open("rb")
    except FileNotFoundError:
        return render(
            request,
            "nip/export_gone.html",
            {"export": found, "period": period, "download_hours": monitoring.DOWNLOAD_HOURS},
            status=410,
        )
    exports.export_log(
        actor=request.user,
        subject=found.programme,
        export="nip.monitoring",
        details={
            "period": period.code,
            "format": found.format,
            "rows": found.rows_total,
            "background": True,
        },
    )
    # The homes of the file's period (the file itself holds no ids to read them from).
    homes = monitoring.monitoring_homes(programme=found.programme, period=period)
    listed(request, homes.only("pk", "household_id"), page="monitoring_export")
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=monitoring.export_filename(found.programme, period, found.format),
        content_type=monitoring.CONTENT_TYPES[found.format],
    )
    exports.download_headers(response)
    return response
