"""The advice page (every figure unfolds to its formula and inputs) and the advice reports."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import access
from accounts.access import Action
from dossier import advice, advice_reports
from dossier.access_log import access_logged
from dossier.exchange_views import private_file_response
from dossier.forms import ReportRequestForm
from dossier.models import Dossier, MeasureType, ReportStatus


@access_logged("advice")
@require_GET
@login_required
@never_cache
def dossier_advice(request: HttpRequest, pk: int) -> HttpResponse:
    result = advice.dossier_advice(viewer=request.user, pk=pk)
    names = dict(MeasureType.objects.values_list("code", "name"))
    by_code = {m.measure_type.code: m for m in result.page.measures}
    rows = [
        {
            "result": measure,
            "name": names.get(measure.code, measure.code),
            "dossier_measure": by_code.get(measure.code),
        }
        for measure in result.calculation.measures
    ]
    # Measures that save something first, the quickest payback on top.
    rows.sort(
        key=lambda r: (
            not r["result"].applicable,
            r["result"].payback_years.value is None,
            r["result"].payback_years.value or 0,
        )
    )
    return render(
        request,
        "dossier/dossier_advice.html",
        {
            "dossier": result.page.dossier,
            "household": result.page.household,
            "advice": result,
            "rows": rows,
            "plan_names": [names.get(code, code) for code in result.plan.codes],
        },
    )


# Advice reports ------------------------------------------------------------------------


def _load(request: HttpRequest, pk: int, *, write: bool = False) -> Dossier:
    dossier = access.get_for(
        request.user,
        Dossier.objects.select_related("household__initiative").prefetch_related(
            "household__residents"
        ),
        action=Action.CHANGE if write else Action.VIEW,
        pk=pk,
    )
    if write and not access.is_staff_viewer(
        request.user, residents=dossier.household.residents.all()
    ):
        # Residents read their reports; only their coach or coordinator makes one.
        raise PermissionDenied
    return dossier


def _report_context(request: HttpRequest, dossier: Dossier, **extra: Any) -> dict[str, Any]:
    staff = access.is_staff_viewer(request.user, residents=dossier.household.residents.all())
    rows = list(advice_reports.report_list(dossier=dossier, viewer=request.user))
    now = timezone.now()
    return {
        "dossier": dossier,
        "household": dossier.household,
        "staff": staff,
        "reports": [{"report": r, "stuck": advice_reports.is_stuck(r, now=now)} for r in rows],
        # The list asks again every few seconds while a report is being made.
        "polling": any(r.in_progress for r in rows),
        **extra,
    }


@access_logged("reports")
@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def dossier_reports(request: HttpRequest, pk: int) -> HttpResponse:
    dossier = _load(request, pk, write=request.method == "POST")
    staff = access.is_staff_viewer(request.user, residents=dossier.household.residents.all())
    form = None
    if staff and access.allows(request.user, dossier, Action.CHANGE):
        form = ReportRequestForm(
            request.POST or None, recipients=advice_reports.recipients(dossier=dossier)
        )
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            advice_reports.report_request(
                dossier=dossier,
                actor=request.user,
                summary=form.cleaned_data["summary"],
                delivery=form.cleaned_data["delivery"],
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error("delivery", message)
        except advice.NoParameters:
            form.add_error(None, _("There are no calculation parameters in force today."))
        else:
            messages.success(
                request, _("The report is being made. This page shows when it is ready.")
            )
            return redirect("dossier:dossier-reports", pk=dossier.pk)
    return render(
        request, "dossier/dossier_reports.html", _report_context(request, dossier, form=form)
    )


@access_logged("reports")
@require_GET
@login_required
@never_cache
def report_progress(request: HttpRequest, pk: int) -> HttpResponse:
    dossier = _load(request, pk)
    return render(request, "dossier/partials/report_list.html", _report_context(request, dossier))


def _report_action(request: HttpRequest, pk: int, report_pk: int, action: Any) -> HttpResponse:
    dossier = _load(request, pk, write=True)
    report = advice_reports.report_get(
        dossier=dossier, viewer=request.user, pk=report_pk, write=True
    )
    try:
        action(report=report, actor=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    if request.htmx:
        return render(
            request, "dossier/partials/report_list.html", _report_context(request, dossier)
        )
    return redirect("dossier:dossier-reports", pk=dossier.pk)


@require_POST
@login_required
def report_retry(request: HttpRequest, pk: int, report_pk: int) -> HttpResponse:
    return _report_action(request, pk, report_pk, advice_reports.report_retry)


@require_POST
@login_required
def report_printed(request: HttpRequest, pk: int, report_pk: int) -> HttpResponse:
    return _report_action(request, pk, report_pk, advice_reports.report_mark_printed)


@access_logged("report_pdf")
@require_GET
@login_required
@never_cache
def report_file(request: HttpRequest, pk: int, report_pk: int) -> FileResponse:
    dossier = _load(request, pk)
    report = advice_reports.report_get(dossier=dossier, viewer=request.user, pk=report_pk)
    if report.status != ReportStatus.DONE or not report.pdf:
        raise Http404
    return private_file_response(
        report.pdf,
        content_type="application/pdf",
        filename=advice_reports.report_filename(report),
        attachment=True,
    )
